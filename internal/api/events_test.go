package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
)

func (e *env) publish(ev client.Event) *client.PublishResult {
	e.t.Helper()
	res, err := e.ingest.PublishEvent(e.t.Context(), ev)
	if err != nil {
		e.t.Fatalf("PublishEvent(%v): %v", ev.ID, err)
	}
	return res
}

func (e *env) query(tn tenant, req client.QueryRequest) *client.QueryResponse {
	e.t.Helper()
	res, err := tn.C.QueryEvents(e.t.Context(), req)
	if err != nil {
		e.t.Fatalf("QueryEvents: %v", err)
	}
	return res
}

func eventIDs(recs []client.EventRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID + "@" + r.UUID.String()[:8]
	}
	return out
}

func TestQueryEmptyHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.doJSON(rawReq{method: "POST", path: "/webhooks/query", body: `{}`}, 200)
	if ev, ok := m["events"].([]any); !ok || len(ev) != 0 || m["total"] != 0.0 || m["limit"] != 50.0 || m["offset"] != 0.0 {
		t.Errorf("empty query = %v, want events [] total 0 limit 50 offset 0", m)
	}
	if _, ok := m["success"]; ok {
		t.Errorf("query answer has a success key, which JetEmail's does not: %v", m)
	}
	// Filters on an empty history are an empty answer, not an error.
	res := e.query(e.A, client.QueryRequest{EventID: client.Ptr("evt_nothing"), Status: client.Ptr[client.QueryStatus]("failed"), Limit: client.Ptr(1000), Offset: client.Ptr(5)})
	if res.Total != 0 || len(res.Events) != 0 || res.Limit != 1000 || res.Offset != 5 {
		t.Errorf("filtered empty query = %+v", res)
	}
}

func TestIngestAndQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	all := e.create(e.A, createReq("All Outbound", "outbound.delivered", "outbound.bounced"))
	e.clock.Advance(time.Second)
	relayReq := createReq("Relay Only", "outbound.delivered")
	relayReq.FilterUsers = client.Filter("smtp-relay")
	relay := e.create(e.A, relayReq)
	inReq := createReq("Inbound", "inbound.received")
	inReq.FilterDomains = client.Filter("example.com")
	inbound := e.create(e.A, inReq)
	offReq := createReq("Disabled", "outbound.delivered")
	offReq.Status = client.Status(false)
	e.create(e.A, offReq)

	// One event through the client: only "All Outbound" matches (Relay Only
	// filters another user, the disabled one is off).
	e.clock.Advance(time.Minute)
	t1 := e.clock.Unix()
	res := e.publish(client.Event{
		ID: client.Ptr("evt_first"), AccountID: e.A.ID, Type: "outbound.delivered",
		User: client.Ptr("api-user"), SourceUID: client.Ptr("message-uid-123"), SourceAction: client.Ptr("ACCEPTED"),
		Data: client.MustData(map[string]any{"to": "user@example.com", "from": "sender@example.com"}),
	})
	if !res.Success || res.EventID != "evt_first" || res.Deliveries != 1 || res.Duplicate != nil {
		t.Errorf("publish = %+v, want evt_first with 1 delivery, not duplicate", res)
	}

	q := e.query(e.A, client.QueryRequest{})
	if q.Total != 1 || len(q.Events) != 1 {
		t.Fatalf("query after publish = %+v, want one record", q)
	}
	want := client.EventRecord{
		ID: "evt_first", UUID: all.UUID, Service: "outbound", EventType: "outbound.delivered",
		SourceUID: "message-uid-123", SourceAction: "ACCEPTED",
		WebhookURL: all.URL, CreatedAt: t1, LatestStatus: "pending", TotalAttempts: 0,
	}
	got := q.Events[0]
	if !got.LastResponseCode.IsNull() {
		t.Errorf("last_response_code = %v, want null before any attempt", got.LastResponseCode)
	}
	got.LastResponseCode = nil
	if !got.LastAttempt.IsNull() {
		t.Errorf("last_attempt = %v, want null before any attempt", got.LastAttempt)
	}
	got.LastAttempt = nil
	var payload map[string]any
	if err := json.Unmarshal(got.Payload, &payload); err != nil ||
		!reflect.DeepEqual(payload, map[string]any{"to": "user@example.com", "from": "sender@example.com"}) {
		t.Errorf("payload = %s, want the published data", got.Payload)
	}
	got.Payload = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("record:\n got  %+v\n want %+v", got, want)
	}
	raw := e.do(rawReq{method: "POST", path: "/webhooks/query", body: `{}`})
	if !strings.Contains(string(raw.body), `"last_response_code":null`) {
		t.Errorf("raw record lacks an explicit null last_response_code: %s", raw.body)
	}

	// The same id again: 202, duplicate, nothing new queued.
	m := e.doJSON(rawReq{method: "POST", path: "/events", header: bearer(testIngestToken),
		body: `{"id":"evt_first","account_id":"` + e.A.ID + `","type":"outbound.delivered","user":"api-user"}`}, http.StatusAccepted)
	if m["duplicate"] != true || m["deliveries"] != 0.0 || m["event_id"] != "evt_first" || m["success"] != true {
		t.Errorf("duplicate publish = %v", m)
	}
	if q := e.query(e.A, client.QueryRequest{}); q.Total != 1 {
		t.Errorf("duplicate queued something: total %d", q.Total)
	}

	// A batch: results in order, one transaction.
	e.clock.Advance(time.Minute)
	t2 := e.clock.Unix()
	batch, err := e.ingest.PublishEvents(ctx, []client.Event{
		{ID: client.Ptr("evt_b1"), AccountID: e.A.ID, Type: "outbound.bounced", User: client.Ptr("smtp-relay")},
		{ID: client.Ptr("evt_b2"), AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("smtp-relay"), SourceUID: client.Ptr("message-uid-123")},
		{ID: client.Ptr("evt_b3"), AccountID: e.A.ID, Type: "inbound.received", Domain: client.Ptr("EXAMPLE.com")},
		{ID: client.Ptr("evt_b4"), AccountID: e.A.ID, Type: "outbound.queued", User: client.Ptr("api-user")},
		{ID: client.Ptr("evt_b5"), AccountID: e.A.ID, Type: "inbound.received", Domain: client.Ptr("other.example")},
		{ID: client.Ptr("evt_first"), AccountID: e.A.ID, Type: "outbound.delivered"},
		{AccountID: e.A.ID, Type: "outbound.opened"},
	})
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		id  string
		n   int
		dup bool
	}
	var gotBatch []short
	for _, r := range batch {
		gotBatch = append(gotBatch, short{r.EventID, r.Deliveries, r.Duplicate != nil && *r.Duplicate})
	}
	wantBatch := []short{{"evt_b1", 1, false}, {"evt_b2", 2, false}, {"evt_b3", 1, false}, {"evt_b4", 0, false},
		{"evt_b5", 0, false}, {"evt_first", 0, true}, {gotBatch[6].id, 0, false}}
	if !reflect.DeepEqual(gotBatch, wantBatch) {
		t.Errorf("batch results = %v, want %v", gotBatch, wantBatch)
	}
	if !strings.HasPrefix(gotBatch[6].id, "evt_") || len(gotBatch[6].id) != 36 {
		t.Errorf("assigned id %q, want evt_ + 32 hex", gotBatch[6].id)
	}

	// Newest first; five records now.
	q = e.query(e.A, client.QueryRequest{})
	if q.Total != 5 {
		t.Fatalf("total = %d, want 5: %v", q.Total, eventIDs(q.Events))
	}
	if q.Events[len(q.Events)-1].ID != "evt_first" {
		t.Errorf("oldest record is not last: %v", eventIDs(q.Events))
	}
	for _, r := range q.Events {
		if r.LatestStatus != "pending" || r.TotalAttempts != 0 || !r.LastResponseCode.IsNull() {
			t.Errorf("record %s: status %s attempts %d code %v, want pending/0/null", r.ID, r.LatestStatus, r.TotalAttempts, r.LastResponseCode)
		}
	}

	count := func(name string, req client.QueryRequest, want int) {
		t.Helper()
		if q := e.query(e.A, req); q.Total != want || len(q.Events) != min(want, 50) {
			t.Errorf("query %s: total %d (%d records), want %d: %v", name, q.Total, len(q.Events), want, eventIDs(q.Events))
		}
	}
	uuidOf := func(w *client.Webhook) *openapi_types.UUID { u := w.UUID; return &u }
	count("uuid relay", client.QueryRequest{UUID: uuidOf(relay)}, 1)
	count("uuid all", client.QueryRequest{UUID: uuidOf(all)}, 3)
	count("uuid inbound", client.QueryRequest{UUID: uuidOf(inbound)}, 1)
	count("event_id", client.QueryRequest{EventID: client.Ptr("evt_b2")}, 2)
	count("event_type", client.QueryRequest{EventType: client.Ptr[client.EventType]("outbound.delivered")}, 3)
	count("event_type queued", client.QueryRequest{EventType: client.Ptr[client.EventType]("outbound.queued")}, 0)
	count("source_uid", client.QueryRequest{SourceUID: client.Ptr("message-uid-123")}, 3)
	count("status pending", client.QueryRequest{Status: client.Ptr[client.QueryStatus]("pending")}, 5)
	count("status delivered", client.QueryRequest{Status: client.Ptr[client.QueryStatus]("delivered")}, 0)
	count("status success", client.QueryRequest{Status: client.Ptr[client.QueryStatus]("success")}, 0)
	count("date_from = t2", client.QueryRequest{DateFrom: client.Ptr(t2)}, 4)
	count("date_to = t1", client.QueryRequest{DateTo: client.Ptr(t1)}, 1)
	count("date_from = date_to = t1", client.QueryRequest{DateFrom: client.Ptr(t1), DateTo: client.Ptr(t1)}, 1)
	count("date_to before all", client.QueryRequest{DateTo: client.Ptr(t1 - 1)}, 0)
	count("combined", client.QueryRequest{UUID: uuidOf(all), EventType: client.Ptr[client.EventType]("outbound.delivered")}, 2)

	// Paging.
	page := e.query(e.A, client.QueryRequest{Limit: client.Ptr(2), Offset: client.Ptr(3)})
	if page.Total != 5 || page.Limit != 2 || page.Offset != 3 || len(page.Events) != 2 {
		t.Errorf("page = total %d limit %d offset %d len %d", page.Total, page.Limit, page.Offset, len(page.Events))
	}
	full := e.query(e.A, client.QueryRequest{})
	if !reflect.DeepEqual(eventIDs(page.Events), eventIDs(full.Events[3:5])) {
		t.Errorf("page %v is not full[3:5] %v", eventIDs(page.Events), eventIDs(full.Events[3:5]))
	}
	if past := e.query(e.A, client.QueryRequest{Offset: client.Ptr(10)}); past.Total != 5 || len(past.Events) != 0 {
		t.Errorf("offset past the end = %+v", past)
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	w1 := e.create(e.A, createReq("One", "outbound.delivered"))
	w2 := e.create(e.A, createReq("Two", "outbound.delivered"))

	// Unknown event: 404.
	r := e.do(rawReq{method: "POST", path: "/webhooks/replay", body: `{"event_id":"evt_never_published"}`})
	if r.status != http.StatusNotFound {
		t.Errorf("replay of an unknown event: %d %s, want 404", r.status, r.body)
	}

	e.publish(client.Event{ID: client.Ptr("evt_replay_me"), AccountID: e.A.ID, Type: "outbound.delivered", SourceUID: client.Ptr("msg-9")})
	e.clock.Advance(time.Second)
	e.publish(client.Event{ID: client.Ptr("evt_replay_newer"), AccountID: e.A.ID, Type: "outbound.delivered", SourceUID: client.Ptr("msg-9")})
	e.publish(client.Event{ID: client.Ptr("evt_queued_only"), AccountID: e.A.ID, Type: "outbound.queued"})

	m := e.doJSON(rawReq{method: "POST", path: "/webhooks/replay", body: `{"event_id":"evt_replay_me"}`}, 200)
	if m["success"] != true || m["event_id"] != "evt_replay_me" || m["status"] != "enqueued" ||
		m["message"] != "Event re-queued for delivery" || m["deliveries"] != 2.0 {
		t.Errorf("replay = %v", m)
	}
	// Restricted to one webhook.
	u := w2.UUID
	res, err := e.A.C.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_replay_me"), UUID: &u})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || res.Status != "enqueued" || res.EventID != "evt_replay_me" || res.Deliveries != 1 || res.ReplayedBy != "event_id" {
		t.Errorf("replay to one webhook = %+v", res)
	}
	// By source_uid: every event of the message; event_id is the newest.
	res, err = e.A.C.ReplayEvent(ctx, client.ReplayRequest{SourceUID: client.Ptr("msg-9")})
	if err != nil {
		t.Fatal(err)
	}
	if res.EventID != "evt_replay_newer" || res.Deliveries != 4 || res.ReplayedBy != "source_uid" || res.SourceUID != "msg-9" {
		t.Errorf("replay by source_uid = %+v, want evt_replay_newer with 4 deliveries", res)
	}
	// Replay does not add history records; they are pending again.
	if q := e.query(e.A, client.QueryRequest{EventID: client.Ptr("evt_replay_me")}); q.Total != 2 {
		t.Errorf("history after replay: %d records, want 2", q.Total)
	}
	// An event that was never delivered anywhere cannot be replayed.
	if _, err := e.A.C.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_queued_only")}); !client.IsNotFound(err) {
		t.Errorf("replay of an undelivered event: %v, want 404", err)
	}
	// Nor to a webhook that no longer exists.
	if err := e.A.C.DeleteWebhook(ctx, w1.UUID.String()); err != nil {
		t.Fatal(err)
	}
	u1 := w1.UUID
	if _, err := e.A.C.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_replay_me"), UUID: &u1}); !client.IsNotFound(err) {
		t.Errorf("replay to a deleted webhook: %v, want 404", err)
	}
	// History stays queryable by event id after the delete.
	if q := e.query(e.A, client.QueryRequest{EventID: client.Ptr("evt_replay_me")}); q.Total != 2 {
		t.Errorf("history after delete: %d records, want 2 (it stays queryable)", q.Total)
	}
}

