package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// badCase is one malformed request and the exact answer it must get.
type badCase struct {
	name string
	req  rawReq
	want int
	// leak lists submitted values that must not be echoed back.
	leak []string
	// mention lists text the error must contain (the owned-filter message
	// names the offending value by design).
	mention []string
}

// snapshot is everything a rejected request must leave unchanged: A's and B's
// webhooks, each fetched with its secret, and both delivery histories. It is
// read through the API (not the store, whose interface is not this package's
// contract) with a plain client, as these are not the responses under test.
func (e *env) snapshot() string {
	e.t.Helper()
	return e.snapshotOf(e.A, e.B)
}

func (e *env) snapshotOf(tenants ...tenant) string {
	e.t.Helper()
	var b strings.Builder
	for _, tn := range tenants {
		var list struct {
			Webhooks []struct {
				UUID string `json:"uuid"`
			} `json:"webhooks"`
		}
		raw := e.plainDo("GET", "/webhooks", "", tn.Key)
		if err := json.Unmarshal(raw, &list); err != nil {
			e.t.Fatalf("snapshot: list: %v; %s", err, raw)
		}
		fmt.Fprintf(&b, "%s list %s\n", tn.ID, raw)
		for _, w := range list.Webhooks {
			fmt.Fprintf(&b, "%s get %s\n", tn.ID, e.plainDo("GET", "/webhooks/"+w.UUID, "", tn.Key))
		}
		fmt.Fprintf(&b, "%s history %s\n", tn.ID, e.plainDo("POST", "/webhooks/query", `{"limit":1000}`, tn.Key))
	}
	return b.String()
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	existing := e.create(e.A, createReq("Existing Hook", "outbound.delivered"))
	e.publish(ingestEvent(e.A.ID, "evt_existing"))
	id := existing.UUID.String()
	unknownUUID := "0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e"

	create := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks", body: body} }
	createWith := func(field, value string) rawReq {
		fields := map[string]string{"name": `"Fine Name"`, "url": `"https://example.com/hook"`, "events": `["outbound.delivered"]`}
		fields[field] = value
		var parts []string
		for _, k := range []string{"name", "url", "events", "status", "filter_users", "filter_domains", "sneaky_field"} {
			if v, ok := fields[k]; ok && v != "" {
				parts = append(parts, fmt.Sprintf("%q:%s", k, v))
			}
		}
		return create("{" + strings.Join(parts, ",") + "}")
	}
	patch := func(body string) rawReq { return rawReq{method: "PATCH", path: "/webhooks", body: body} }
	query := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks/query", body: body} }
	replay := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks/replay", body: body} }
	ingestReq := func(body string) rawReq {
		return rawReq{method: "POST", path: "/events", body: body, header: bearer(testIngestToken)}
	}
	okEvent := `{"account_id":"` + e.A.ID + `","type":"outbound.delivered","user":"api-user"}`
	oversized := `{"name":"Big","url":"https://example.com/hook","events":["outbound.delivered"],"filter_users":["` +
		strings.Repeat("x", 1<<20) + `"]}`
	var batch1001 []string
	for range 1001 {
		batch1001 = append(batch1001, okEvent)
	}

	cases := []badCase{
		// Wrong types.
		{name: "name is a number", req: createWith("name", `123456789`), want: 400, leak: []string{"123456789"}},
		{name: "url is an object", req: createWith("url", `{"href":"https://example.com/xyz"}`), want: 400, leak: []string{"example.com/xyz"}},
		{name: "events is a string", req: createWith("events", `"outbound.delivered"`), want: 400},
		{name: "status is a string", req: createWith("status", `"1"`), want: 400},
		{name: "status is a bool", req: createWith("status", `true`), want: 400},
		{name: "filter_users is a string", req: createWith("filter_users", `"api-user"`), want: 400},
		{name: "body is an array", req: create(`[{"name":"x"}]`), want: 400},
		{name: "body is null", req: create(`null`), want: 400},
		// Name.
		{name: "name too long (65)", req: createWith("name", `"`+strings.Repeat("n", 65)+`"`), want: 400, leak: []string{strings.Repeat("n", 65)}},
		{name: "name with a dot", req: createWith("name", `"Dotted.Name"`), want: 400, leak: []string{"Dotted.Name"}},
		{name: "blank name", req: createWith("name", `"   "`), want: 400},
		{name: "empty name", req: createWith("name", `""`), want: 400},
		{name: "name null", req: createWith("name", `null`), want: 400},
		{name: "name missing", req: create(`{"url":"https://example.com/hook","events":["outbound.delivered"]}`), want: 400},
		// URL.
		{name: "url ftp", req: createWith("url", `"ftp://files.example.com/drop"`), want: 400, leak: []string{"files.example.com"}},
		{name: "url relative", req: createWith("url", `"/relative/hook-path"`), want: 400, leak: []string{"relative/hook-path"}},
		{name: "url private 10.0.0.1", req: createWith("url", `"http://10.0.0.1/hook"`), want: 400, leak: []string{"10.0.0.1"}},
		{name: "url loopback 127.0.0.1", req: createWith("url", `"http://127.0.0.1:8080/hook"`), want: 400, leak: []string{"127.0.0.1"}},
		{name: "url metadata 169.254.169.254", req: createWith("url", `"http://169.254.169.254/latest/meta-data"`), want: 400, leak: []string{"169.254.169.254", "meta-data"}},
		{name: "url loopback [::1]", req: createWith("url", `"http://[::1]:9000/hook"`), want: 400, leak: []string{"::1"}},
		{name: "url with credentials", req: createWith("url", `"https://user:hunter2@example.com/hook"`), want: 400, leak: []string{"hunter2"}},
		{name: "url localhost", req: createWith("url", `"http://localhost:3000/hook"`), want: 400, leak: []string{"localhost:3000"}},
		{name: "url loopback in hex", req: createWith("url", `"http://0x7f.1/hook"`), want: 400, leak: []string{"0x7f.1"}},
		{name: "url metadata as mapped IPv6", req: createWith("url", `"http://[::ffff:169.254.169.254]/"`), want: 400, leak: []string{"169.254.169.254"}},
		{name: "url with a space", req: createWith("url", `"https://exa mple.com/hook"`), want: 400, leak: []string{"exa mple"}},
		{name: "url missing", req: create(`{"name":"x","events":["outbound.delivered"]}`), want: 400},
		// Events.
		{name: "events empty", req: createWith("events", `[]`), want: 400},
		{name: "unknown event", req: createWith("events", `["outbound.teleported"]`), want: 400, leak: []string{"outbound.teleported"}},
		{name: "outbound.queued not subscribable", req: createWith("events", `["outbound.delivered","outbound.queued"]`), want: 400, leak: []string{"outbound.queued"}},
		{name: "duplicate events", req: createWith("events", `["outbound.delivered","outbound.delivered"]`), want: 400},
		{name: "15 events", req: createWith("events", `["outbound.delivered","outbound.bounced","outbound.rejected","outbound.deferred","outbound.spam","outbound.dropped","outbound.virus","outbound.opened","outbound.clicked","outbound.complaint","inbound.received","inbound.delivered","inbound.spam","inbound.blocked","inbound.spam"]`), want: 400},
		// Status, unknown fields.
		{name: "status 2", req: createWith("status", `2`), want: 400},
		{name: "status -1", req: createWith("status", `-1`), want: 400},
		{name: "unknown field", req: createWith("sneaky_field", `"sneaky-value-123"`), want: 400, leak: []string{"sneaky-value-123"}},
		{name: "differently cased field", req: create(`{"Name":"x","name":"Fine","url":"https://example.com/hook","events":["outbound.delivered"]}`), want: 400},
		// Ownership of filters.
		{name: "filter_users not owned", req: createWith("filter_users", `["api-user","b-user"]`), want: 400, mention: []string{`"b-user"`, "filter_users"}},
		{name: "filter_domains not owned", req: createWith("filter_domains", `["b.example.net"]`), want: 400, mention: []string{`"b.example.net"`, "filter_domains"}},
		{name: "filter_users empty string", req: createWith("filter_users", `[""]`), want: 400},
		// Body and media type.
		{name: "invalid JSON", req: create(`{"name": "x",`), want: 400, leak: []string{`"name": "x"`}},
		{name: "JSON nested too deep", req: create(`{"name":` + strings.Repeat("[", 20000) + `}`), want: 400},
		{name: "JSON with a bad token", req: create(`{"name": 'single-quoted'}`), want: 400, leak: []string{"single-quoted"}},
		{name: "empty body", req: rawReq{method: "POST", path: "/webhooks", header: http.Header{"Content-Type": {"application/json"}}}, want: 400},
		{name: "text/plain", req: rawReq{method: "POST", path: "/webhooks", body: `{"name":"x"}`, header: http.Header{"Content-Type": {"text/plain"}}}, want: 415},
		{name: "form content type", req: rawReq{method: "POST", path: "/webhooks", body: `name=x`, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}, want: 415},
		{name: "no content type", req: rawReq{method: "POST", path: "/webhooks", body: `{"name":"x"}`, header: http.Header{"Content-Type": nil}}, want: 415},
		{name: "body over the limit", req: create(oversized), want: 413},
		{name: "body over the limit, chunked", req: rawReq{method: "POST", path: "/webhooks", body: oversized, chunked: true}, want: 413},
		{name: "ingest body over the limit", req: ingestReq(`{"account_id":"` + e.A.ID + `","type":"outbound.delivered","data":{"x":"` + strings.Repeat("y", 1<<20) + `"}}`), want: 413},
		// Authentication.
		{name: "missing Authorization", req: rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": nil}}, want: 401},
		{name: "wrong key", req: rawReq{method: "GET", path: "/webhooks", header: bearer("api_wrongwrongwrongwrongwrongwrongwrongwrong12")}, want: 401, leak: []string{"wrongwrong"}},
		{name: "two Authorization headers", req: rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer " + e.A.Key, "Bearer " + e.A.Key}}}, want: 401},
		{name: "Basic instead of Bearer", req: rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+e.A.Key))}}}, want: 401},
		{name: "raw key without scheme", req: rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {e.A.Key}}}, want: 401},
		{name: "empty bearer", req: rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer "}}}, want: 401},
		{name: "ingest token as account key", req: rawReq{method: "GET", path: "/webhooks", header: bearer(testIngestToken)}, want: 401},
		{name: "auth before validation", req: rawReq{method: "POST", path: "/webhooks", body: `{not json`, header: bearer("api_nope")}, want: 401},
		{name: "wrong key on create", req: rawReq{method: "POST", path: "/webhooks", body: `{"name":"Fine","url":"https://example.com/hook","events":["outbound.delivered"]}`, header: bearer("api_nope")}, want: 401},
		// Routing.
		{name: "wrong method PUT /webhooks", req: rawReq{method: "PUT", path: "/webhooks", body: `{}`}, want: 405},
		{name: "wrong method DELETE /webhooks", req: rawReq{method: "DELETE", path: "/webhooks"}, want: 405},
		{name: "wrong method GET /events", req: rawReq{method: "GET", path: "/events"}, want: 405},
		{name: "unknown path", req: rawReq{method: "GET", path: "/webhooks-and-more/x"}, want: 404},
		{name: "unknown nested path", req: rawReq{method: "GET", path: "/webhooks/" + id + "/secret"}, want: 404},
		{name: "GET /webhooks/not-a-uuid", req: rawReq{method: "GET", path: "/webhooks/not-a-uuid-value"}, want: 404, leak: []string{"not-a-uuid-value"}},
		{name: "DELETE /webhooks/not-a-uuid", req: rawReq{method: "DELETE", path: "/webhooks/not-a-uuid-value"}, want: 404, leak: []string{"not-a-uuid-value"}},
		{name: "GET unknown uuid", req: rawReq{method: "GET", path: "/webhooks/" + unknownUUID}, want: 404, leak: []string{unknownUUID}},
		{name: "DELETE unknown uuid", req: rawReq{method: "DELETE", path: "/webhooks/" + unknownUUID}, want: 404, leak: []string{unknownUUID}},
		{name: "path traversal, encoded", req: rawReq{method: "GET", path: "/webhooks/..%2F..%2Fetc%2Fpasswd"}, want: 404, leak: []string{"passwd"}},
		{name: "path traversal, dot segments", req: rawReq{method: "GET", path: "/webhooks/../../etc/passwd"}, want: 404, leak: []string{"passwd"}},
		{name: "path traversal, dot-dot uuid", req: rawReq{method: "DELETE", path: "/webhooks/.."}, want: 404},
		{name: "uuid with a NUL", req: rawReq{method: "GET", path: "/webhooks/" + id + "%00"}, want: 404},
		// PATCH.
		{name: "PATCH without uuid", req: patch(`{"name":"No Uuid"}`), want: 400},
		{name: "PATCH with a non-uuid", req: patch(`{"uuid":"not-a-uuid-value","name":"x"}`), want: 400, leak: []string{"not-a-uuid-value"}},
		{name: "PATCH with a numeric uuid", req: patch(`{"uuid":12345}`), want: 400},
		{name: "PATCH on unknown uuid", req: patch(`{"uuid":"` + unknownUUID + `","name":"Ghost"}`), want: 404, leak: []string{unknownUUID}},
		{name: "PATCH name null", req: patch(`{"uuid":"` + id + `","name":null}`), want: 400},
		{name: "PATCH status null", req: patch(`{"uuid":"` + id + `","status":null}`), want: 400},
		{name: "PATCH events empty", req: patch(`{"uuid":"` + id + `","events":[]}`), want: 400},
		{name: "PATCH url private", req: patch(`{"uuid":"` + id + `","url":"http://10.1.2.3/x"}`), want: 400, leak: []string{"10.1.2.3"}},
		{name: "PATCH blank name", req: patch(`{"uuid":"` + id + `","name":"\t \n"}`), want: 400},
		{name: "PATCH filter_users not owned", req: patch(`{"uuid":"` + id + `","filter_users":["nobody-owns-this"]}`), want: 400, mention: []string{`"nobody-owns-this"`}},
		{name: "PATCH valid field plus a bad one", req: patch(`{"uuid":"` + id + `","name":"Half Applied","status":7}`), want: 400},
		{name: "PATCH unknown field", req: patch(`{"uuid":"` + id + `","secret":"whsec_mine"}`), want: 400, leak: []string{"whsec_mine"}},
		// Query.
		{name: "query limit 0", req: query(`{"limit":0}`), want: 400},
		{name: "query limit 1001", req: query(`{"limit":1001}`), want: 400, leak: []string{"1001"}},
		{name: "query limit not a number", req: query(`{"limit":"ten-ish-value"}`), want: 400, leak: []string{"ten-ish-value"}},
		{name: "query limit not an integer", req: query(`{"limit":50.5}`), want: 400, leak: []string{"50.5"}},
		{name: "query offset over the maximum", req: query(`{"offset":1000001}`), want: 400, leak: []string{"1000001"}},
		{name: "query date beyond int64", req: query(`{"date_from":1e30}`), want: 400},
		{name: "query negative offset", req: query(`{"offset":-7}`), want: 400, leak: []string{"-7"}},
		{name: "query unknown status", req: query(`{"status":"exploded"}`), want: 400, leak: []string{"exploded"}},
		{name: "query unknown event_type", req: query(`{"event_type":"outbound.vanished"}`), want: 400, leak: []string{"outbound.vanished"}},
		{name: "query date_from after date_to", req: query(`{"date_from":1700000999,"date_to":1700000111}`), want: 400, leak: []string{"1700000999", "1700000111"}},
		{name: "query negative date", req: query(`{"date_from":-5}`), want: 400},
		{name: "query uuid not a uuid", req: query(`{"uuid":"zzz-not-uuid"}`), want: 400, leak: []string{"zzz-not-uuid"}},
		{name: "query unknown field", req: query(`{"page":2}`), want: 400},
		// An empty query body is the query {} (TestQueryWithoutBody).
		// Replay.
		{name: "replay with both", req: replay(`{"event_id":"evt_existing","source_uid":"m-1"}`), want: 400},
		{name: "replay with neither", req: replay(`{}`), want: 400},
		{name: "replay with only uuid", req: replay(`{"uuid":"` + id + `"}`), want: 400},
		{name: "replay empty event_id", req: replay(`{"event_id":""}`), want: 400},
		{name: "replay unknown event", req: replay(`{"event_id":"evt_unknown_one"}`), want: 404, leak: []string{"evt_unknown_one"}},
		{name: "replay bad uuid", req: replay(`{"event_id":"evt_existing","uuid":"nope-nope"}`), want: 400, leak: []string{"nope-nope"}},
		// Ingest.
		{name: "ingest wrong token", req: rawReq{method: "POST", path: "/events", body: okEvent, header: bearer("not-the-ingest-token-42")}, want: 401, leak: []string{"not-the-ingest-token-42"}},
		{name: "ingest without token", req: rawReq{method: "POST", path: "/events", body: okEvent, header: http.Header{"Authorization": nil}}, want: 401},
		{name: "ingest with an account key", req: rawReq{method: "POST", path: "/events", body: okEvent}, want: 401},
		{name: "ingest batch with an account key", req: rawReq{method: "POST", path: "/events/batch", body: `{"events":[` + okEvent + `]}`}, want: 401},
		{name: "ingest unknown account", req: ingestReq(`{"account_id":"acc_ffffffffffffffff","type":"outbound.delivered"}`), want: 400},
		{name: "ingest unknown type", req: ingestReq(`{"account_id":"` + e.A.ID + `","type":"outbound.imaginary"}`), want: 400, leak: []string{"outbound.imaginary"}},
		{name: "ingest bad id pattern", req: ingestReq(`{"id":"evt_has spaces!","account_id":"` + e.A.ID + `","type":"outbound.delivered"}`), want: 400, leak: []string{"has spaces!"}},
		{name: "ingest id without prefix", req: ingestReq(`{"id":"event-1","account_id":"` + e.A.ID + `","type":"outbound.delivered"}`), want: 400, leak: []string{"event-1"}},
		{name: "ingest missing account_id", req: ingestReq(`{"type":"outbound.delivered"}`), want: 400},
		{name: "ingest data not an object", req: ingestReq(`{"account_id":"` + e.A.ID + `","type":"outbound.delivered","data":"plain-string-data"}`), want: 400, leak: []string{"plain-string-data"}},
		{name: "ingest negative created_at", req: ingestReq(`{"account_id":"` + e.A.ID + `","type":"outbound.delivered","created_at":-1}`), want: 400},
		{name: "batch empty", req: rawReq{method: "POST", path: "/events/batch", body: `{"events":[]}`, header: bearer(testIngestToken)}, want: 400},
		{name: "batch with one bad event", req: rawReq{method: "POST", path: "/events/batch", header: bearer(testIngestToken),
			body: `{"events":[` + okEvent + `,{"account_id":"acc_ffffffffffffffff","type":"outbound.delivered"}]}`}, want: 400},
		{name: "batch of 1001", req: rawReq{method: "POST", path: "/events/batch", header: bearer(testIngestToken),
			body: `{"events":[` + strings.Join(batch1001, ",") + `]}`}, want: 400},
	}
	// Rotation, test sends and list paging.
	rotate := func(body string) rawReq {
		return rawReq{method: "POST", path: "/webhooks/" + id + "/rotate-secret", body: body}
	}
	testSend := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks/" + id + "/test", body: body} }
	cases = append(cases,
		badCase{name: "rotate grace negative", req: rotate(`{"grace_period":-60}`), want: 400, leak: []string{"-60"}},
		badCase{name: "rotate grace over 7 days", req: rotate(`{"grace_period":604801}`), want: 400, leak: []string{"604801"}},
		badCase{name: "rotate grace a string", req: rotate(`{"grace_period":"one-day-please"}`), want: 400, leak: []string{"one-day-please"}},
		badCase{name: "rotate unknown field", req: rotate(`{"secret":"whsec_chosen-by-me"}`), want: 400, leak: []string{"whsec_chosen-by-me"}},
		badCase{name: "rotate invalid JSON", req: rotate(`{"grace_period":`), want: 400},
		badCase{name: "rotate unknown uuid", req: rawReq{method: "POST", path: "/webhooks/" + unknownUUID + "/rotate-secret"}, want: 404, leak: []string{unknownUUID}},
		badCase{name: "rotate not a uuid", req: rawReq{method: "POST", path: "/webhooks/not-a-uuid-value/rotate-secret", body: `{}`}, want: 404, leak: []string{"not-a-uuid-value"}},
		badCase{name: "rotate with GET", req: rawReq{method: "GET", path: "/webhooks/" + id + "/rotate-secret"}, want: 405},
		badCase{name: "test event_type not subscribable", req: testSend(`{"event_type":"outbound.queued"}`), want: 400, leak: []string{"outbound.queued"}},
		badCase{name: "test unknown event_type", req: testSend(`{"event_type":"outbound.imploded"}`), want: 400, leak: []string{"outbound.imploded"}},
		badCase{name: "test unknown field", req: testSend(`{"url":"https://evil.example/redirect-here"}`), want: 400, leak: []string{"evil.example"}},
		badCase{name: "test body an array", req: testSend(`["outbound.delivered"]`), want: 400},
		badCase{name: "test unknown uuid", req: rawReq{method: "POST", path: "/webhooks/" + unknownUUID + "/test"}, want: 404, leak: []string{unknownUUID}},
		badCase{name: "test with DELETE", req: rawReq{method: "DELETE", path: "/webhooks/" + id + "/test"}, want: 405},
		badCase{name: "list limit 0", req: rawReq{method: "GET", path: "/webhooks?limit=0"}, want: 400},
		badCase{name: "list limit 1001", req: rawReq{method: "GET", path: "/webhooks?limit=1001"}, want: 400, leak: []string{"1001"}},
		badCase{name: "list limit not a number", req: rawReq{method: "GET", path: "/webhooks?limit=lots-please"}, want: 400, leak: []string{"lots-please"}},
		badCase{name: "list garbage cursor", req: rawReq{method: "GET", path: "/webhooks?cursor=not-our-cursor-value"}, want: 400, leak: []string{"not-our-cursor-value"}},
		badCase{name: "list cursor too long", req: rawReq{method: "GET", path: "/webhooks?cursor=" + strings.Repeat("c", 201)}, want: 400},
		badCase{name: "idempotency key too long", req: rawReq{method: "POST", path: "/webhooks", header: http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}},
			body: `{"name":"Fine","url":"https://example.com/hook","events":["outbound.delivered"]}`}, want: 400},
	)
	// Every operation with a JSON body refuses another media type (415) and
	// a body over the limit, declared or chunked (413). Batches get ten
	// times the limit; TestBatchBodyLimit covers their 413.
	pad := strings.Repeat("p", 1<<20)
	for _, op := range []struct {
		name, path, body string
		ingest           bool
	}{
		{"create", "/webhooks", `{"name":"x","url":"https://example.com/h","events":["outbound.delivered"],"pad":"` + pad + `"}`, false},
		{"update", "/webhooks", `{"uuid":"` + id + `","name":"x","pad":"` + pad + `"}`, false},
		{"rotate", "/webhooks/" + id + "/rotate-secret", `{"grace_period":0,"pad":"` + pad + `"}`, false},
		{"test", "/webhooks/" + id + "/test", `{"pad":"` + pad + `"}`, false},
		{"query", "/webhooks/query", `{"pad":"` + pad + `"}`, false},
		{"replay", "/webhooks/replay", `{"event_id":"evt_existing","pad":"` + pad + `"}`, false},
		{"ingest", "/events", `{"account_id":"` + e.A.ID + `","type":"outbound.delivered","pad":"` + pad + `"}`, true},
		{"batch", "/events/batch", `{"events":[]}`, true},
	} {
		method := "POST"
		if op.name == "update" {
			method = "PATCH"
		}
		h := http.Header{}
		if op.ingest {
			h = bearer(testIngestToken)
		}
		for _, ct := range []string{"text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json-patch+json", "application/jsonl"} {
			hc := h.Clone()
			hc.Set("Content-Type", ct)
			cases = append(cases, badCase{name: op.name + " as " + ct, req: rawReq{method: method, path: op.path, body: `{"x":1}`, header: hc}, want: 415})
		}
		if op.name != "batch" {
			cases = append(cases,
				badCase{name: op.name + " body over the limit", req: rawReq{method: method, path: op.path, body: op.body, header: h}, want: 413},
				badCase{name: op.name + " body over the limit, chunked", req: rawReq{method: method, path: op.path, body: op.body, header: h, chunked: true}, want: 413})
		}
	}

	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}

	// Every case targets A (B's names appear only as values), so A is
	// checked after each case and B once at the end.
	initial := e.snapshot()
	before := e.snapshotOf(e.A)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.req)
			if resp.status != tc.want {
				t.Errorf("status %d, want %d; body %.300s", resp.status, tc.want, resp.body)
			}
			var body map[string]any
			if err := json.Unmarshal(resp.body, &body); err != nil {
				t.Fatalf("body is not a JSON object: %v; %.300s", err, resp.body)
			}
			if body["success"] != false {
				t.Errorf(`success = %v, want false`, body["success"])
			}
			msg, _ := body["error"].(string)
			if strings.TrimSpace(msg) == "" {
				t.Errorf("error = %v, want a non-empty sentence", body["error"])
			}
			if frag := goTextIn(resp.body); frag != "" {
				t.Errorf("response contains Go error text %q: %s", frag, resp.body)
			}
			decoded := strings.Join(jsonStrings(body), "\n")
			for _, v := range tc.leak {
				if strings.Contains(string(resp.body), v) || strings.Contains(decoded, v) {
					t.Errorf("response echoes the submitted value %q: %.300s", v, resp.body)
				}
			}
			for _, v := range tc.mention {
				if !strings.Contains(msg, v) {
					t.Errorf("error %q does not mention %s", msg, v)
				}
			}
			if resp.status == http.StatusUnauthorized && resp.header.Get("Www-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if after := e.snapshotOf(e.A); after != before {
				t.Errorf("a rejected request changed state:\nbefore %s\nafter  %s", before, after)
				before = after
			}
		})
	}
	if final := e.snapshot(); final != initial {
		t.Errorf("the rejected requests changed state:\nbefore %s\nafter  %s", initial, final)
	}
}
