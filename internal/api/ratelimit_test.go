package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
)

// check429 requires a 429 with an integer Retry-After of at least one
// second and the JSON error shape.
func check429(t *testing.T, name string, r rawResp) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Errorf("%s: %d %s, want 429", name, r.status, r.body)
		return
	}
	ra := r.header.Get("Retry-After")
	if n, err := strconv.Atoi(ra); err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q, want integer seconds >= 1", name, ra)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil || body["success"] != false || body["error"] == "" {
		t.Errorf("%s: body %s, want the JSON error shape", name, r.body)
	}
}

// TestRateLimitPerKey: with 1 request/s and a burst of 2 on a clock that
// stands still, a key's third request is refused until the clock moves;
// other keys have buckets of their own.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *api.Config) { c.RateLimit, c.RateBurst = 1, 2 })
	ctx := t.Context()
	list := rawReq{method: "GET", path: "/webhooks"}
	for i := range 2 {
		if r := e.do(list); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, r.status, r.body)
		}
	}
	check429(t, "third request", e.do(list))
	// Through the client: a typed error with RetryAfter.
	_, err := e.A.C.ListWebhooks(ctx)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.RetryAfter < time.Second {
		t.Errorf("client while limited: %v (%+v), want 429 with RetryAfter >= 1s", err, apiErr)
	}

	// Every operation answers 429 for an exhausted key, before looking at
	// the body (even an invalid one), and a refusal does not use a token.
	id := "0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e"
	for _, r := range []rawReq{
		{method: "GET", path: "/webhooks?limit=1"},
		{method: "GET", path: "/webhooks/" + id},
		{method: "POST", path: "/webhooks", body: `{"name":"x","url":"https://example.com/h","events":["outbound.delivered"]}`},
		{method: "POST", path: "/webhooks", body: `not json`, header: http.Header{"Content-Type": {"text/plain"}}},
		{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + id + `","status":0}`},
		{method: "DELETE", path: "/webhooks/" + id},
		{method: "POST", path: "/webhooks/" + id + "/rotate-secret"},
		{method: "POST", path: "/webhooks/" + id + "/test", body: `{}`},
		{method: "POST", path: "/webhooks/query", body: `{}`},
		{method: "POST", path: "/webhooks/replay", body: `{"event_id":"evt_x"}`},
		{method: "GET", path: "/webhooks/" + id + "/events/evt_x/attempts"},
	} {
		check429(t, r.method+" "+r.path, e.do(r))
	}
	// Authentication comes first: a wrong key is a 401, limited or not.
	if r := e.do(rawReq{method: "GET", path: "/webhooks", header: bearer("api_0000000000000000000000000000000000000000000")}); r.status != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", r.status)
	}

	// B's key is unaffected.
	for i := range 2 {
		if _, err := e.B.C.ListWebhooks(ctx); err != nil {
			t.Errorf("B's request %d: %v", i+1, err)
		}
	}
	check429(t, "B's third request", e.do(rawReq{method: "GET", path: "/webhooks", header: bearer(e.B.Key)}))

	// A second later A has one token again, and no more.
	e.clock.Advance(time.Second)
	if r := e.do(list); r.status != http.StatusOK {
		t.Errorf("after a second: %d %s, want 200", r.status, r.body)
	}
	check429(t, "second request after a second", e.do(list))
	// After a while the full burst is back.
	e.clock.Advance(time.Minute)
	for i := range 2 {
		if r := e.do(list); r.status != http.StatusOK {
			t.Errorf("request %d after a minute: %d", i+1, r.status)
		}
	}
}

// TestRateLimitRetryAfter: Retry-After is the wait until the next token,
// rounded up to whole seconds.
func TestRateLimitRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *api.Config) { c.RateLimit, c.RateBurst = 0.1, 1 }) // one per 10 s
	list := rawReq{method: "GET", path: "/webhooks"}
	if r := e.do(list); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
	for _, tc := range []struct {
		advance time.Duration
		want    string
	}{{0, "10"}, {2500 * time.Millisecond, "8"}, {7 * time.Second, "1"}} {
		e.clock.Advance(tc.advance)
		r := e.do(list)
		check429(t, "limited", r)
		if got := r.header.Get("Retry-After"); got != tc.want {
			t.Errorf("Retry-After = %s, want %s", got, tc.want)
		}
	}
	e.clock.Advance(600 * time.Millisecond)
	if r := e.do(list); r.status != http.StatusOK {
		t.Errorf("after 10 s: %d, want 200", r.status)
	}
}

// TestRateLimitDefaults: without configuration an API key gets a burst of
// 100 and the ingest token is not limited.
func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *api.Config) { c.RateLimit, c.RateBurst = 0, 0 })
	for i := range 100 {
		if r := e.do(rawReq{method: "GET", path: "/webhooks"}); r.status != http.StatusOK {
			t.Fatalf("request %d of the default burst: %d", i+1, r.status)
		}
	}
	check429(t, "request 101", e.do(rawReq{method: "GET", path: "/webhooks"}))
	// At 50 per second, 25 ms gives one more token.
	e.clock.Advance(25 * time.Millisecond)
	if r := e.do(rawReq{method: "GET", path: "/webhooks"}); r.status != http.StatusOK {
		t.Errorf("after 25 ms: %d, want 200", r.status)
	}
	ev := `{"account_id":"` + e.A.ID + `","type":"outbound.queued"}`
	for i := range 150 {
		if r := e.do(rawReq{method: "POST", path: "/events", body: ev, header: bearer(testIngestToken)}); r.status != http.StatusAccepted {
			t.Fatalf("publish %d: %d, want 202 (ingest is unlimited by default)", i+1, r.status)
		}
	}
}

// TestIngestRateLimit: the ingest token has a bucket of its own when
// configured.
func TestIngestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *api.Config) { c.IngestRateLimit, c.IngestRateBurst = 1, 1 })
	ctx := t.Context()
	ev := client.Event{AccountID: e.A.ID, Type: "outbound.queued"}
	if _, err := e.ingest.PublishEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	body := mustJSON(t, ev)
	check429(t, "second publish", e.do(rawReq{method: "POST", path: "/events", body: body, header: bearer(testIngestToken)}))
	check429(t, "batch", e.do(rawReq{method: "POST", path: "/events/batch", body: `{"events":[` + body + `]}`, header: bearer(testIngestToken)}))
	_, err := e.ingest.PublishEvents(ctx, []client.Event{ev})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.RetryAfter != time.Second {
		t.Errorf("client batch while limited: %v, want 429 with RetryAfter 1s", err)
	}
	// A wrong token is still a 401; account keys are not affected.
	if r := e.do(rawReq{method: "POST", path: "/events", body: body, header: bearer("wrong-token")}); r.status != http.StatusUnauthorized {
		t.Errorf("wrong ingest token: %d, want 401", r.status)
	}
	if _, err := e.A.C.ListWebhooks(ctx); err != nil {
		t.Errorf("account key: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.ingest.PublishEvents(ctx, []client.Event{ev}); err != nil {
		t.Errorf("after a second: %v", err)
	}
	if q := e.query(e.A, clientQueryAll()); q.Total != 0 {
		t.Errorf("queued events have history: %d", q.Total)
	}
}
