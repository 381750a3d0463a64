package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// exerciseHeaderValues (part of TestNoSecretInClearAtRest) creates webhooks
// with custom headers, with and without an Idempotency-Key, replaces and
// clears them, and returns every value it used: none may be stored in
// clear.
func exerciseHeaderValues(t *testing.T, c *client.Client) []string {
	t.Helper()
	ctx := t.Context()
	value := func() string {
		b := make([]byte, 12)
		rand.Read(b)
		return "hv_" + hex.EncodeToString(b)
	}
	var values []string
	headers := func() map[string]string {
		h := map[string]string{"Authorization": "Bearer " + value(), "X-Api-Key": value()}
		for _, v := range h {
			values = append(values, strings.TrimPrefix(v, "Bearer "))
		}
		return h
	}
	req := func(name string) client.CreateWebhookRequest {
		return client.CreateWebhookRequest{Name: name, URL: "https://example.com/" + name,
			Events: []client.SubscribableEventType{"outbound.delivered"}, Headers: client.Headers(headers())}
	}
	keyed := req("headed-keyed")
	w, err := c.CreateWebhook(ctx, keyed, client.WithIdempotencyKey("at-rest-headers"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWebhook(ctx, keyed, client.WithIdempotencyKey("at-rest-headers")); err != nil { // a replay
		t.Fatal(err)
	}
	other, err := c.CreateWebhook(ctx, req("headed"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: w.UUID, Headers: client.SetHeaders(headers())}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: other.UUID, Headers: client.ClearHeaders()}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetWebhook(ctx, w.UUID.String())
	if err != nil || got.Headers == nil || len(*got.Headers) != 2 {
		t.Fatalf("headers after the updates: %+v, %v", got, err)
	}
	return values
}

// TestCustomHeadersEndToEnd runs the server as operators do (sealed store,
// cache, engine), on SQLite and PostgreSQL, with a webhook whose headers
// reach a real receiver that fails, then succeeds after the headers change:
// every attempt carries the headers the webhook had when it went out, and
// no header value ever reaches the log, on the success path or the failure
// path (failed attempts, refused requests).
func TestCustomHeadersEndToEnd(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testCustomHeadersEndToEnd(t, filepath.Join(t.TempDir(), "h.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testCustomHeadersEndToEnd(t, pgtest.Database(t))
	})
}

func testCustomHeadersEndToEnd(t *testing.T, dsn string) {
	ctx := t.Context()
	var (
		mu     sync.Mutex
		got    []http.Header
		answer = http.StatusServiceUnavailable
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, r.Header.Clone())
		code := answer
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer rcv.Close()
	received := func() []http.Header {
		mu.Lock()
		defer mu.Unlock()
		return append([]http.Header(nil), got...)
	}

	logs := &syncBuffer{}
	st, err := server.OpenStore(ctx, dsn, "NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := server.New(ctx, server.Config{
		SecretKey: []byte("0123456789abcdef0123456789abcdef"), RateLimit: -1,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		EgressAllow:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		RetrySchedule: []time.Duration{0, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond},
		PollInterval:  20 * time.Millisecond, DeliveryTimeout: 2 * time.Second,
		OnContractViolation: func(v contract.Violation) { t.Errorf("contract violation: %s", v) },
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(sctx, ln); close(done) }()
	defer func() { cancel(); <-done }()
	c, err := client.New("http://"+ln.Addr().String(), srv.Bootstrap.APIKey, client.WithIngestToken(srv.Bootstrap.IngestToken))
	if err != nil {
		t.Fatal(err)
	}

	first := map[string]string{"Authorization": "Bearer e2e-first-h1dden", "x-tenant": "e2e-tenant-h1dden"}
	w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "E2E", URL: rcv.URL + "/hook",
		Events: []client.SubscribableEventType{"outbound.delivered"}, Headers: client.Headers(first)})
	if err != nil {
		t.Fatal(err)
	}
	if w.Headers == nil || !maps.Equal(map[string]string(*w.Headers), first) {
		t.Fatalf("create answered %v", w.Headers)
	}
	// A refused update is logged nowhere with its value either.
	if err := c.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: w.UUID,
		Headers: client.SetHeaders(map[string]string{"Host": "e2e-refused-h1dden"})}); err == nil {
		t.Fatal("Host accepted")
	}
	if _, err := c.PublishEvent(ctx, client.Event{AccountID: srv.Bootstrap.AccountID, Type: "outbound.delivered"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "two failed attempts", func() bool { return len(received()) >= 2 })

	second := map[string]string{"X-Route": "e2e-second-h1dden"}
	if err := c.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: w.UUID, Headers: client.SetHeaders(second)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	answer = http.StatusOK
	n := len(got)
	mu.Unlock()
	waitUntil(t, "a successful attempt", func() bool {
		hs := received()
		return len(hs) > n && hs[len(hs)-1].Get("X-Route") != ""
	})
	hs := received()
	for i, h := range hs {
		switch {
		case h.Get("X-Route") == "e2e-second-h1dden":
			if h.Get("Authorization") != "" || h.Get("X-Tenant") != "" {
				t.Errorf("attempt %d mixes the old and new headers: %v", i+1, h)
			}
		case h.Get("Authorization") != "Bearer e2e-first-h1dden" || h.Get("X-Tenant") != "e2e-tenant-h1dden":
			t.Errorf("attempt %d lacks the headers: %v", i+1, h)
		}
		if h.Get("Content-Type") != "application/json" || h.Get("Webhook-Signature") == "" || h.Get("X-Webhook-Signature") == "" {
			t.Errorf("attempt %d lacks the service's headers: %v", i+1, h)
		}
	}
	log := logs.String()
	if !strings.Contains(log, "delivery attempt failed") {
		t.Errorf("the failed attempts were not logged:\n%s", log)
	}
	if strings.Contains(log, "h1dden") {
		t.Errorf("a header value reached the log:\n%s", log)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
