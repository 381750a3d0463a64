package delivery_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// syncBuffer is a log sink that the engine's workers may write concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Each kind of failing receiver is recorded with its class, its status, a
// safe message and the first KiB of its answer (cut on a UTF-8 boundary),
// and logged at info with identifiers only.
func TestFailureReasons(t *testing.T) {
	t.Parallel()
	// A 2-byte rune straddles byte 1024: the excerpt stops before it.
	longBody := strings.Repeat("a", 1023) + "é and more"
	hang := func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	cases := []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
		url     string // instead of a receiver
		status  string
		code    int
		class   string
		err     string // prefix
		excerpt string
	}{
		{"5xx with a body", status(500, longBody), "", store.StatusFailed, 500, store.ErrorClassHTTPStatus, "HTTP 500", strings.Repeat("a", 1023)},
		{"4xx", status(422, `{"error":"bad"}`), "", store.StatusFailed, 422, store.ErrorClassHTTPStatus, "HTTP 422", `{"error":"bad"}`},
		{"timeout", hang, "", store.StatusFailed, 0, store.ErrorClassTimeout, "timed out after 200ms", ""},
		{"response too large", status(200, strings.Repeat("z", 5000)), "", store.StatusFailed, 200, store.ErrorClassResponseTooLarge,
			"HTTP 200 with a response body over 4096 bytes", strings.Repeat("z", 1024)},
		{"untrusted certificate", nil, tlsSrv.URL + "/hook", store.StatusFailed, 0, store.ErrorClassTLS, "TLS handshake failed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var rc *receiver
			url := tc.url
			if url == "" {
				rc = newReceiver(t, tc.respond)
				url = rc.url()
			}
			hook := e.addWebhook(url)
			logs := &syncBuffer{}
			cfg := baseConfig()
			cfg.Schedule = []time.Duration{0, 10 * time.Millisecond}
			// Only the hanging receiver needs a short timeout; the others get
			// room for a TLS handshake on a loaded machine under -race.
			cfg.Timeout = 10 * time.Second
			if tc.name == "timeout" {
				cfg.Timeout = 200 * time.Millisecond
			}
			cfg.Client = loopbackClient(cfg.Timeout)
			cfg.MaxResponseSize = 4096
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			e.start(cfg)
			id := e.publishOne()
			rec := e.waitStatus(id, hook.UUID, tc.status, 1)
			if rec.LastAttempt == nil || rec.LastAttempt.ErrorClass != tc.class {
				t.Fatalf("last attempt %+v, want class %s", rec.LastAttempt, tc.class)
			}
			as := e.attempts(rec.DeliveryID)
			if len(as) == 0 {
				t.Fatal("no attempt recorded")
			}
			for i, a := range as {
				if a.ErrorClass != tc.class || a.StatusCode != tc.code || !strings.HasPrefix(a.Error, tc.err) || a.ResponseBody != tc.excerpt {
					t.Errorf("attempt %d: class %q code %d error %q body %q; want %s %d %q %q",
						i+1, a.ErrorClass, a.StatusCode, a.Error, a.ResponseBody, tc.class, tc.code, tc.err, tc.excerpt)
				}
				checkCleanError(t, a.Error, hook.Secret)
			}

			// One info line per failed attempt, with what an operator needs
			// and nothing a receiver could be impersonated with.
			out := logs.String()
			n := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] != "delivery attempt failed" {
					continue
				}
				n++
				if m["level"] != "INFO" || m["webhook"] != hook.UUID || m["event"] != id || m["class"] != tc.class ||
					m["status"] != float64(tc.code) || m["attempt"] != float64(n) {
					t.Errorf("log line %s", line)
				}
			}
			if n != len(as) {
				t.Errorf("%d failure log lines for %d attempts:\n%s", n, len(as), out)
			}
			leaks := []string{hook.Secret, strings.TrimPrefix(hook.Secret, "whsec_"), "message-uid", "v1,"}
			if rc != nil {
				for _, r := range rc.requests() {
					leaks = append(leaks, r.header.Get(signature.HeaderSignature), r.header.Get("webhook-signature"))
				}
			}
			if tc.excerpt != "" {
				leaks = append(leaks, tc.excerpt[:min(16, len(tc.excerpt))])
			}
			for _, leak := range leaks {
				if leak != "" && strings.Contains(out, leak) {
					t.Errorf("the log holds %q:\n%s", leak, out)
				}
			}
		})
	}
}

// A successful attempt has no class and logs nothing.
func TestSuccessHasNoFailureReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "thanks") })
	hook := e.addWebhook(rc.url())
	logs := &syncBuffer{}
	cfg := baseConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	e.start(cfg)
	id := e.publishOne()
	rec := e.waitStatus(id, hook.UUID, store.StatusSuccess, 1)
	if a := rec.LastAttempt; a == nil || a.ErrorClass != "" || a.Error != "" || a.StatusCode != 200 || a.ResponseBody != "thanks" {
		t.Errorf("last attempt %+v, want a classless 200", a)
	}
	if strings.Contains(logs.String(), "attempt failed") {
		t.Errorf("a success was logged as a failure:\n%s", logs.String())
	}
}
