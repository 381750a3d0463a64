package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// audited embeds the service's own operations and overrides one.
type audited struct {
	apiserver.StrictServerInterface
	creates *atomic.Int32
}

func (a audited) CreateWebhook(ctx context.Context, req apiserver.CreateWebhookRequestObject) (apiserver.CreateWebhookResponseObject, error) {
	a.creates.Add(1)
	return a.StrictServerInterface.CreateWebhook(ctx, req)
}

// listOnly serves one operation; the rest answer 501.
type listOnly struct{ server.Unimplemented }

func (listOnly) ListWebhooks(ctx context.Context, _ apiserver.ListWebhooksRequestObject) (apiserver.ListWebhooksResponseObject, error) {
	name := "only for " + server.AccountFrom(ctx).ID
	return apiserver.ListWebhooks200JSONResponse{Success: true, Webhooks: []models.Webhook{{Name: name, Events: []models.SubscribableEventType{}}}}, nil
}

func serveWith(t *testing.T, handlers func(apiserver.StrictServerInterface) apiserver.StrictServerInterface) (string, *server.Bootstrap) {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(t.Context(), server.Config{SecretKey: make([]byte, 32), RateLimit: -1, Handlers: handlers,
		Logger: slog.New(slog.DiscardHandler)}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), srv.Bootstrap
}

// TestCustomHandlersKeepTheMiddleware: an implementation of the generated
// interface given through Config.Handlers gets authenticated, validated
// requests only, and its errors in the API's shape.
func TestCustomHandlersKeepTheMiddleware(t *testing.T) {
	t.Run("override one operation", func(t *testing.T) {
		var creates atomic.Int32
		url, boot := serveWith(t, func(ours apiserver.StrictServerInterface) apiserver.StrictServerInterface {
			return audited{ours, &creates}
		})
		c, _ := client.New(url, boot.APIKey)
		if _, err := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "audited", URL: "https://example.com/h",
			Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
			t.Fatal(err)
		}
		if list, err := c.ListWebhooks(t.Context()); err != nil || len(list) != 1 {
			t.Fatalf("the delegated list: %d (%v)", len(list), err)
		}
		// Refused before the override runs: no key, and an invalid body.
		for _, tc := range []struct {
			key, body string
			want      int
		}{{"", `{"name":"x","url":"https://example.com/h","events":["outbound.delivered"]}`, 401}, {boot.APIKey, `{"name":"x"}`, 400}} {
			req, _ := http.NewRequest("POST", url+"/webhooks", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("create (key %v, body %s): %d, want %d", tc.key != "", tc.body, resp.StatusCode, tc.want)
			}
		}
		if n := creates.Load(); n != 1 {
			t.Errorf("the override ran %d times, want once (refused requests never reach it)", n)
		}
	})
	t.Run("unimplemented base", func(t *testing.T) {
		url, boot := serveWith(t, func(apiserver.StrictServerInterface) apiserver.StrictServerInterface { return listOnly{} })
		do := func(method, path, key string) (int, map[string]any) {
			req, _ := http.NewRequest(method, url+path, nil)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: not JSON: %s", method, path, b)
			}
			return resp.StatusCode, m
		}
		if code, m := do("GET", "/webhooks", boot.APIKey); code != 200 || !strings.Contains(mustMarshal(m), "only for "+boot.AccountID) {
			t.Errorf("the implemented operation: %d %v", code, m)
		}
		if code, m := do("GET", "/webhooks/00000000-0000-4000-8000-000000000001", boot.APIKey); code != 501 || m["success"] != false || m["error"] == "" {
			t.Errorf("an unimplemented operation: %d %v, want 501 in the error shape", code, m)
		}
		if code, _ := do("GET", "/webhooks", ""); code != 401 {
			t.Errorf("without a key: %d, want 401", code)
		}
	})
}

func mustMarshal(v any) string { b, _ := json.Marshal(v); return string(b) }
