package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// received is one delivery a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest webhook endpoint that records every delivery and
// answers each with the same status and body.
type receiver struct {
	URL string

	mu     sync.Mutex
	got    []received
	status int
	answer string
}

func newReceiver(t *testing.T, status int, answer string) *receiver {
	t.Helper()
	r := &receiver{status: status, answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		status, answer := r.status, r.answer
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/hook"
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// only returns the one delivery the receiver got, failing otherwise.
func (r *receiver) only(t *testing.T) received {
	t.Helper()
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	return got[0]
}

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hookTo creates a webhook of tn pointing at url.
func (e *env) hookTo(tn tenant, name, url string, events ...client.SubscribableEventType) *client.Webhook {
	e.t.Helper()
	req := createReq(name, events...)
	req.URL = url
	return e.create(tn, req)
}

// standardSignatures computes, independently of package signature, the
// Standard Webhooks signature of a delivery with each secret, as the spec
// defines it: "v1," + base64(HMAC-SHA256(base64-decoded key after "whsec_",
// id + "." + timestamp + "." + body)).
func standardSignatures(t *testing.T, h http.Header, body []byte, secrets ...string) []string {
	t.Helper()
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		t.Fatalf("delivery lacks webhook-id or webhook-timestamp: %v", h)
	}
	out := make([]string, len(secrets))
	for i, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			t.Fatalf("secret %d is not whsec_ + base64: %v", i, err)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		out[i] = "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	return out
}

// jetEmailSignature computes X-Webhook-Signature independently: the secret
// string verbatim as the HMAC key over the body.
func jetEmailSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
