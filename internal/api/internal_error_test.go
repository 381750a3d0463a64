package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInternalErrorsAreOpaque closes the store under a running server: every
// operation must answer the documented 500 with a generic sentence, never the
// driver's error, and the real cause must reach the log.
func TestInternalErrorsAreOpaque(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.create(e.A, createReq("Before Close"))
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	id := w.UUID.String()
	ev := `{"account_id":"` + e.A.ID + `","type":"outbound.delivered"}`
	reqs := []rawReq{
		{method: "GET", path: "/webhooks"},
		{method: "GET", path: "/webhooks/" + id},
		{method: "POST", path: "/webhooks", body: `{"name":"x","url":"https://example.com/h","events":["outbound.delivered"]}`},
		{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + id + `","name":"y"}`},
		{method: "DELETE", path: "/webhooks/" + id},
		{method: "POST", path: "/webhooks/" + id + "/rotate-secret"},
		{method: "POST", path: "/webhooks/" + id + "/test", body: `{}`},
		{method: "GET", path: "/webhooks?limit=2"},
		{method: "POST", path: "/webhooks/query", body: `{}`},
		{method: "POST", path: "/webhooks/replay", body: `{"event_id":"evt_x"}`},
		{method: "GET", path: "/webhooks/" + id + "/events/evt_x/attempts"},
		{method: "POST", path: "/events", body: ev, header: bearer(testIngestToken)},
		{method: "POST", path: "/events/batch", body: `{"events":[` + ev + `]}`, header: bearer(testIngestToken)},
	}
	for _, r := range reqs {
		resp := e.do(r)
		if resp.status != http.StatusInternalServerError {
			t.Errorf("%s %s with a closed store: %d %s, want 500", r.method, r.path, resp.status, resp.body)
			continue
		}
		if got := strings.TrimSpace(string(resp.body)); got != `{"error":"Internal server error.","success":false}` {
			t.Errorf("%s %s: 500 body %s, want the generic sentence only", r.method, r.path, got)
		}
	}
	if logs := e.log.String(); !strings.Contains(logs, "request failed") || !strings.Contains(strings.ToLower(logs), "closed") {
		t.Errorf("the cause of the 500s was not logged:\n%s", logs)
	}
}