func clientQueryAll() client.QueryRequest { return client.QueryRequest{Limit: client.Ptr(1000)} }

// ingestEvent is an outbound.delivered event from A's "api-user".
func ingestEvent(accountID, id string) client.Event {
	return client.Event{ID: client.Ptr(id), AccountID: accountID, Type: "outbound.delivered", User: client.Ptr("api-user"),
		SourceUID: client.Ptr("src-" + id)}
}

// TestBatchBodyLimit: batches get ten times the configured limit (here 10K,
// so the test stays small; the default 1M is covered in TestMalformedRequests).
func TestBatchBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *api.Config) { c.BodyLimit = "10K" })
	big := strings.Repeat("y", 10<<10+100)
	// Over the single-request limit: refused on /events ...
	one := `{"account_id":"` + e.A.ID + `","type":"outbound.delivered","data":{"blob":"` + big + `"}}`
	if r := e.do(rawReq{method: "POST", path: "/events", body: one, header: bearer(testIngestToken)}); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("10K+ event on /events: %d, want 413", r.status)
	}
	if r := e.do(rawReq{method: "POST", path: "/webhooks/query", body: `{"event_id":"` + big + `"}`}); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("10K+ query: %d, want 413", r.status)
	}
	// ... but a batch gets ten times as much, ...
	r := e.do(rawReq{method: "POST", path: "/events/batch", body: `{"events":[` + one + `]}`, header: bearer(testIngestToken)})
	if r.status != http.StatusAccepted {
		t.Errorf("10K+ batch on /events/batch: %d %.200s, want 202", r.status, r.body)
	}
	// ... and no more, whether the length is declared or not.
	over := `{"events":[` + strings.Repeat(one+",", 9) + one + `]}`
	for _, chunked := range []bool{false, true} {
		r := e.do(rawReq{method: "POST", path: "/events/batch", body: over, header: bearer(testIngestToken), chunked: chunked})
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("100K+ batch (chunked %v): %d, want 413", chunked, r.status)
		}
	}
	if q := e.query(e.A, clientQueryAll()); q.Total != 0 {
		t.Errorf("history has %d records, want 0 (the accepted event has no webhook)", q.Total)
	}
}

