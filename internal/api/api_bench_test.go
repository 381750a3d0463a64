package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/cache"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/internal/secretbox"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// The API benchmarks drive requests through http.Handler.ServeHTTP with an
// httptest.ResponseRecorder: no network, so ns/op is the stack's own cost.
//
//   - bare: a bare Echo route answering the recorded JSON bytes of the same
//     GET — routing and writing, nothing else. The floor.
//   - validated: api.New over SQLite as the service runs it (secrets
//     sealed, API keys and webhooks cached for 2 s): OpenAPI request
//     validation, API-key authentication, the handler, the store, the
//     response.
//   - validated-uncached: the same with both reads a GET makes (the API
//     key's account, the webhook) going to SQLite every time, as on
//     PostgreSQL by default.
//   - server: server.New's handler, which adds the metrics middleware and
//     the operational routes — exactly what `jetwebhooks serve` runs.
//
// The target is validated ≥ 50 % of bare in ops/s, i.e. validated ns/op ≤
// 2 × bare ns/op.

const benchCreateBody = `{"name":"Bench Webhook","url":"https://example.com/webhook","events":["outbound.delivered","outbound.bounced"]}`

// benchStack is one handler with an API key and an existing webhook.
type benchStack struct {
	h    http.Handler
	key  string
	uuid string
}

func benchQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// benchValidated builds api.New over SQLite as server.New does: secrets
// sealed, API keys and webhooks cached (see package cache), without the
// server's extra middleware.
func benchValidated(b *testing.B) *benchStack { return benchAPIStack(b, true) }

// benchUncached is benchValidated with every read going to SQLite.
func benchUncached(b *testing.B) *benchStack { return benchAPIStack(b, false) }

func benchAPIStack(b *testing.B, cached bool) *benchStack {
	b.Helper()
	ctx := context.Background()
	raw, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "api.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	st := secretbox.Wrap(raw, box)
	if cached {
		st = cache.Wrap(st, cache.Options{KeyTTL: 2 * time.Second, WebhookTTL: 2 * time.Second})
	}
	_, key, err := accounts.Create(ctx, st, "bench", []string{"api-user"}, []string{"example.com"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	a, err := api.New(ctx, api.Config{IngestToken: "ing_bench_token_0123456789", Egress: egress.NewPolicy(nil),
		RateLimit: -1, Logger: benchQuietLogger()}, st, &ingest.Publisher{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	s := &benchStack{h: a, key: key}
	s.uuid = s.create(b)
	if rec := s.do(http.MethodGet, "/webhooks/"+s.uuid, ""); rec.Code != http.StatusOK { // primes the lookups
		b.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	return s
}

// benchServer builds the whole server.New handler.
func benchServer(b *testing.B) *benchStack {
	b.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "srv.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv, err := server.New(ctx, server.Config{SecretKey: bytes.Repeat([]byte{7}, 32), IngestToken: "ing_bench_token_0123456789",
		RateLimit: -1, Logger: benchQuietLogger()}, st)
	if err != nil {
		b.Fatal(err)
	}
	s := &benchStack{h: srv.Handler(), key: srv.Bootstrap.APIKey}
	s.uuid = s.create(b)
	return s
}

// create POSTs a webhook and returns its uuid.
func (s *benchStack) create(b *testing.B) string {
	b.Helper()
	rec := s.do(http.MethodPost, "/webhooks", benchCreateBody)
	if rec.Code != http.StatusOK {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var out struct {
		Webhook struct {
			UUID string `json:"uuid"`
		} `json:"webhook"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Webhook.UUID == "" {
		b.Fatalf("create: %v %s", err, rec.Body)
	}
	return out.Webhook.UUID
}

func (s *benchStack) do(method, path, body string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

func benchGet(b *testing.B, s *benchStack) {
	path := "/webhooks/" + s.uuid
	if rec := s.do(http.MethodGet, path, ""); rec.Code != http.StatusOK {
		b.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec := s.do(http.MethodGet, path, ""); rec.Code != http.StatusOK {
			b.Fatalf("GET: %d", rec.Code)
		}
	}
}

// BenchmarkGetWebhook is GET /webhooks/{uuid}: bare Echo, validated API,
// whole server.
func BenchmarkGetWebhook(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		// The same answer the validated stack gives, from a route that does
		// nothing but send it.
		v := benchValidated(b)
		rec := v.do(http.MethodGet, "/webhooks/"+v.uuid, "")
		if rec.Code != http.StatusOK {
			b.Fatalf("GET: %d", rec.Code)
		}
		body := rec.Body.Bytes()
		e := echo.New()
		e.GET("/webhooks/:uuid", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) })
		benchGet(b, &benchStack{h: e, key: v.key, uuid: v.uuid})
	})
	b.Run("validated", func(b *testing.B) { benchGet(b, benchValidated(b)) })
	b.Run("validated-uncached", func(b *testing.B) { benchGet(b, benchUncached(b)) })
	b.Run("server", func(b *testing.B) { benchGet(b, benchServer(b)) })
}

// BenchmarkCreateWebhook is POST /webhooks: validation, secret generation
// and sealing, one SQLite insert (a commit, synchronous=FULL) per op.
func BenchmarkCreateWebhook(b *testing.B) {
	for name, mk := range map[string]func(*testing.B) *benchStack{"validated": benchValidated, "server": benchServer} {
		b.Run(name, func(b *testing.B) {
			s := mk(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if rec := s.do(http.MethodPost, "/webhooks", benchCreateBody); rec.Code != http.StatusOK {
					b.Fatalf("POST: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
