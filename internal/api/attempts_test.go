package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// runEngineWith runs a delivery engine of its own on the env's store, with
// the env's fast schedule adjusted by mod, until the test ends.
func (e *env) runEngineWith(mod func(*delivery.Config)) {
	e.t.Helper()
	cfg := delivery.Config{
		Client:       loopbackPolicy().NewClient(2 * time.Second),
		Timeout:      2 * time.Second,
		Schedule:     testSchedule,
		Jitter:       -1,
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(e.log, nil)),
	}
	mod(&cfg)
	eng, err := delivery.New(e.st, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// countingServer answers with h and counts its requests.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// closedPort is a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	return url
}

const destinationRefusedText = egress.RefusedMessage

// TestDeliveryFailureReasons: for each way a receiver can fail, through the
// real stack (ingest, engine, real receivers, store, API), the query record's
// last_attempt and every entry of the attempts list carry the right class,
// status code, safe message and body excerpt.
func TestDeliveryFailureReasons(t *testing.T) {
	t.Parallel()
	// A 2-byte rune straddles byte 1024 of the answer: the excerpt stops
	// before it rather than split it.
	longBody := strings.Repeat("a", 1023) + "é and then the rest"
	cases := []struct {
		name    string
		url     func(t *testing.T) (url string, hits func() int64)
		engine  func(*delivery.Config)
		code    int // 0: null
		class   client.ErrorClass
		err     func(url string) string // the message before the dead-letter note
		excerpt string
	}{
		{
			name: "5xx with a body",
			url: func(t *testing.T) (string, func() int64) {
				srv, n := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = io.WriteString(w, longBody)
				})
				return srv.URL + "/hook", n.Load
			},
			code: 500, class: "http_status", err: func(string) string { return "HTTP 500" }, excerpt: strings.Repeat("a", 1023),
		},
		{
			name: "timeout",
			url: func(t *testing.T) (string, func() int64) {
				srv, n := countingServer(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
				return srv.URL + "/hook", n.Load
			},
			engine: func(c *delivery.Config) {
				c.Timeout = 300 * time.Millisecond
				c.Client = loopbackPolicy().NewClient(c.Timeout)
			},
			class: "timeout", err: func(string) string { return "timed out after 300ms" },
		},
		{
			name: "connection refused",
			url: func(t *testing.T) (string, func() int64) {
				return closedPort(t), nil
			},
			class: "connection_refused", err: func(string) string { return "connection refused" },
		},
		{
			name: "redirect",
			url: func(t *testing.T) (string, func() int64) {
				target, tn := countingServer(t, func(http.ResponseWriter, *http.Request) {})
				srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/moved", http.StatusFound)
				})
				t.Cleanup(func() {
					if n := tn.Load(); n != 0 {
						t.Errorf("the redirect was followed: its target got %d requests", n)
					}
				})
				return srv.URL + "/hook", nil
			},
			code: 302, class: "redirect",
			err: func(string) string { return "HTTP 302 redirect not followed: Location http://127.0.0.1:" },
		},
		{
			name: "response too large",
			url: func(t *testing.T) (string, func() int64) {
				srv, n := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
					_, _ = io.WriteString(w, strings.Repeat("z", 5000))
				})
				return srv.URL + "/hook", n.Load
			},
			engine: func(c *delivery.Config) { c.MaxResponseSize = 4096 },
			code:   200, class: "response_too_large",
			err:     func(string) string { return "HTTP 200 with a response body over 4096 bytes" },
			excerpt: strings.Repeat("z", 1024),
		},
		{
			name: "refused by the egress policy",
			url: func(t *testing.T) (string, func() int64) {
				srv, n := countingServer(t, func(http.ResponseWriter, *http.Request) {})
				t.Cleanup(func() {
					if n.Load() != 0 {
						t.Errorf("the refused receiver got %d requests", n.Load())
					}
				})
				return srv.URL + "/hook", nil
			},
			engine: func(c *delivery.Config) { c.Client = egress.NewPolicy(nil).NewClient(c.Timeout) },
			class:  "destination_refused", err: func(string) string { return destinationRefusedText },
		},
		{
			// Indistinguishable from the egress refusal above.
			name: "unresolvable name",
			url: func(t *testing.T) (string, func() int64) {
				return "http://nonexistent.invalid/hook", nil
			},
			class: "destination_refused", err: func(string) string { return destinationRefusedText },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, allowLoopback)
			url, _ := tc.url(t)
			var hook *client.Webhook
			if strings.HasSuffix(url, ".invalid/hook") {
				// The API refuses such a name when it is saved; a name that
				// stopped resolving since is the case at delivery.
				hook = e.hookTo(e.A, "Failing", "https://resolved-once.example/hook", "outbound.delivered")
				if _, err := e.st.UpdateWebhook(t.Context(), &store.UpdateWebhookParams{AccountID: e.A.ID, UUID: hook.UUID.String(),
					URL: &url, Now: e.clock.Now()}); err != nil {
					t.Fatal(err)
				}
			} else {
				hook = e.hookTo(e.A, "Failing", url, "outbound.delivered")
			}
			mod := tc.engine
			if mod == nil {
				mod = func(*delivery.Config) {}
			}
			e.runEngineWith(mod)
			ev := e.publish(client.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("api-user")})

			var rec client.EventRecord
			waitFor(t, "the delivery to fail for good", func() bool {
				rec = e.testRecord(e.A, ev.EventID)
				return rec.LatestStatus == "failed"
			})
			attempts := len(testSchedule)
			if rec.TotalAttempts != attempts {
				t.Errorf("total_attempts = %d, want %d", rec.TotalAttempts, attempts)
			}
			la, err := rec.LastAttempt.Get()
			if err != nil {
				t.Fatalf("last_attempt is null after %d attempts", rec.TotalAttempts)
			}
			wantErr := tc.err(url)
			check := func(where string, a client.DeliveryAttempt, last bool) {
				t.Helper()
				code, cerr := a.StatusCode.Get()
				if tc.code == 0 && cerr == nil || tc.code != 0 && code != tc.code {
					t.Errorf("%s: status_code %v, want %d (0: null)", where, a.StatusCode, tc.code)
				}
				if class := a.ErrorClass; class == nil || string(*class) != string(tc.class) {
					t.Errorf("%s: error_class %v, want %q", where, class, tc.class)
				}
				msg, _ := a.Error.Get()
				if !strings.HasPrefix(msg, wantErr) {
					t.Errorf("%s: error %q, want it to start with %q", where, msg, wantErr)
				}
				if last != strings.HasSuffix(msg, "(retries exhausted; dead-lettered)") {
					t.Errorf("%s: error %q: the dead-letter note belongs to the last attempt only", where, msg)
				}
				if a.ResponseBody != tc.excerpt {
					t.Errorf("%s: response_body %q (%d bytes), want %q", where, a.ResponseBody, len(a.ResponseBody), tc.excerpt)
				}
				if a.DurationMs < 0 || a.At < startUnix-1 {
					t.Errorf("%s: at %d, duration %d ms", where, a.At, a.DurationMs)
				}
			}
			check("last_attempt", la, true)
			if la.Attempt != attempts {
				t.Errorf("last_attempt.attempt = %d, want %d", la.Attempt, attempts)
			}

			list, err := e.A.C.ListDeliveryAttempts(t.Context(), hook.UUID.String(), ev.EventID)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != attempts {
				t.Fatalf("%d attempts listed, want %d", len(list), attempts)
			}
			for i, a := range list {
				if a.Attempt != i+1 {
					t.Errorf("attempt %d numbered %d", i+1, a.Attempt)
				}
				check("attempt "+string(rune('1'+i)), a, i == attempts-1)
			}
			if list[attempts-1].At < list[0].At {
				t.Errorf("attempts not oldest first: %d then %d", list[0].At, list[attempts-1].At)
			}
			if tc.class == "redirect" && !strings.Contains(mustString(la.Error.Get()), "/moved") {
				t.Errorf("the redirect's error %q does not name its target", mustString(la.Error.Get()))
			}
		})
	}
}

