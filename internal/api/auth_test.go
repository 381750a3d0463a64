package api_test

import (
	"net/http"
	"testing"
)

// TestAuthEveryOperation: every operation refuses a missing key, a wrong key
// and the other kind of credential with 401 and a WWW-Authenticate challenge,
// before looking at the body.
func TestAuthEveryOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.create(e.A, createReq("Auth Target"))
	id := w.UUID.String()
	ev := `{"account_id":"` + e.A.ID + `","type":"outbound.delivered"}`
	type op struct {
		name, method, path, body string
		ingest                   bool
	}
	ops := []op{
		{"listWebhooks", "GET", "/webhooks", "", false},
		{"getWebhook", "GET", "/webhooks/" + id, "", false},
		{"createWebhook", "POST", "/webhooks", `{"name":"x","url":"https://example.com/h","events":["outbound.delivered"]}`, false},
		{"updateWebhook", "PATCH", "/webhooks", `{"uuid":"` + id + `","status":0}`, false},
		{"deleteWebhook", "DELETE", "/webhooks/" + id, "", false},
		{"rotateWebhookSecret", "POST", "/webhooks/" + id + "/rotate-secret", `{"grace_period":0}`, false},
		{"rotateWebhookSecret (no body)", "POST", "/webhooks/" + id + "/rotate-secret", "", false},
		{"testWebhook", "POST", "/webhooks/" + id + "/test", `{"event_type":"outbound.bounced"}`, false},
		{"testWebhook (no body)", "POST", "/webhooks/" + id + "/test", "", false},
		{"queryWebhookEvents", "POST", "/webhooks/query", `{}`, false},
		{"replayWebhookEvent", "POST", "/webhooks/replay", `{"event_id":"evt_x"}`, false},
		{"listDeliveryAttempts", "GET", "/webhooks/" + id + "/events/evt_x/attempts?limit=1", "", false},
		{"ingestEvent", "POST", "/events", ev, true},
		{"ingestEventBatch", "POST", "/events/batch", `{"events":[` + ev + `]}`, true},
	}
	before := e.snapshot()
	for _, o := range ops {
		other := testIngestToken
		if o.ingest {
			other = e.A.Key
		}
		for name, h := range map[string]http.Header{
			"missing":          {"Authorization": nil},
			"wrong":            bearer("api_0000000000000000000000000000000000000000000"),
			"other credential": bearer(other),
			"lower-case basic": {"Authorization": {"basic " + e.A.Key}},
		} {
			r := e.do(rawReq{method: o.method, path: o.path, body: o.body, header: h})
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s, %s credential: %d %s, want 401", o.name, name, r.status, r.body)
			}
			if r.header.Get("Www-Authenticate") == "" {
				t.Errorf("%s, %s credential: no WWW-Authenticate", o.name, name)
			}
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("unauthenticated requests changed state:\nbefore %s\nafter  %s", before, after)
	}
}