// TestQueryWithoutBody: POST /webhooks/query with no body at all (no
// Content-Type, Content-Length 0), as JetEmail's SDKs send query() without
// filters, is the query {}.
func TestQueryWithoutBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(e.A, createReq("Sink", "outbound.delivered"))
	if _, err := e.ingest.PublishEvent(t.Context(), client.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("api-user")}); err != nil {
		t.Fatal(err)
	}
	r := e.do(rawReq{method: "POST", path: "/webhooks/query"})
	if r.status != http.StatusOK {
		t.Fatalf("query without a body: %d %s, want 200", r.status, r.body)
	}
	var q struct {
		Total  int `json:"total"`
		Limit  int `json:"limit"`
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.body, &q); err != nil || q.Total != 1 || len(q.Events) != 1 || q.Limit != 50 {
		t.Fatalf("query without a body = %s (%v), want the one record, limit 50", r.body, err)
	}
	// Content-Type: application/json with nothing after it is the same.
	if r := e.do(rawReq{method: "POST", path: "/webhooks/query", header: http.Header{"Content-Type": {"application/json"}}}); r.status != http.StatusOK {
		t.Errorf("empty JSON body: %d %s, want 200", r.status, r.body)
	}
	// A body still has to be JSON.
	if r := e.do(rawReq{method: "POST", path: "/webhooks/query", body: "x", header: http.Header{"Content-Type": {"text/plain"}}}); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d, want 415", r.status)
	}
}

// TestEventsIterator: the client's Events ranges over every page of a query.
func TestEventsIterator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(e.A, createReq("Sink", "outbound.delivered"))
	for range 5 {
		if _, err := e.ingest.PublishEvent(t.Context(), client.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("api-user")}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for rec, err := range e.A.C.Events(t.Context(), client.QueryRequest{Limit: client.Ptr(2)}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[rec.ID] = true
	}
	if len(seen) != 5 {
		t.Fatalf("ranged over %d records, want 5", len(seen))
	}
}