func mustString(s string, _ error) string { return s }

// TestDeliveryAttemptsPaging: the attempts list pages with limit and cursor
// like GET /webhooks, refuses a cursor it did not issue, and answers 404 for
// a delivery the account does not have; a success is listed without class
// or error, and a pending delivery has no last_attempt.
func TestDeliveryAttemptsPaging(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	var calls atomic.Int64
	srv, _ := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "busy")
			return
		}
		_, _ = io.WriteString(w, "done")
	})
	hook := e.hookTo(e.A, "Flaky", srv.URL+"/hook", "outbound.delivered")
	ev := e.publish(client.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("api-user")})
	if rec := e.testRecord(e.A, ev.EventID); !rec.LastAttempt.IsNull() {
		t.Errorf("a pending delivery's last_attempt = %v, want null", rec.LastAttempt)
	}
	path := "/webhooks/" + hook.UUID.String() + "/events/" + ev.EventID + "/attempts"
	if got := e.doJSON(rawReq{method: "GET", path: path}, http.StatusOK); len(got["attempts"].([]any)) != 0 || got["next_cursor"] != nil {
		t.Errorf("a pending delivery's attempts = %v, want none", got)
	}

	e.runEngineWith(func(*delivery.Config) {})
	waitFor(t, "the delivery to succeed", func() bool { return e.testRecord(e.A, ev.EventID).LatestStatus == "success" })

	var seen []float64
	cursor := ""
	for page := 0; ; page++ {
		q := "?limit=1"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		got := e.doJSON(rawReq{method: "GET", path: path + q}, http.StatusOK)
		items := got["attempts"].([]any)
		if len(items) != 1 {
			t.Fatalf("page %d: %d attempts, want 1", page, len(items))
		}
		a := items[0].(map[string]any)
		seen = append(seen, a["attempt"].(float64))
		next, _ := got["next_cursor"].(string)
		if page == 2 {
			if next != "" {
				t.Errorf("the last page has a next_cursor")
			}
			if a["status_code"] != float64(200) || a["error_class"] != nil || a["error"] != nil || a["response_body"] != "done" {
				t.Errorf("the successful attempt = %v, want 200, no class, no error, its answer", a)
			}
			break
		}
		if a["status_code"] != float64(503) || a["error_class"] != "http_status" || a["error"] != "HTTP 503" || a["response_body"] != "busy" {
			t.Errorf("failed attempt %v", a)
		}
		if next == "" {
			t.Fatalf("page %d has no next_cursor", page)
		}
		cursor = next
	}
	if b, _ := json.Marshal(seen); string(b) != "[1,2,3]" {
		t.Errorf("attempt numbers over the pages = %s, want [1,2,3]", b)
	}

	// The client follows the cursors itself.
	all, err := e.A.C.ListDeliveryAttempts(t.Context(), hook.UUID.String(), ev.EventID)
	if err != nil || len(all) != 3 {
		t.Fatalf("client listing: %d attempts, %v", len(all), err)
	}

	for _, bad := range []string{"nope", "YTow", "YTotMQ", "MTIzOmFiYw"} { // "a:0", "a:-1", a webhooks cursor
		r := e.do(rawReq{method: "GET", path: path + "?cursor=" + bad})
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "Invalid cursor") {
			t.Errorf("cursor %q: %d %s, want 400 Invalid cursor", bad, r.status, r.body)
		}
	}
	for name, p := range map[string]string{
		"unknown event":    "/webhooks/" + hook.UUID.String() + "/events/evt_nobody/attempts",
		"unknown webhook":  "/webhooks/0f4e2d1c-3b5a-4978-8a6b-5c4d3e2f1a0b/events/" + ev.EventID + "/attempts",
		"not a uuid":       "/webhooks/not-a-uuid/events/" + ev.EventID + "/attempts",
		"NUL in the event": "/webhooks/" + hook.UUID.String() + "/events/evt%00x/attempts",
	} {
		r := e.do(rawReq{method: "GET", path: p})
		if r.status != http.StatusNotFound || !strings.Contains(string(r.body), "Delivery not found.") {
			t.Errorf("%s: %d %s, want 404 Delivery not found.", name, r.status, r.body)
		}
	}
	if _, err := e.B.C.ListDeliveryAttempts(t.Context(), hook.UUID.String(), ev.EventID); !client.IsNotFound(err) {
		t.Errorf("another account listing the attempts: %v, want a 404", err)
	}
}
