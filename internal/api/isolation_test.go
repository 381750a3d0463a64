package api_test

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// TestTenantIsolation: account B cannot see, change, delete, query or replay
// anything of account A's, and every refusal looks exactly like the answer
// for something that does not exist.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	aReq := createReq("A Private", "outbound.delivered", "inbound.received")
	aReq.FilterUsers = client.Filter("api-user")
	wa := e.create(e.A, aReq)
	e.publish(client.Event{ID: client.Ptr("evt_shared_id"), AccountID: e.A.ID, Type: "outbound.delivered",
		User: client.Ptr("api-user"), SourceUID: client.Ptr("a-message")})
	aBefore := e.get(e.A, wa.UUID)
	aHistory := e.query(e.A, clientQueryAll())
	if aHistory.Total != 1 {
		t.Fatalf("A's history has %d records, want 1", aHistory.Total)
	}

	// B has a webhook and history of its own, so empty answers are not
	// just an empty account.
	wb := e.create(e.B, createReq("B Own", "outbound.delivered"))
	e.publish(client.Event{ID: client.Ptr("evt_b_own"), AccountID: e.B.ID, Type: "outbound.delivered", User: client.Ptr("b-user")})

	bKey := bearer(e.B.Key)
	unknown := "6f1c2d3e-4b5a-4c6d-9e8f-7a6b5c4d3e2f"
	aID := wa.UUID.String()

	// get / delete / patch: 404, byte-identical to an unknown uuid's answer.
	sameAsUnknown := func(name string, foreign, missing rawReq) {
		t.Helper()
		rf, rm := e.do(foreign), e.do(missing)
		if rf.status != http.StatusNotFound {
			t.Errorf("%s of A's webhook by B: %d %s, want 404", name, rf.status, rf.body)
		}
		if rf.status != rm.status || !bytes.Equal(rf.body, rm.body) {
			t.Errorf("%s: A's uuid answers %d %s, an unknown one %d %s: existence leaks", name, rf.status, rf.body, rm.status, rm.body)
		}
	}
	sameAsUnknown("GET",
		rawReq{method: "GET", path: "/webhooks/" + aID, header: bKey},
		rawReq{method: "GET", path: "/webhooks/" + unknown, header: bKey})
	sameAsUnknown("PATCH",
		rawReq{method: "PATCH", path: "/webhooks", header: bKey, body: `{"uuid":"` + aID + `","name":"Hijacked","url":"https://evil.example/steal","status":0,"filter_users":null}`},
		rawReq{method: "PATCH", path: "/webhooks", header: bKey, body: `{"uuid":"` + unknown + `","name":"Hijacked","url":"https://evil.example/steal","status":0,"filter_users":null}`})
	sameAsUnknown("DELETE",
		rawReq{method: "DELETE", path: "/webhooks/" + aID, header: bKey},
		rawReq{method: "DELETE", path: "/webhooks/" + unknown, header: bKey})

	// The same through the client.
	if _, err := e.B.C.GetWebhook(ctx, aID); !client.IsNotFound(err) {
		t.Errorf("client get by B: %v, want 404", err)
	}
	if err := e.B.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: wa.UUID, Status: client.Status(false)}); !client.IsNotFound(err) {
		t.Errorf("client update by B: %v, want 404", err)
	}
	if err := e.B.C.DeleteWebhook(ctx, aID); !client.IsNotFound(err) {
		t.Errorf("client delete by B: %v, want 404", err)
	}

	// list: only B's own.
	list, err := e.B.C.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].UUID != wb.UUID {
		t.Errorf("B's list = %v, want only its own %s", list, wb.UUID)
	}

	// query: none of A's history, whatever the filter names.
	u := wa.UUID
	for name, req := range map[string]client.QueryRequest{
		"all":           clientQueryAll(),
		"A's uuid":      {UUID: &u},
		"A's event id":  {EventID: client.Ptr("evt_shared_id")},
		"A's source":    {SourceUID: client.Ptr("a-message")},
		"A's type+date": {EventType: client.Ptr[client.EventType]("outbound.delivered"), DateFrom: client.Ptr(int64(0))},
	} {
		res := e.query(e.B, req)
		for _, r := range res.Events {
			if r.ID == "evt_shared_id" || r.UUID == wa.UUID || r.SourceUID == "a-message" {
				t.Errorf("query %s by B returned A's record %+v", name, r)
			}
		}
		if name == "A's uuid" || name == "A's event id" || name == "A's source" {
			if res.Total != 0 {
				t.Errorf("query %s by B: total %d, want 0", name, res.Total)
			}
		}
	}

	// replay: A's event, A's message, and B's own event aimed at A's webhook.
	for name, req := range map[string]client.ReplayRequest{
		"A's event id":                {EventID: client.Ptr("evt_shared_id")},
		"A's event id to A's hook":    {EventID: client.Ptr("evt_shared_id"), UUID: &u},
		"A's source uid":              {SourceUID: client.Ptr("a-message")},
		"B's own event to A's hook":   {EventID: client.Ptr("evt_b_own"), UUID: &u},
		"B's unknown event (control)": {EventID: client.Ptr("evt_nobody")},
	} {
		if _, err := e.B.C.ReplayEvent(ctx, req); !client.IsNotFound(err) {
			t.Errorf("replay %s by B: %v, want 404", name, err)
		}
	}

	// Event ids are per account: B may use the id A used, and it is not a
	// duplicate (which would reveal that A has it).
	res := e.publish(client.Event{ID: client.Ptr("evt_shared_id"), AccountID: e.B.ID, Type: "outbound.delivered", User: client.Ptr("b-user")})
	if res.Duplicate != nil && *res.Duplicate {
		t.Error("B's event with A's id was reported a duplicate: event ids leak across accounts")
	}
	if res.Deliveries != 1 {
		t.Errorf("B's evt_shared_id: %d deliveries, want 1 (to B's webhook only)", res.Deliveries)
	}

	// B cannot filter on A's users or domains.
	bReq := createReq("Spy", "outbound.delivered")
	bReq.FilterUsers = client.Filter("api-user")
	if _, err := e.B.C.CreateWebhook(ctx, bReq); err == nil {
		t.Error("B created a webhook filtering on A's username")
	}
	bReq = createReq("Spy", "inbound.received")
	bReq.FilterDomains = client.Filter("example.com")
	if _, err := e.B.C.CreateWebhook(ctx, bReq); err == nil {
		t.Error("B created a webhook filtering on A's domain")
	}

	// A is untouched.
	if got := e.get(e.A, wa.UUID); !reflect.DeepEqual(got, aBefore) {
		t.Errorf("A's webhook changed:\n got  %+v\n want %+v", got, aBefore)
	}
	if got := e.query(e.A, clientQueryAll()); !reflect.DeepEqual(got, aHistory) {
		t.Errorf("A's history changed:\n got  %+v\n want %+v", got, aHistory)
	}
	if list, _ := e.A.C.ListWebhooks(ctx); len(list) != 1 {
		t.Errorf("A has %d webhooks, want 1", len(list))
	}
	// And A still can do everything B could not.
	if _, err := e.A.C.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_shared_id"), UUID: &u}); err != nil {
		t.Errorf("A's own replay: %v", err)
	}
}
