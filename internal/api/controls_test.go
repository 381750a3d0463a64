package api_test

import (
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// TestDeliveryControls: ordering and rate_limit are optional extensions:
// stored and shown when set, absent from a webhook that never had them (a
// JetEmail client sees no change), changed by PATCH, and validated.
func TestDeliveryControls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.doJSON(rawReq{method: "POST", path: "/webhooks",
		body: `{"name":"Plain","url":"https://example.com/webhook","events":["outbound.delivered"]}`}, 200)
	raw := m["webhook"].(map[string]any)
	for _, k := range []string{"ordering", "rate_limit"} {
		if _, ok := raw[k]; ok {
			t.Errorf("%s present on a webhook without controls: %v", k, raw[k])
		}
	}

	fifo := client.OrderingFIFO
	req := createReq("Ordered")
	req.Ordering, req.RateLimit = &fifo, client.Ptr(5)
	w := e.create(e.A, req)
	if w.Ordering == nil || *w.Ordering != client.OrderingFIFO || w.RateLimit == nil || *w.RateLimit != 5 {
		t.Fatalf("created: ordering %v rate_limit %v", w.Ordering, w.RateLimit)
	}
	got := e.get(e.A, w.UUID)
	if got.Ordering == nil || *got.Ordering != client.OrderingFIFO || got.RateLimit == nil || *got.RateLimit != 5 {
		t.Fatalf("get: ordering %v rate_limit %v", got.Ordering, got.RateLimit)
	}
	unordered := client.OrderingUnordered
	if err := e.A.C.UpdateWebhook(t.Context(), client.UpdateWebhookRequest{UUID: w.UUID, Ordering: &unordered, RateLimit: client.Ptr(0)}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(e.A, w.UUID); got.Ordering != nil || got.RateLimit != nil {
		t.Fatalf("after clearing: ordering %v rate_limit %v", got.Ordering, got.RateLimit)
	}
	if err := e.A.C.UpdateWebhook(t.Context(), client.UpdateWebhookRequest{UUID: w.UUID, RateLimit: client.Ptr(1000)}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(e.A, w.UUID); got.Ordering != nil || got.RateLimit == nil || *got.RateLimit != 1000 {
		t.Fatalf("after setting the limit alone: ordering %v rate_limit %v", got.Ordering, got.RateLimit)
	}

	for _, body := range []string{
		`{"name":"Bad","url":"https://example.com/webhook","events":["outbound.delivered"],"ordering":"lifo"}`,
		`{"name":"Bad","url":"https://example.com/webhook","events":["outbound.delivered"],"rate_limit":1001}`,
		`{"name":"Bad","url":"https://example.com/webhook","events":["outbound.delivered"],"rate_limit":-1}`,
		`{"name":"Bad","url":"https://example.com/webhook","events":["outbound.delivered"],"rate_limit":1.5}`,
		`{"name":"Bad","url":"https://example.com/webhook","events":["outbound.delivered"],"ordering":null}`,
	} {
		if r := e.do(rawReq{method: "POST", path: "/webhooks", body: body}); r.status != 400 {
			t.Errorf("%s: status %d, want 400; %s", body, r.status, r.body)
		}
	}
	if r := e.do(rawReq{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + w.UUID.String() + `","ordering":"FIFO"}`}); r.status != 400 ||
		!strings.Contains(string(r.body), "ordering") {
		t.Errorf("PATCH ordering FIFO: status %d; %s", r.status, r.body)
	}
}

// TestReplayedInHistory: through the API, engine and backend, a replay marks
// the deliveries it queues again, to an unordered webhook as to a FIFO one:
// the history record says "replayed": true and the receiver gets
// X-Webhook-Replay on the replayed requests only. A record never replayed has
// no replayed member at all (JetEmail's shape).
func TestReplayedInHistory(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	rcv := newReceiver(t, 200, "ok")
	free := e.hookTo(e.A, "Unordered", rcv.URL, "outbound.delivered")
	fifo := client.OrderingFIFO
	req := createReq("Ordered", "outbound.delivered")
	req.URL, req.Ordering = rcv.URL, &fifo
	ordered := e.create(e.A, req)
	for _, id := range []string{"evt_replayed", "evt_once"} {
		e.publish(client.Event{ID: client.Ptr(id), AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("api-user")})
	}
	e.runEngine()
	waitFor(t, "four deliveries", func() bool { return len(rcv.requests()) >= 4 })
	for _, r := range rcv.requests() {
		if v := r.header.Get("X-Webhook-Replay"); v != "" {
			t.Fatalf("first delivery of %s carries X-Webhook-Replay %q", r.header.Get("webhook-id"), v)
		}
	}

	res, err := e.A.C.ReplayEvent(t.Context(), client.ReplayRequest{EventID: client.Ptr("evt_replayed")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != 2 {
		t.Fatalf("replay queued %d deliveries, want 2", res.Deliveries)
	}
	waitFor(t, "the two replays", func() bool { return len(rcv.requests()) >= 6 })
	replays := map[string]int{}
	for _, r := range rcv.requests()[4:] {
		if r.header.Get("X-Webhook-Replay") != "true" {
			t.Errorf("replayed request of %s lacks X-Webhook-Replay: true", r.header.Get("webhook-id"))
		}
		replays[r.header.Get("webhook-id")]++
	}
	if replays["evt_replayed"] != 2 {
		t.Errorf("replayed requests by event = %v, want evt_replayed twice", replays)
	}
	waitFor(t, "the replays to be recorded", func() bool {
		q := e.query(e.A, client.QueryRequest{EventID: client.Ptr("evt_replayed")})
		return len(q.Events) == 2 && q.Events[0].TotalAttempts == 2 && q.Events[1].TotalAttempts == 2
	})

	q := e.query(e.A, client.QueryRequest{})
	if len(q.Events) != 4 {
		t.Fatalf("history has %d records, want 4", len(q.Events))
	}
	for _, r := range q.Events {
		want := r.ID == "evt_replayed"
		if got := r.Replayed != nil && *r.Replayed; got != want {
			t.Errorf("record %s to %s: replayed %v, want %v", r.ID, r.UUID, r.Replayed, want)
		}
		if r.UUID != free.UUID && r.UUID != ordered.UUID {
			t.Errorf("record to an unknown webhook %s", r.UUID)
		}
	}
	raw := e.do(rawReq{method: "POST", path: "/webhooks/query", body: `{"event_id":"evt_once"}`})
	if raw.status != 200 || strings.Contains(string(raw.body), `"replayed"`) {
		t.Errorf("never replayed records: %d %s, want no replayed member", raw.status, raw.body)
	}
	raw = e.do(rawReq{method: "POST", path: "/webhooks/query", body: `{"event_id":"evt_replayed"}`})
	if raw.status != 200 || strings.Count(string(raw.body), `"replayed":true`) != 2 {
		t.Errorf("replayed records: %d %s, want replayed true twice", raw.status, raw.body)
	}
}
