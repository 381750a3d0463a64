package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// fastRetries keeps the waits of the retry tests short.
var fastRetries = client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})

// flaky answers the first n requests of each path with status (with
// Retry-After: 0 for 429), then 200 with answer; it records each request's
// Idempotency-Key.
type flaky struct {
	mu     sync.Mutex
	n      int
	status int
	answer string
	calls  map[string]int
	keys   []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[r.Method+" "+r.URL.Path]++
	n := f.calls[r.Method+" "+r.URL.Path]
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if n <= f.n {
		if f.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(f.status)
		w.Write([]byte(`{"success":false,"error":"try again"}`))
		return
	}
	w.Write([]byte(f.answer))
}

const listAnswer = `{"success":true,"webhooks":[]}`
const createAnswer = `{"success":true,"webhook":{"uuid":"00000000-0000-4000-8000-000000000001","name":"n","url":"https://example.com/h",` +
	`"events":["outbound.delivered"],"status":"enabled","filter_users":null,"filter_domains":null,"created_at":1,"last_modified":1,"secret":"whsec_x"}}`

func TestRetries(t *testing.T) {
	t.Parallel()
	newFlaky := func(n, status int, answer string, opts ...client.Option) (*flaky, *client.Client) {
		f := &flaky{n: n, status: status, answer: answer, calls: map[string]int{}}
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		return f, newClient(t, srv.URL, append([]client.Option{fastRetries}, opts...)...)
	}
	t.Run("429 is retried after Retry-After", func(t *testing.T) {
		f, c := newFlaky(2, http.StatusTooManyRequests, listAnswer)
		if _, err := c.ListWebhooks(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := f.calls["GET /webhooks"]; n != 3 {
			t.Errorf("%d tries, want 3", n)
		}
	})
	t.Run("503 on a read is retried, up to MaxAttempts", func(t *testing.T) {
		f, c := newFlaky(5, http.StatusServiceUnavailable, listAnswer)
		_, err := c.ListWebhooks(t.Context())
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("err = %v, want the 503 after the last try", err)
		}
		if n := f.calls["GET /webhooks"]; n != 3 {
			t.Errorf("%d tries, want MaxAttempts (3)", n)
		}
	})
	t.Run("503 on a replay is not retried", func(t *testing.T) {
		f, c := newFlaky(1, http.StatusServiceUnavailable, `{}`)
		if _, err := c.ReplayEvent(t.Context(), client.ReplayRequest{EventID: client.Ptr("evt_1")}); err == nil {
			t.Fatal("no error")
		}
		if n := f.calls["POST /webhooks/replay"]; n != 1 {
			t.Errorf("%d tries of a replay, want 1: it is not safe to repeat", n)
		}
	})
	t.Run("a create is retried with one made-up Idempotency-Key", func(t *testing.T) {
		f, c := newFlaky(1, http.StatusServiceUnavailable, createAnswer)
		if _, err := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h",
			Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
			t.Fatal(err)
		}
		if len(f.keys) != 2 || f.keys[0] == "" || f.keys[0] != f.keys[1] {
			t.Errorf("Idempotency-Keys of the tries = %q, want one key, made up, sent twice", f.keys)
		}
	})
	t.Run("without retries", func(t *testing.T) {
		f, c := newFlaky(1, http.StatusTooManyRequests, listAnswer, client.WithoutRetries())
		if _, err := c.ListWebhooks(t.Context()); err == nil {
			t.Fatal("no error")
		}
		if _, err := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h",
			Events: []client.SubscribableEventType{"outbound.delivered"}}); err == nil {
			t.Fatal("create: no error")
		}
		if n := f.calls["GET /webhooks"]; n != 1 || f.keys[1] != "" {
			t.Errorf("%d tries, keys %q; want 1 and no made-up key", n, f.keys)
		}
	})
	t.Run("a Retry-After beyond MaxRetryAfter is not waited out", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, fastRetries)
		if _, err := c.ListWebhooks(t.Context()); err == nil || calls.Load() != 1 {
			t.Fatalf("err %v after %d tries, want the 429 at once", err, calls.Load())
		}
	})
	t.Run("network errors on reads are retried", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				conn.Close() // no answer at all
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(listAnswer))
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, fastRetries)
		if _, err := c.ListWebhooks(t.Context()); err != nil || calls.Load() != 2 {
			t.Fatalf("err %v after %d tries, want success on the second", err, calls.Load())
		}
	})
	t.Run("a cancelled context ends the waits", func(t *testing.T) {
		_, c := newFlaky(100, http.StatusServiceUnavailable, listAnswer,
			client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 100, MinBackoff: time.Hour, MaxBackoff: time.Hour}))
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		if _, err := c.ListWebhooks(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}
