package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// embedded is a server embedded under /hooks in someone else's program:
// its Handler on their router, RunBackground beside it.
type embedded struct {
	srv   *server.Server
	url   string // the host program's base URL
	clock *clock
}

func embed(t *testing.T, mount func(h http.Handler) http.Handler) *embedded {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "e.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ck := &clock{}
	srv, err := server.New(t.Context(), server.Config{
		BasePath: "/hooks", SecretKey: []byte("0123456789abcdef0123456789abcdef"), RateLimit: -1,
		MaintenanceInterval: 10 * time.Millisecond, Now: ck.Now, Logger: slog.New(slog.DiscardHandler),
		OnContractViolation: func(v contract.Violation) { t.Errorf("contract violation: %s", v) },
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mount(srv.Handler()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.RunBackground(ctx) }()
	t.Cleanup(func() {
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunBackground: %v", err)
		}
	})
	return &embedded{srv: srv, url: hs.URL, clock: ck}
}

// TestEmbeddedUnderAPrefix mounts the server under /hooks on a net/http mux
// and in an Echo app, beside the host's own routes: the API, the spec, the
// docs and their links, health and metrics all work under the prefix, and
// maintenance runs on this path too (RunBackground, not only Serve).
func TestEmbeddedUnderAPrefix(t *testing.T) {
	mounts := map[string]func(h http.Handler) http.Handler{
		"net/http": func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "host home") })
			mux.Handle("/hooks/", h)
			return mux
		},
		"echo": func(h http.Handler) http.Handler {
			e := echo.New()
			e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "host home") })
			e.Any("/hooks/*", echo.WrapHandler(h))
			return e
		},
	}
	for name, mount := range mounts {
		t.Run(name, func(t *testing.T) {
			e := embed(t, mount)
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			fetch := func(path string) (int, string, http.Header) {
				t.Helper()
				resp, err := noRedirect.Get(e.url + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), resp.Header
			}
			if code, body, _ := fetch("/"); code != 200 || body != "host home" {
				t.Errorf("host route: %d %q", code, body)
			}
			spec, _ := os.ReadFile(filepath.Join("..", "openapi.yaml"))
			if code, body, _ := fetch("/hooks/openapi.yaml"); code != 200 || body != string(spec) {
				t.Errorf("/hooks/openapi.yaml: %d", code)
			}
			if code, _, _ := fetch("/hooks/openapi.json"); code != 200 {
				t.Errorf("/hooks/openapi.json: %d", code)
			}
			if code, _, h := fetch("/hooks/docs"); code != http.StatusMovedPermanently || h.Get("Location") != "/hooks/docs/" {
				t.Errorf("/hooks/docs: %d to %q, want a redirect to /hooks/docs/", code, h.Get("Location"))
			}
			if code, body, _ := fetch("/hooks/docs/"); code != 200 || !strings.Contains(body, "/hooks/openapi.json") {
				t.Errorf("/hooks/docs/: %d, the page does not load /hooks/openapi.json", code)
			}
			for _, p := range []string{"/hooks/healthz", "/hooks/readyz"} {
				if code, _, _ := fetch(p); code != 200 {
					t.Errorf("%s: %d", p, code)
				}
			}
			if code, body, _ := fetch("/hooks/metrics"); code != 200 || !strings.Contains(body, "jetwebhooks_") {
				t.Errorf("/hooks/metrics: %d", code)
			}
			if code, body, h := fetch("/hooks/nope"); code != 404 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("/hooks/nope: %d %s", code, body)
			}

			c, err := client.New(e.url+"/hooks", e.srv.Bootstrap.APIKey)
			if err != nil {
				t.Fatal(err)
			}
			w, err := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "embedded", URL: "https://example.com/hook",
				Events: []client.SubscribableEventType{"outbound.delivered"}})
			if err != nil {
				t.Fatal(err)
			}
			if list, err := c.ListWebhooks(t.Context()); err != nil || len(list) != 1 {
				t.Fatalf("list under the prefix: %d (%v)", len(list), err)
			}
			// Maintenance runs beside the embedded handler: the rotated-out
			// secret is erased once its grace has passed.
			if _, err := c.RotateSecret(t.Context(), w.UUID.String(), time.Minute); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(2 * time.Minute)
			waitFor(t, "maintenance to erase the rotated-out secret", func() bool {
				got, err := c.GetWebhook(t.Context(), w.UUID.String())
				return err == nil && got.PreviousSecretExpiresAt.IsNull()
			})
		})
	}
}
