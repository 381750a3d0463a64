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
