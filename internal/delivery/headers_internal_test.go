package delivery

import (
	"bytes"
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

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// headerReceiver records the headers and body of every request.
type headerReceiver struct {
	mu   sync.Mutex
	got  []http.Header
	body [][]byte
}

func (r *headerReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, req.Header.Clone())
	r.body = append(r.body, b)
	r.mu.Unlock()
}

func (r *headerReceiver) last(t *testing.T) (http.Header, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return r.got[len(r.got)-1], r.body[len(r.body)-1]
}

// The webhook's headers reach the receiver, under their canonical names,
// and the delivery still verifies.
func TestAttemptSendsCustomHeaders(t *testing.T) {
	rcv := &headerReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e := newTestEngine(t, Config{})
	o := e.attempt(&store.Claim{DeliveryID: 1, ClaimSeq: 1, EventID: "evt_h1", URL: srv.URL, Secret: testSecret, Enabled: true,
		Body: []byte(`{"id":"evt_h1"}`), Attempt: 1,
		Headers: map[string]string{"x-tenant": "acme", "Authorization": "Bearer tok_123", "X-Tabbed": "a\tb"}})
	if o.Status != store.StatusSuccess {
		t.Fatalf("outcome %+v", o)
	}
	h, body := rcv.last(t)
	for k, v := range map[string]string{"X-Tenant": "acme", "Authorization": "Bearer tok_123", "X-Tabbed": "a\tb",
		"Content-Type": "application/json", "User-Agent": "jetwebhooks"} {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", k, got, v)
		}
	}
	v, err := signature.NewVerifier([]string{testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(h, body); err != nil {
		t.Fatalf("delivery with custom headers does not verify: %v", err)
	}
}

// Headers the API would have refused (stored some other way) cannot
// replace the service's own or go out at all, and the log names them but
// never shows a value.
func TestAttemptCustomHeadersCannotOverride(t *testing.T) {
	rcv := &headerReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var logs bytes.Buffer
	var mu sync.Mutex
	e := newTestEngine(t, Config{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	forged := map[string]string{
		"Content-Type": "text/plain-FORGED", "content-length": "1", "User-Agent": "FORGED-agent",
		"X-Webhook-Signature": "sha256=FORGED", "webhook-signature": "v1,FORGED", "Webhook-Id": "FORGED-id",
		"X-Webhook-ID": "FORGED-id", "X-Webhook-Timestamp": "1", "Host": "FORGED.example", "Transfer-Encoding": "chunked",
		"Connection": "close", "X-Split": "ok\r\nX-Injected: FORGED", "X-Kept": "kept",
	}
	o := e.attempt(&store.Claim{DeliveryID: 2, ClaimSeq: 1, EventID: "evt_h2", URL: srv.URL, Secret: testSecret, Enabled: true,
		Body: []byte(`{"id":"evt_h2"}`), Attempt: 1, Headers: forged})
	if o.Status != store.StatusSuccess {
		t.Fatalf("outcome %+v", o)
	}
	h, body := rcv.last(t)
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, "FORGED") {
				t.Errorf("the receiver got %s: %q", k, v)
			}
		}
	}
	if h.Get("X-Kept") != "kept" || h.Get("X-Injected") != "" || h.Get("X-Split") != "" {
		t.Errorf("allowed header missing or refused one sent: %v", h)
	}
	if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "jetwebhooks" {
		t.Errorf("service headers replaced: %v", h)
	}
	v, _ := signature.NewVerifier([]string{testSecret}, signature.WithTolerance(time.Hour))
	if _, err := v.Verify(h, body); err != nil {
		t.Fatalf("does not verify: %v", err)
	}
	mu.Lock()
	log := logs.String()
	mu.Unlock()
	if !strings.Contains(log, "X-Webhook-Signature") || !strings.Contains(log, "custom header not sent") {
		t.Errorf("refused headers not logged by name:\n%s", log)
	}
	if strings.Contains(log, "FORGED") {
		t.Errorf("a header value reached the log:\n%s", log)
	}
}

// A claim whose headers could not be opened fails without a request.
func TestAttemptUnusableHeaders(t *testing.T) {
	rcv := &headerReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e := newTestEngine(t, Config{})
	o := e.attempt(&store.Claim{DeliveryID: 3, ClaimSeq: 1, EventID: "evt_h3", URL: srv.URL, Secret: testSecret, Enabled: true,
		Body: []byte(`{}`), Attempt: 1, HeadersUnusable: true})
	if o.Status != store.StatusFailed || o.Error != "webhook headers are unusable" {
		t.Fatalf("outcome %+v", o)
	}
	rcv.mu.Lock()
	n := len(rcv.got)
	rcv.mu.Unlock()
	if n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
