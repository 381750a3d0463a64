package api_test

// Hostile input: a table of requests an attacker (or a badly broken client)
// might send, beyond the plainly malformed ones of malformed_test.go. Every
// one must get its specific 4xx as a JSON error (the validating transport
// checks the shape against the spec), and none may change anything: both
// accounts' webhooks (with their secrets) and histories are compared after
// every case and after the whole table. Where the input rules of the spec
// (UTF-8, numbers, control characters) refuse a value, the answer must name
// its field and why. SQL-ish strings get a table of their
// own, since a filter that merely matches nothing is honestly answered with
// an empty 200.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// Categories of hostile requests.
const (
	catTypes     = "wrong types"
	catHuge      = "huge strings"
	catUnicode   = "unicode tricks"
	catNUL       = "NUL bytes"
	catNesting   = "deep nesting"
	catDupKeys   = "duplicate keys"
	catCase      = "case-variant keys"
	catNumbers   = "negative/huge numbers"
	catSQL       = "SQL-ish strings"
	catTraversal = "path traversal"
	catArrays    = "oversized arrays"
	catMethods   = "wrong methods"
	catAuth      = "auth headers"
	catControl   = "control characters"
)

// hostileCase is one hostile request and the exact status it must get.
type hostileCase struct {
	cat  string
	name string
	req  rawReq
	want int
	// direct sends the request to the handler itself (e.serve): net/http
	// refuses to carry it (a NUL in a header value).
	direct bool
	// leak lists submitted values the answer must not echo.
	leak []string
	// field, when set, is the field the answer must name: the first
	// detail's field, shown in the message too; reason is a part of that
	// detail's reason.
	field, reason string
}

// allEvents is every subscribable event type: a webhook subscribed to all of
// them gets a delivery, and so a history record, for any event its account
// publishes (except outbound.queued), so an event accepted by mistake shows.
var allEvents = []client.SubscribableEventType{
	"outbound.delivered", "outbound.bounced", "outbound.rejected", "outbound.deferred", "outbound.spam",
	"outbound.dropped", "outbound.virus", "outbound.opened", "outbound.clicked", "outbound.complaint",
	"inbound.received", "inbound.delivered", "inbound.spam", "inbound.blocked",
}

// jobj builds a JSON object from alternating member names and raw JSON
// values, in order.
func jobj(pairs ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(pairs[i]))
		b.WriteByte(':')
		b.WriteString(pairs[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// override returns pairs with member k set to v (replaced in place, or
// appended).
func override(pairs []string, k, v string) []string {
	out := append([]string(nil), pairs...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == k {
			out[i+1] = v
			return out
		}
	}
	return append(out, k, v)
}

// jstr is s as a JSON string, byte for byte: only " and \ are escaped, so
// invalid UTF-8 and control characters reach the server as they are.
func jstr(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// jlist is a JSON array of n copies of the raw value v.
func jlist(n int, v string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(v+",", n), ",") + "]"
}

// nest wraps inner in depth JSON arrays.
func nest(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

// nestObj wraps inner in depth JSON objects {"k": ...}.
func nestObj(depth int, inner string) string {
	return strings.Repeat(`{"k":`, depth) + inner + strings.Repeat("}", depth)
}

// serve sends r to the API handler itself, without net/http's client and
// server, for what they refuse to carry; the answer is checked against the
// contract as the validating transport would.
func (e *env) serve(r rawReq) rawResp {
	e.t.Helper()
	var body io.Reader = http.NoBody
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequestWithContext(e.t.Context(), r.method, r.path, body)
	req.Header.Set("Authorization", "Bearer "+e.A.Key)
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range r.header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	b := rec.Body.Bytes()
	if err := checkContract(req, rec.Result(), b); err != nil {
		e.t.Errorf("contract violation: %s %s -> %d: %v\n\tbody: %.600s", r.method, r.path, rec.Code, err, b)
	}
	return rawResp{status: rec.Code, header: rec.Header(), body: b}
}

// hostileFixture is the state the hostile requests aim at.
type hostileFixture struct {
	idA, idA2, idB, unknown string
}

func newHostileFixture(e *env) hostileFixture {
	e.t.Helper()
	wa := e.create(e.A, createReq("Hostile A", allEvents...))
	filtered := createReq("Hostile A Filtered", allEvents...)
	filtered.FilterUsers = client.Filter("api-user")
	filtered.FilterDomains = client.Filter("example.com")
	wa2 := e.create(e.A, filtered)
	wb := e.create(e.B, createReq("Hostile B", allEvents...))
	e.publish(client.Event{ID: client.Ptr("evt_a1"), AccountID: e.A.ID, Type: "outbound.delivered",
		User: client.Ptr("api-user"), SourceUID: client.Ptr("msg-a1")})
	e.publish(client.Event{ID: client.Ptr("evt_a2"), AccountID: e.A.ID, Type: "inbound.received",
		Domain: client.Ptr("example.com"), SourceUID: client.Ptr("msg-a2")})
	e.publish(client.Event{ID: client.Ptr("evt_b1"), AccountID: e.B.ID, Type: "outbound.delivered",
		User: client.Ptr("b-user"), SourceUID: client.Ptr("msg-b1")})
	return hostileFixture{idA: wa.UUID.String(), idA2: wa2.UUID.String(), idB: wb.UUID.String(),
		unknown: "5d0c6a1e-2b3f-4e5a-9c7d-8e9f0a1b2c3d"}
}

// hostileCases builds the table. Requests carry A's key unless they say
// otherwise.
func hostileCases(e *env, fx hostileFixture) []hostileCase {
	idA, idB := fx.idA, fx.idB
	ing := bearer(testIngestToken)
	var cs []hostileCase
	add := func(cat, name string, req rawReq, want int, leak ...string) {
		cs = append(cs, hostileCase{cat: cat, name: name, req: req, want: want, leak: leak})
	}
	addDirect := func(cat, name string, req rawReq, want int, leak ...string) {
		cs = append(cs, hostileCase{cat: cat, name: name, req: req, want: want, leak: leak, direct: true})
	}
	// addNamed adds a 400 that must name field for a reason containing
	// reason.
	addNamed := func(cat, name string, req rawReq, field, reason string) {
		cs = append(cs, hostileCase{cat: cat, name: name, req: req, want: http.StatusBadRequest, field: field, reason: reason})
	}

	createBase := []string{"name", `"Hostile New"`, "url", `"https://example.com/hostile"`, "events", `["outbound.delivered"]`}
	create := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks", body: body} }
	createWith := func(k, v string) rawReq { return create(jobj(override(createBase, k, v)...)) }
	patch := func(body string) rawReq { return rawReq{method: "PATCH", path: "/webhooks", body: body} }
	patchWith := func(k, v string) rawReq {
		return patch(jobj(override([]string{"uuid", jstr(idA)}, k, v)...))
	}
	query := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks/query", body: body} }
	queryWith := func(k, v string) rawReq { return query(jobj(k, v)) }
	replay := func(body string) rawReq { return rawReq{method: "POST", path: "/webhooks/replay", body: body} }
	ingestBase := []string{"account_id", jstr(e.A.ID), "type", `"outbound.delivered"`, "user", `"api-user"`, "source_uid", `"hostile-src"`}
	ingestReq := func(body string) rawReq { return rawReq{method: "POST", path: "/events", body: body, header: ing} }
	ingestWith := func(k, v string) rawReq { return ingestReq(jobj(override(ingestBase, k, v)...)) }
	batch := func(body string) rawReq {
		return rawReq{method: "POST", path: "/events/batch", body: body, header: ing}
	}
	batchWith := func(k, v string) rawReq {
		return batch(`{"events":[` + jobj(ingestBase...) + `,` + jobj(override(ingestBase, k, v)...) + `]}`)
	}
	rotate := func(body string) rawReq {
		return rawReq{method: "POST", path: "/webhooks/" + idA + "/rotate-secret", body: body}
	}
	testSend := func(body string) rawReq {
		return rawReq{method: "POST", path: "/webhooks/" + idA + "/test", body: body}
	}

	// Wrong types: numbers, bools, arrays, objects and null where strings
	// are expected, and the other way round.
	add(catTypes, "create name true", createWith("name", `true`), 400)
	add(catTypes, "create name array", createWith("name", `["Hostile Array"]`), 400, "Hostile Array")
	add(catTypes, "create name object", createWith("name", `{"first":"Hostile Obj"}`), 400, "Hostile Obj")
	add(catTypes, "create url number", createWith("url", `42`), 400)
	add(catTypes, "create url null", createWith("url", `null`), 400)
	add(catTypes, "create url array", createWith("url", `["https://example.com/in-array"]`), 400, "in-array")
	add(catTypes, "create events object", createWith("events", `{"0":"outbound.delivered"}`), 400)
	add(catTypes, "create events null", createWith("events", `null`), 400)
	add(catTypes, "create events [1]", createWith("events", `[1]`), 400)
	add(catTypes, "create events [null]", createWith("events", `[null]`), 400)
	add(catTypes, "create events nested array", createWith("events", `[["outbound.delivered"]]`), 400)
	add(catTypes, "create status string enabled", createWith("status", `"enabled"`), 400)
	add(catTypes, "create status array", createWith("status", `[1]`), 400)
	add(catTypes, "create status object", createWith("status", `{}`), 400)
	add(catTypes, "create status null", createWith("status", `null`), 400)
	add(catTypes, "create filter_users object", createWith("filter_users", `{"u":"api-user"}`), 400)
	add(catTypes, "create filter_users [1]", createWith("filter_users", `[1]`), 400)
	add(catTypes, "create filter_users [null]", createWith("filter_users", `[null]`), 400)
	add(catTypes, "create filter_domains true", createWith("filter_domains", `true`), 400)
	add(catTypes, "create filter_domains string", createWith("filter_domains", `"example.com"`), 400)
	add(catTypes, "create body a string", create(`"name"`), 400)
	add(catTypes, "create body a number", create(`42`), 400)
	add(catTypes, "patch uuid true", patchWith("uuid", `true`), 400)
	add(catTypes, "patch uuid null", patchWith("uuid", `null`), 400)
	add(catTypes, "patch uuid in an array", patchWith("uuid", `[`+jstr(idA)+`]`), 400, idA)
	add(catTypes, "patch name number", patchWith("name", `7`), 400)
	add(catTypes, "patch url false", patchWith("url", `false`), 400)
	add(catTypes, "patch events string", patchWith("events", `"outbound.bounced"`), 400)
	add(catTypes, "patch filter_domains [{}]", patchWith("filter_domains", `[{}]`), 400)
	add(catTypes, "query event_id number", queryWith("event_id", `123`), 400)
	add(catTypes, "query source_uid bool", queryWith("source_uid", `true`), 400)
	add(catTypes, "query limit string", queryWith("limit", `"50"`), 400)
	add(catTypes, "query limit bool", queryWith("limit", `true`), 400)
	add(catTypes, "query offset null", queryWith("offset", `null`), 400)
	add(catTypes, "query limit null", queryWith("limit", `null`), 400)
	add(catTypes, "query date_from string", queryWith("date_from", `"1700000000"`), 400)
	add(catTypes, "query uuid number", queryWith("uuid", `1`), 400)
	add(catTypes, "query event_type array", queryWith("event_type", `["outbound.delivered"]`), 400)
	add(catTypes, "query status number", queryWith("status", `1`), 400)
	add(catTypes, "replay event_id number", replay(`{"event_id":1}`), 400)
	add(catTypes, "replay event_id array", replay(`{"event_id":["evt_a1"]}`), 400)
	add(catTypes, "replay source_uid object", replay(`{"source_uid":{}}`), 400)
	add(catTypes, "replay uuid false", replay(`{"event_id":"evt_a1","uuid":false}`), 400)
	add(catTypes, "ingest account_id number", ingestWith("account_id", `1`), 400)
	add(catTypes, "ingest type null", ingestWith("type", `null`), 400)
	add(catTypes, "ingest user number", ingestWith("user", `5`), 400)
	add(catTypes, "ingest domain array", ingestWith("domain", `[]`), 400)
	add(catTypes, "ingest source_uid object", ingestWith("source_uid", `{}`), 400)
	add(catTypes, "ingest source_action bool", ingestWith("source_action", `true`), 400)
	add(catTypes, "ingest id number", ingestWith("id", `7`), 400)
	add(catTypes, "ingest data array", ingestWith("data", `[1,2]`), 400)
	add(catTypes, "ingest data number", ingestWith("data", `1`), 400)
	add(catTypes, "ingest data null", ingestWith("data", `null`), 400)
	add(catTypes, "ingest created_at string", ingestWith("created_at", `"now"`), 400)
	add(catTypes, "ingest created_at bool", ingestWith("created_at", `true`), 400)
	add(catTypes, "batch events object", batch(`{"events":{"0":`+jobj(ingestBase...)+`}}`), 400)
	add(catTypes, "batch events string", batch(`{"events":"all"}`), 400)
	add(catTypes, "batch events [1]", batch(`{"events":[1]}`), 400)
	add(catTypes, "batch events [null]", batch(`{"events":[null]}`), 400)
	add(catTypes, "batch body an array", batch(`[`+jobj(ingestBase...)+`]`), 400)
	add(catTypes, "rotate grace_period bool", rotate(`{"grace_period":true}`), 400)
	add(catTypes, "rotate grace_period digits string", rotate(`{"grace_period":"86400"}`), 400)
	add(catTypes, "rotate grace_period null", rotate(`{"grace_period":null}`), 400)
	add(catTypes, "rotate grace_period null, spaced", rotate("{ \"grace_period\" :\n\tnull }"), 400)
	add(catTypes, "rotate body a number", rotate(`86400`), 400)
	add(catTypes, "rotate body a string", rotate(`"86400"`), 400)
	add(catTypes, "test event_type number", testSend(`{"event_type":1}`), 400)
	add(catTypes, "test event_type null", testSend(`{"event_type":null}`), 400)
	add(catTypes, "test body true", testSend(`true`), 400)

	// Huge strings.
	// The body limit is 1 MiB: a body of exactly 2^20 bytes is read (and
	// refused for its name), one byte more is not.
	add(catHuge, "create name of 1 MB", createWith("name", jstr(strings.Repeat("n", 1000000))), 400)
	add(catHuge, "create name of 1 MiB", createWith("name", jstr(strings.Repeat("n", 1<<20))), 413)
	sized := func(n int) rawReq {
		pad := n - len(createWith("name", `""`).body)
		return createWith("name", jstr(strings.Repeat("n", pad)))
	}
	add(catHuge, "create body of exactly 1 MiB", sized(1<<20), 400)
	add(catHuge, "create body of 1 MiB + 1 byte", sized(1<<20+1), 413)
	add(catHuge, "create url of 100 KB", createWith("url", jstr("https://example.com/"+strings.Repeat("u", 100<<10))), 400, strings.Repeat("u", 100))
	add(catHuge, "create filter_users entry of 10 KB", createWith("filter_users", `[`+jstr(strings.Repeat("f", 10<<10))+`]`), 400, strings.Repeat("f", 100))
	add(catHuge, "create filter_domains entry of 10 KB", createWith("filter_domains", `[`+jstr(strings.Repeat("d", 10<<10)+".com")+`]`), 400, strings.Repeat("d", 100))
	add(catHuge, "patch name of 100 KB", patchWith("name", jstr(strings.Repeat("n", 100<<10))), 400)
	add(catHuge, "patch filter_users entry of 10 KB", patchWith("filter_users", `[`+jstr(strings.Repeat("f", 10<<10))+`]`), 400, strings.Repeat("f", 100))
	add(catHuge, "query event_id of 10 KB", queryWith("event_id", jstr(strings.Repeat("e", 10<<10))), 400, strings.Repeat("e", 100))
	add(catHuge, "query source_uid of 10 KB", queryWith("source_uid", jstr(strings.Repeat("s", 10<<10))), 400, strings.Repeat("s", 100))
	add(catHuge, "replay event_id of 10 KB", replay(jobj("event_id", jstr(strings.Repeat("e", 10<<10)))), 400, strings.Repeat("e", 100))
	add(catHuge, "replay source_uid of 10 KB", replay(jobj("source_uid", jstr(strings.Repeat("s", 10<<10)))), 400, strings.Repeat("s", 100))
	add(catHuge, "ingest account_id of 10 KB", ingestWith("account_id", jstr(strings.Repeat("a", 10<<10))), 400, strings.Repeat("a", 100))
	add(catHuge, "ingest user of 10 KB", ingestWith("user", jstr(strings.Repeat("u", 10<<10))), 400, strings.Repeat("u", 100))
	add(catHuge, "ingest source_action of 1 KB", ingestWith("source_action", jstr(strings.Repeat("A", 1<<10))), 400, strings.Repeat("A", 100))
	add(catHuge, "ingest id of 10 KB", ingestWith("id", jstr("evt_"+strings.Repeat("i", 10<<10))), 400, strings.Repeat("i", 100))
	add(catHuge, "list cursor of 10 KB", rawReq{method: "GET", path: "/webhooks?cursor=" + strings.Repeat("c", 10<<10)}, 400, strings.Repeat("c", 100))
	add(catHuge, "uuid path of 10 KB", rawReq{method: "GET", path: "/webhooks/" + strings.Repeat("9", 10<<10)}, 404, strings.Repeat("9", 100))
	add(catHuge, "Idempotency-Key of 10 KB", rawReq{method: "POST", path: "/webhooks", body: jobj(createBase...),
		header: http.Header{"Idempotency-Key": {strings.Repeat("k", 10<<10)}}}, 400, strings.Repeat("k", 100))

	// Unicode tricks.
	for _, u := range []struct{ name, value string }{
		{"RTL override U+202E", "Hook\u202eevil"},
		{"zero-width joiner", "Ho\u200dok"},
		{"zero-width space", "Ho\u200bok"},
		{"Cyrillic homoglyph", "\u0410cme Hook"}, // А
		{"fullwidth digits", "Hook \uff11\uff12\uff13"},
		{"no-break space", "Hook\u00a0One"},
		{"line separator U+2028", "Hook\u2028One"},
		{"combining accent", "Hooke\u0301"},
		{"BOM U+FEFF", "\ufeffHook"},
	} {
		add(catUnicode, "create name with "+u.name, createWith("name", jstr(u.value)), 400)
	}
	add(catUnicode, `create name with a lone surrogate \ud800`, createWith("name", `"Hook\ud800"`), 400)
	add(catUnicode, `create name with a lone low surrogate \udc00`, createWith("name", `"Hook\udc00"`), 400)
	add(catUnicode, "create name with invalid UTF-8 bytes", createWith("name", jstr("Hook\xff\xfe")), 400)
	add(catUnicode, "create name with overlong UTF-8 (C0 AF)", createWith("name", jstr("Hook\xc0\xaf")), 400)
	add(catUnicode, "create name with a truncated UTF-8 sequence", createWith("name", jstr("Hook\xe2\x80")), 400)
	add(catUnicode, "create filter_users Cyrillic homoglyph of api-user", createWith("filter_users", `["\u0430pi-user"]`), 400)
	add(catUnicode, "create filter_users with a zero-width joiner", createWith("filter_users", `["api\u200d-user"]`), 400)
	add(catUnicode, "create filter_users fullwidth", createWith("filter_users", `["\uff41\uff50\uff49-user"]`), 400)
	add(catUnicode, "create filter_users with a lone surrogate", createWith("filter_users", `["api-user\udc00"]`), 400)
	add(catUnicode, "create filter_domains Cyrillic homoglyph", createWith("filter_domains", `["\u0435xample.com"]`), 400)
	add(catUnicode, "create filter_domains fullwidth", createWith("filter_domains", `["\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"]`), 400)
	add(catUnicode, "create filter_domains RTL override", createWith("filter_domains", `["moc.elpmaxe\u202e"]`), 400)
	add(catUnicode, "create url host with a zero-width joiner", createWith("url", `"https://exa\u200dmple.com/hook"`), 400)
	add(catUnicode, "create url fullwidth loopback 127.0.0.1", createWith("url", `"http://\uff11\uff12\uff17.0.0.1/hook"`), 400)
	add(catUnicode, "create url fullwidth dots", createWith("url", `"http://127\uff0e0\uff0e0\uff0e1/hook"`), 400)
	add(catUnicode, "create events entry with a fullwidth dot", createWith("events", `["outbound\uff0edelivered"]`), 400)
	add(catUnicode, "create events entry Cyrillic homoglyph", createWith("events", `["\u043eutbound.delivered"]`), 400)
	add(catUnicode, "create status fullwidth digit", create(`{"name":"x","url":"https://example.com/h","events":["outbound.delivered"],"status":`+"\uff11"+`}`), 400)
	add(catUnicode, "query limit fullwidth digits", query(`{"limit":`+"\uff11\uff10"+`}`), 400)
	add(catUnicode, "query uuid fullwidth digits", queryWith("uuid", jstr("\uff15"+idA[1:])), 400)
	add(catUnicode, "query event_type homoglyph", queryWith("event_type", `"\u043eutbound.delivered"`), 400)
	add(catUnicode, "replay uuid with RTL override", replay(`{"event_id":"evt_a1","uuid":"`+idA+`\u202e"}`), 400)
	add(catUnicode, "ingest type with RTL override", ingestWith("type", `"outbound.delivered\u202e"`), 400)
	add(catUnicode, "ingest id with a zero-width joiner", ingestWith("id", `"evt_a\u200d1"`), 400)
	add(catUnicode, "ingest account_id Cyrillic homoglyph of A's", ingestWith("account_id", jstr("\u0430"+e.A.ID[1:])), 400)
	add(catUnicode, "ingest account_id fullwidth", ingestWith("account_id", jstr("\uff41cc_"+e.A.ID[4:])), 400)
	add(catUnicode, "uuid path with fullwidth digits", rawReq{method: "GET", path: "/webhooks/" + url.PathEscape("\uff15"+idA[1:])}, 404)
	add(catUnicode, "uuid path with RTL override", rawReq{method: "DELETE", path: "/webhooks/" + idA + url.PathEscape("\u202e")}, 404)
	add(catUnicode, "list limit fullwidth", rawReq{method: "GET", path: "/webhooks?limit=" + url.QueryEscape("\uff15")}, 400)
	add(catUnicode, "API key with a Cyrillic homoglyph", rawReq{method: "GET", path: "/webhooks",
		header: bearer(strings.Replace(e.A.Key, "a", "\u0430", 1))}, 401)

	// NUL bytes in every string field, the uuid path and the headers.
	nul := `\u0000`
	add(catNUL, "create name", createWith("name", `"Hostile`+nul+`Name"`), 400)
	add(catNUL, "create url", createWith("url", `"https://example.com/`+nul+`hook"`), 400)
	add(catNUL, "create events entry", createWith("events", `["outbound.delivered`+nul+`"]`), 400)
	add(catNUL, "create filter_users entry", createWith("filter_users", `["api-user`+nul+`"]`), 400)
	add(catNUL, "create filter_domains entry", createWith("filter_domains", `["example.com`+nul+`"]`), 400)
	add(catNUL, "create member name", create(`{"name`+nul+`":"x","url":"https://example.com/h","events":["outbound.delivered"]}`), 400)
	add(catNUL, "create raw NUL byte (invalid JSON)", createWith("name", "\"Hostile\x00Name\""), 400)
	add(catNUL, "patch uuid", patchWith("uuid", `"`+idA+nul+`"`), 400)
	add(catNUL, "patch name", patchWith("name", `"Renamed`+nul+`"`), 400)
	add(catNUL, "patch url", patchWith("url", `"https://example.com/`+nul+`"`), 400)
	add(catNUL, "patch events entry", patchWith("events", `["`+nul+`outbound.bounced"]`), 400)
	add(catNUL, "patch filter_users entry", patchWith("filter_users", `["`+nul+`"]`), 400)
	add(catNUL, "patch filter_domains entry", patchWith("filter_domains", `["example.com`+nul+`"]`), 400)
	add(catNUL, "query uuid", queryWith("uuid", `"`+idA+nul+`"`), 400)
	add(catNUL, "query event_id", queryWith("event_id", `"evt_a1`+nul+`"`), 400)
	add(catNUL, "query source_uid", queryWith("source_uid", `"msg-a1`+nul+`"`), 400)
	add(catNUL, "query event_type", queryWith("event_type", `"outbound.delivered`+nul+`"`), 400)
	add(catNUL, "query status", queryWith("status", `"success`+nul+`"`), 400)
	add(catNUL, "replay event_id", replay(`{"event_id":"evt_a1`+nul+`"}`), 400)
	add(catNUL, "replay source_uid", replay(`{"source_uid":"msg-a1`+nul+`"}`), 400)
	add(catNUL, "replay uuid", replay(`{"event_id":"evt_a1","uuid":"`+idA+nul+`"}`), 400)
	add(catNUL, "ingest id", ingestWith("id", `"evt_hostile`+nul+`"`), 400)
	add(catNUL, "ingest account_id", ingestWith("account_id", `"`+e.A.ID+nul+`"`), 400)
	add(catNUL, "ingest type", ingestWith("type", `"outbound.delivered`+nul+`"`), 400)
	add(catNUL, "ingest user", ingestWith("user", `"api-user`+nul+`"`), 400)
	add(catNUL, "ingest domain", ingestWith("domain", `"example.com`+nul+`"`), 400)
	add(catNUL, "ingest source_uid", ingestWith("source_uid", `"src`+nul+`"`), 400)
	add(catNUL, "ingest source_action", ingestWith("source_action", `"ACCEPTED`+nul+`"`), 400)
	add(catNUL, "batch second event's user", batchWith("user", `"api-user`+nul+`"`), 400)
	add(catNUL, "batch second event's source_uid", batchWith("source_uid", `"`+nul+`"`), 400)
	add(catNUL, "test event_type", testSend(`{"event_type":"outbound.delivered`+nul+`"}`), 400)
	add(catNUL, "list cursor", rawReq{method: "GET", path: "/webhooks?cursor=%00"}, 400)
	add(catNUL, "uuid path DELETE", rawReq{method: "DELETE", path: "/webhooks/" + idA + "%00"}, 404)
	add(catNUL, "uuid path rotate", rawReq{method: "POST", path: "/webhooks/" + idA + "%00/rotate-secret"}, 404)
	add(catNUL, "uuid path test", rawReq{method: "POST", path: "/webhooks/%00" + idA + "/test"}, 404)
	add(catNUL, "uuid path only NUL", rawReq{method: "GET", path: "/webhooks/%00"}, 404)
	add(catNUL, "Idempotency-Key with invalid UTF-8", rawReq{method: "POST", path: "/webhooks", body: jobj(createBase...),
		header: http.Header{"Idempotency-Key": {"key-\xff\xfe"}}}, 400)
	addDirect(catNUL, "Idempotency-Key with a NUL", rawReq{method: "POST", path: "/webhooks", body: jobj(createBase...),
		header: http.Header{"Idempotency-Key": {"key-\x00-1"}}}, 400)
	addDirect(catNUL, "ingest Idempotency-Key with a NUL", rawReq{method: "POST", path: "/events", body: jobj(ingestBase...),
		header: http.Header{"Authorization": {"Bearer " + testIngestToken}, "Idempotency-Key": {"\x00"}}}, 400)
	addDirect(catNUL, "API key with a NUL", rawReq{method: "GET", path: "/webhooks",
		header: http.Header{"Authorization": {"Bearer " + e.A.Key + "\x00"}}}, 401)
	addDirect(catNUL, "API key with a NUL inside", rawReq{method: "DELETE", path: "/webhooks/" + idA,
		header: http.Header{"Authorization": {"Bearer " + e.A.Key[:8] + "\x00" + e.A.Key[8:]}}}, 401)
	addDirect(catNUL, "ingest token with a NUL", rawReq{method: "POST", path: "/events", body: jobj(ingestBase...),
		header: http.Header{"Authorization": {"Bearer " + testIngestToken + "\x00"}}}, 401)

	// Deep nesting: the limit is 32 levels, the top-level value included.
	add(catNesting, "create top level: 33 arrays", create(nest(33, "")), 400)
	add(catNesting, "create top level: 33 objects", create(nestObj(33, "1")), 400)
	add(catNesting, "create name nested 33 deep", createWith("name", nest(33, `"x"`)), 400)
	add(catNesting, "patch filter_users nested 40 deep", patchWith("filter_users", nest(40, `"api-user"`)), 400)
	add(catNesting, "query uuid nested 33 deep", queryWith("uuid", nestObj(33, `"x"`)), 400)
	add(catNesting, "replay body nested 1000 deep", replay(nestObj(1000, "1")), 400)
	add(catNesting, "ingest data 32 objects deep (33 levels)", ingestWith("data", nestObj(32, "1")), 400)
	add(catNesting, "ingest data 33 objects deep", ingestWith("data", nestObj(33, "1")), 400)
	add(catNesting, "ingest data arrays 5000 deep", ingestWith("data", `{"a":`+nest(5000, "1")+`}`), 400)
	add(catNesting, "batch event data 33 deep", batchWith("data", nestObj(33, `"x"`)), 400)
	add(catNesting, "rotate body 33 deep", rotate(nestObj(33, "0")), 400)
	add(catNesting, "test body 33 deep", testSend(nest(33, "")), 400)

	// Duplicate keys.
	add(catDupKeys, "create url twice", create(`{"name":"Dup","url":"https://example.com/a","url":"https://example.com/b","events":["outbound.delivered"]}`), 400)
	add(catDupKeys, "create events twice", create(`{"name":"Dup","url":"https://example.com/a","events":["outbound.delivered"],"events":["inbound.spam"]}`), 400)
	add(catDupKeys, "create name twice, one escaped", create(`{"name":"Dup","n\u0061me":"Other","url":"https://example.com/a","events":["outbound.delivered"]}`), 400)
	add(catDupKeys, "patch uuid twice: B's, then A's", patch(`{"uuid":"`+idB+`","uuid":"`+idA+`","name":"Swapped"}`), 400)
	add(catDupKeys, "patch status twice", patchWith("status", `1,"status":0`), 400)
	add(catDupKeys, "query limit twice", query(`{"limit":1,"limit":1000}`), 400)
	add(catDupKeys, "replay event_id twice", replay(`{"event_id":"evt_unknown","event_id":"evt_a1"}`), 400)
	add(catDupKeys, "ingest account_id twice: A's, then B's", ingestReq(`{"account_id":"`+e.A.ID+`","account_id":"`+e.B.ID+`","type":"outbound.delivered"}`), 400)
	add(catDupKeys, "batch events twice", batch(`{"events":[`+jobj(ingestBase...)+`],"events":[`+jobj(ingestBase...)+`]}`), 400)
	add(catDupKeys, "rotate grace_period twice", rotate(`{"grace_period":0,"grace_period":604800}`), 400)
	add(catDupKeys, "test event_type twice", testSend(`{"event_type":"outbound.delivered","event_type":"inbound.spam"}`), 400)
	add(catDupKeys, "ingest data member twice", ingestWith("data", `{"to":"a@example.com","to":"b@example.com"}`), 400, "a@example.com", "b@example.com")
	add(catDupKeys, "ingest data member twice, nested", ingestWith("data", `{"m":{"x":{"k":1,"k":2}}}`), 400)
	add(catDupKeys, "ingest data member twice, one escaped", ingestWith("data", `{"key":1,"\u006bey":2}`), 400)
	add(catDupKeys, "batch event with a member twice", batch(`{"events":[{"account_id":"`+e.A.ID+`","type":"outbound.delivered","type":"inbound.spam"}]}`), 400)

	// Case-variant keys: encoding/json matches names case-insensitively,
	// so only the schema (no unknown members) stands between "URL" and url.
	add(catCase, "create Name, URL, EVENTS", create(`{"Name":"Case","URL":"https://example.com/c","EVENTS":["outbound.delivered"]}`), 400)
	add(catCase, "create valid plus URL", create(jobj(append(append([]string(nil), createBase...), "URL", `"https://evil.example/x"`)...)), 400, "evil.example")
	add(catCase, "create valid plus Status", create(jobj(append(append([]string(nil), createBase...), "Status", `0`)...)), 400)
	add(catCase, "patch UUID", patch(`{"UUID":"`+idA+`","name":"Case"}`), 400)
	add(catCase, "patch uuid plus Uuid (B's)", patch(`{"uuid":"`+idA+`","Uuid":"`+idB+`","name":"Case"}`), 400)
	add(catCase, "patch Filter_Users", patchWith("Filter_Users", `null`), 400)
	add(catCase, "query LIMIT", query(`{"LIMIT":5}`), 400)
	add(catCase, "replay Event_Id", replay(`{"Event_Id":"evt_a1"}`), 400)
	add(catCase, "ingest Account_Id", ingestReq(`{"Account_Id":"`+e.A.ID+`","type":"outbound.delivered"}`), 400)
	add(catCase, "ingest TYPE besides type", ingestWith("TYPE", `"inbound.spam"`), 400)
	add(catCase, "batch Events", batch(`{"Events":[`+jobj(ingestBase...)+`]}`), 400)
	add(catCase, "rotate Grace_Period", rotate(`{"Grace_Period":0}`), 400)
	add(catCase, "test EVENT_TYPE", testSend(`{"EVENT_TYPE":"inbound.spam"}`), 400)

	// Negative and huge numbers.
	add(catNumbers, "create status 2^63", createWith("status", `9223372036854775808`), 400)
	add(catNumbers, "create status -2^63", createWith("status", `-9223372036854775808`), 400)
	add(catNumbers, "create status 1e309", createWith("status", `1e309`), 400)
	add(catNumbers, "create status 1.5", createWith("status", `1.5`), 400)
	add(catNumbers, "patch status -1", patchWith("status", `-1`), 400)
	add(catNumbers, "patch status 2^64", patchWith("status", `18446744073709551616`), 400)
	add(catNumbers, "query limit -1", queryWith("limit", `-1`), 400)
	add(catNumbers, "query limit 1e6", queryWith("limit", `1e6`), 400)
	add(catNumbers, "query limit 1e309", queryWith("limit", `1e309`), 400)
	add(catNumbers, "query offset 2^53", queryWith("offset", `9007199254740992`), 400)
	add(catNumbers, "query offset -1e400", queryWith("offset", `-1e400`), 400)
	add(catNumbers, "query date_to -1", queryWith("date_to", `-1`), 400)
	add(catNumbers, "query date_from -2^63", queryWith("date_from", `-9223372036854775808`), 400)
	add(catNumbers, "query date_from 2^63", queryWith("date_from", `9223372036854775808`), 400)
	add(catNumbers, "query date_to 1e309", queryWith("date_to", `1e309`), 400)
	add(catNumbers, "rotate grace_period 1e9", rotate(`{"grace_period":1e9}`), 400)
	add(catNumbers, "rotate grace_period 2^63", rotate(`{"grace_period":9223372036854775808}`), 400)
	add(catNumbers, "rotate grace_period 0.5", rotate(`{"grace_period":0.5}`), 400)
	add(catNumbers, "ingest created_at 2^62", ingestWith("created_at", `4611686018427387904`), 400)
	add(catNumbers, "ingest created_at year 3000 + 1s", ingestWith("created_at", `32503680001`), 400)
	add(catNumbers, "ingest created_at 1e309", ingestWith("created_at", `1e309`), 400)
	add(catNumbers, "ingest created_at -2^63", ingestWith("created_at", `-9223372036854775808`), 400)
	add(catNumbers, "list limit -1", rawReq{method: "GET", path: "/webhooks?limit=-1"}, 400)
	add(catNumbers, "list limit 1e6", rawReq{method: "GET", path: "/webhooks?limit=1e6"}, 400)
	add(catNumbers, "list limit 2^64", rawReq{method: "GET", path: "/webhooks?limit=18446744073709551616"}, 400)

	// SQL-ish strings where they must be refused (formats, enums, account
	// ids); where they are plain filters, see hostileHarmless.
	for i, s := range sqlish {
		add(catSQL, fmt.Sprintf("query uuid %d", i), queryWith("uuid", jstr(s)), 400)
		add(catSQL, fmt.Sprintf("replay uuid %d", i), replay(`{"event_id":"evt_a1","uuid":`+jstr(s)+`}`), 400)
		add(catSQL, fmt.Sprintf("patch uuid %d", i), patchWith("uuid", jstr(s)), 400)
		add(catSQL, fmt.Sprintf("query event_type %d", i), queryWith("event_type", jstr(s)), 400)
		add(catSQL, fmt.Sprintf("query status %d", i), queryWith("status", jstr(s)), 400)
		add(catSQL, fmt.Sprintf("ingest account_id %d", i), ingestWith("account_id", jstr(s)), 400)
		if strings.ContainsAny(s, `'";%\* `) { // "_" and "evt__1" are a fine id and name
			add(catSQL, fmt.Sprintf("ingest id %d", i), ingestWith("id", jstr("evt_"+s)), 400)
			add(catSQL, fmt.Sprintf("create name %d", i), createWith("name", jstr(s)), 400)
		}
		add(catSQL, fmt.Sprintf("list cursor %d", i), rawReq{method: "GET", path: "/webhooks?cursor=" + url.QueryEscape(s)}, 400)
	}

	// Path traversal in the uuid.
	add(catTraversal, "GET ../ then A's uuid", rawReq{method: "GET", path: "/webhooks/../webhooks/" + idA}, 404)
	add(catTraversal, "DELETE %2e%2e%2f", rawReq{method: "DELETE", path: "/webhooks/%2e%2e%2f" + idA}, 404)
	add(catTraversal, "DELETE ..%2f", rawReq{method: "DELETE", path: "/webhooks/..%2f" + idA}, 404)
	add(catTraversal, "DELETE uuid%2f..%2f", rawReq{method: "DELETE", path: "/webhooks/" + idA + "%2f..%2f"}, 404)
	add(catTraversal, "DELETE double-encoded %252e%252e%252f", rawReq{method: "DELETE", path: "/webhooks/%252e%252e%252f" + idA}, 404)
	add(catTraversal, "rotate ..%2f uuid", rawReq{method: "POST", path: "/webhooks/..%2f" + idA + "/rotate-secret"}, 404)
	add(catTraversal, "test uuid%2ftest", rawReq{method: "POST", path: "/webhooks/" + idA + "%2ftest"}, 405)
	add(catTraversal, "GET encoded slash uuid%2Frotate-secret", rawReq{method: "GET", path: "/webhooks/" + idA + "%2Frotate-secret"}, 404)
	add(catTraversal, "GET // before the uuid", rawReq{method: "GET", path: "/webhooks//" + idA}, 404)
	add(catTraversal, "DELETE // at the start", rawReq{method: "DELETE", path: "//webhooks/" + idA}, 404)
	add(catTraversal, "DELETE trailing slash", rawReq{method: "DELETE", path: "/webhooks/" + idA + "/"}, 404)
	add(catTraversal, "DELETE trailing /..", rawReq{method: "DELETE", path: "/webhooks/" + idA + "/.."}, 404)
	add(catTraversal, "GET backslashes encoded", rawReq{method: "GET", path: "/webhooks/%5c..%5c" + idA}, 404)
	add(catTraversal, "GET backslashes raw", rawReq{method: "GET", path: `/webhooks/..\..\` + idA}, 404)
	add(catTraversal, "GET single dot", rawReq{method: "GET", path: "/webhooks/."}, 404)
	add(catTraversal, "GET uuid;param", rawReq{method: "GET", path: "/webhooks/" + idA + ";x=1"}, 404)
	add(catTraversal, "GET uuid with a trailing space", rawReq{method: "GET", path: "/webhooks/" + idA + "%20"}, 404)
	add(catTraversal, "B: DELETE ..%2f..%2fwebhooks%2f<A's uuid>", rawReq{method: "DELETE", path: "/webhooks/..%2f..%2fwebhooks%2f" + idA, header: bearer(e.B.Key)}, 404)
	add(catTraversal, "patch body uuid ../", patchWith("uuid", jstr("../"+idA)), 400)
	add(catTraversal, "replay body uuid ..%2f", replay(`{"event_id":"evt_a1","uuid":"..%2f`+idA+`"}`), 400)

	// Oversized arrays.
	add(catArrays, "create events with 10,000 entries", createWith("events", jlist(10000, `"outbound.delivered"`)), 400)
	add(catArrays, "create filter_users with 101 entries", createWith("filter_users", jlist(101, `"api-user"`)), 400)
	add(catArrays, "patch filter_domains with 101 entries", patchWith("filter_domains", jlist(101, `"example.com"`)), 400)
	add(catArrays, "patch events with 10,000 entries", patchWith("events", jlist(10000, `"outbound.bounced"`)), 400)
	add(catArrays, "query uuid an array of 10,000", queryWith("uuid", jlist(10000, jstr(idA))), 400)
	var distinct []string
	for i := range 1001 {
		distinct = append(distinct, jobj(override(ingestBase, "id", jstr(fmt.Sprintf("evt_hostile_%04d", i)))...))
	}
	add(catArrays, "batch of 1001 distinct events", batch(`{"events":[`+strings.Join(distinct, ",")+`]}`), 400)
	add(catArrays, "batch of 10,000 events", batch(`{"events":`+jlist(10000, jobj(ingestBase...))+`}`), 400)

	// Wrong methods: 405 with Allow, before authentication. GET and DELETE
	// on /webhooks/query and /webhooks/replay are not here: they are
	// getWebhook and deleteWebhook with uuid "query"/"replay" (404, see
	// TestHostileRoutingOfStaticSegments).
	for _, m := range []struct{ method, path string }{
		{"PUT", "/webhooks"},
		{"PUT", "/webhooks/" + idA}, {"PATCH", "/webhooks/" + idA}, {"POST", "/webhooks/" + idA},
		{"PUT", "/webhooks/" + idA + "/rotate-secret"}, {"DELETE", "/webhooks/" + idA + "/rotate-secret"}, {"PATCH", "/webhooks/" + idA + "/rotate-secret"},
		{"GET", "/webhooks/" + idA + "/test"}, {"PUT", "/webhooks/" + idA + "/test"}, {"PATCH", "/webhooks/" + idA + "/test"},
		{"PUT", "/webhooks/query"}, {"PATCH", "/webhooks/query"},
		{"PUT", "/webhooks/replay"}, {"PATCH", "/webhooks/replay"},
		{"PUT", "/events"}, {"DELETE", "/events"}, {"PATCH", "/events"},
		{"GET", "/events/batch"}, {"PUT", "/events/batch"}, {"DELETE", "/events/batch"}, {"PATCH", "/events/batch"},
	} {
		add(catMethods, m.method+" "+strings.ReplaceAll(m.path, idA, "{uuid}"), rawReq{method: m.method, path: m.path, body: `{"name":"x"}`}, 405)
	}
	add(catMethods, "PUT /webhooks without a key", rawReq{method: "PUT", path: "/webhooks", header: http.Header{"Authorization": nil}}, 405)
	add(catMethods, "DELETE /events with the ingest token", rawReq{method: "DELETE", path: "/events", header: ing}, 405)
	add(catMethods, "PROPFIND /webhooks", rawReq{method: "PROPFIND", path: "/webhooks"}, 405)
	add(catMethods, "TRACE /webhooks/{uuid}", rawReq{method: "TRACE", path: "/webhooks/" + idA}, 405)

	// Authorization headers.
	ka, kb := "Bearer "+e.A.Key, "Bearer "+e.B.Key
	add(catAuth, "two Authorization headers: A's and B's", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {ka, kb}}}, 401)
	add(catAuth, "two Authorization headers: A's and garbage", rawReq{method: "DELETE", path: "/webhooks/" + idA, header: http.Header{"Authorization": {ka, "Bearer garbage"}}}, 401)
	add(catAuth, "two Authorization headers on ingest", rawReq{method: "POST", path: "/events", body: jobj(ingestBase...),
		header: http.Header{"Authorization": {"Bearer " + testIngestToken, "Bearer " + testIngestToken}}}, 401)
	add(catAuth, "A's key and the ingest token on /events", rawReq{method: "POST", path: "/events", body: jobj(ingestBase...),
		header: http.Header{"Authorization": {ka, "Bearer " + testIngestToken}}}, 401)
	add(catAuth, `"Bearer" with no token`, rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer"}}}, 401)
	add(catAuth, `"Bearer" and spaces`, rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer     "}}}, 401)
	add(catAuth, "Bearer, tab, key", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer\t" + e.A.Key}}}, 401)
	add(catAuth, "key twice in one header", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {ka + " " + e.A.Key}}}, 401)
	add(catAuth, "key with a suffix", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {ka + "x"}}}, 401)
	add(catAuth, "key truncated", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {ka[:len(ka)-1]}}}, 401)
	add(catAuth, "key in another case", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer " + strings.ToUpper(e.A.Key)}}}, 401)
	add(catAuth, "token scheme", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Token " + e.A.Key}}}, 401)
	add(catAuth, "a 10 KB token", rawReq{method: "GET", path: "/webhooks", header: bearer(strings.Repeat("t", 10<<10))}, 401, strings.Repeat("t", 100))
	add(catAuth, "a 10 KB token on ingest", rawReq{method: "POST", path: "/events", body: jobj(ingestBase...), header: bearer(strings.Repeat("t", 10<<10))}, 401)
	add(catAuth, "ingest token on PATCH /webhooks", rawReq{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + idA + `","status":0}`, header: ing}, 401)
	add(catAuth, "ingest token on DELETE /webhooks/{uuid}", rawReq{method: "DELETE", path: "/webhooks/" + idA, header: ing}, 401)
	add(catAuth, "ingest token on query", rawReq{method: "POST", path: "/webhooks/query", body: `{}`, header: ing}, 401)
	add(catAuth, "ingest token on replay", rawReq{method: "POST", path: "/webhooks/replay", body: `{"event_id":"evt_a1"}`, header: ing}, 401)
	add(catAuth, "ingest token on rotate", rawReq{method: "POST", path: "/webhooks/" + idA + "/rotate-secret", header: ing}, 401)
	add(catAuth, "ingest token on test", rawReq{method: "POST", path: "/webhooks/" + idA + "/test", header: ing}, 401)
	add(catAuth, "ingest token on create", rawReq{method: "POST", path: "/webhooks", body: jobj(createBase...), header: ing}, 401)
	add(catAuth, "B's key on /events", rawReq{method: "POST", path: "/events", body: jobj(override(ingestBase, "account_id", jstr(e.B.ID))...), header: bearer(e.B.Key)}, 401)
	add(catAuth, "B's key on /events/batch", rawReq{method: "POST", path: "/events/batch", body: `{"events":[` + jobj(override(ingestBase, "account_id", jstr(e.B.ID))...) + `]}`, header: bearer(e.B.Key)}, 401)
	add(catAuth, "Basic with the ingest token on /events", rawReq{method: "POST", path: "/events", body: jobj(ingestBase...),
		header: http.Header{"Authorization": {"Basic " + testIngestToken}}}, 401)
	add(catAuth, "no Authorization on replay", rawReq{method: "POST", path: "/webhooks/replay", body: `{"event_id":"evt_a1"}`, header: http.Header{"Authorization": nil}}, 401)
	add(catAuth, "no Authorization on batch", rawReq{method: "POST", path: "/events/batch", body: `{"events":[` + jobj(ingestBase...) + `]}`, header: http.Header{"Authorization": nil}}, 401)

	// Invalid UTF-8 and unpaired surrogate escapes, anywhere (event data
	// included): decoding turned them into U+FFFD, which was stored.
	const utf8Reason, surrogateReason = "not valid UTF-8", "surrogate"
	addNamed(catUnicode, "create url with invalid UTF-8", createWith("url", jstr("https://example.com/h\xff")), "/url", utf8Reason)
	addNamed(catUnicode, "create name with invalid UTF-8, named", createWith("name", jstr("Hook\xc3")), "/name", utf8Reason)
	addNamed(catUnicode, "create filter_users entry with invalid UTF-8", createWith("filter_users", `[`+jstr("api-user\xfe")+`]`), "/filter_users/0", utf8Reason)
	addNamed(catUnicode, "create member name with invalid UTF-8", create(`{"n`+"\xff"+`me":"x",`+jobj(createBase...)[1:]), "body", "member name that is "+utf8Reason)
	addNamed(catUnicode, "patch name with invalid UTF-8", patchWith("name", jstr("Renamed\xe2\x80")), "/name", utf8Reason)
	addNamed(catUnicode, "patch url with invalid UTF-8", patchWith("url", jstr("https://example.com/\xc0\xaf")), "/url", utf8Reason)
	addNamed(catUnicode, "query source_uid with invalid UTF-8", queryWith("source_uid", jstr("msg-a1\xff")), "/source_uid", utf8Reason)
	addNamed(catUnicode, "replay event_id with invalid UTF-8", replay(jobj("event_id", jstr("evt_a1\xff"))), "/event_id", utf8Reason)
	addNamed(catUnicode, "ingest user with invalid UTF-8", ingestWith("user", jstr("api-user\xff")), "/user", utf8Reason)
	addNamed(catUnicode, "ingest source_uid with invalid UTF-8", ingestWith("source_uid", jstr("src\xed\xa0\x80")), "/source_uid", utf8Reason) // CESU-8 surrogate
	addNamed(catUnicode, "ingest data string with invalid UTF-8", ingestWith("data", jobj("to", jstr("a@example.com\xff"))), "/data/to", utf8Reason)
	addNamed(catUnicode, "ingest data member name with invalid UTF-8", ingestWith("data", `{"t`+"\xff"+`o":"x"}`), "/data", "member name that is "+utf8Reason)
	addNamed(catUnicode, "batch second event's data with invalid UTF-8", batchWith("data", `{"tags":["ok",`+jstr("\xfe")+`]}`), "/events/1/data/tags/1", utf8Reason)
	addNamed(catUnicode, "rotate body a string of invalid UTF-8", rotate(jstr("\xff")), "body", utf8Reason)
	addNamed(catUnicode, `ingest source_uid with a lone surrogate \ud800`, ingestWith("source_uid", `"src\ud800"`), "/source_uid", surrogateReason)
	addNamed(catUnicode, `ingest data with a lone low surrogate \udc00`, ingestWith("data", `{"s":"\udc00x"}`), "/data/s", surrogateReason)
	addNamed(catUnicode, `ingest data with surrogates in the wrong order`, ingestWith("data", `{"s":"\ude00\ud83d"}`), "/data/s", surrogateReason)
	addNamed(catUnicode, `query event_id with a lone surrogate`, queryWith("event_id", `"evt_\udbff"`), "/event_id", surrogateReason)

	// Numbers beyond float64 and fractions where an integer is expected.
	const rangeReason, integerReason = "not a number within range", "integer"
	addNamed(catNumbers, "create status 1e999999", createWith("status", `1e999999`), "/status", rangeReason)
	addNamed(catNumbers, "query limit 1e999999", queryWith("limit", `1e999999`), "/limit", rangeReason)
	addNamed(catNumbers, "rotate grace_period -1e999999", rotate(`{"grace_period":-1e999999}`), "/grace_period", rangeReason)
	addNamed(catNumbers, "ingest created_at 1e999999", ingestWith("created_at", `1e999999`), "/created_at", rangeReason)
	addNamed(catNumbers, "ingest data 1e999999", ingestWith("data", `{"n":1e999999}`), "/data/n", rangeReason)
	addNamed(catNumbers, "ingest data -1e400 in an array", ingestWith("data", `{"a":[1,-1e400]}`), "/data/a/1", rangeReason)
	addNamed(catNumbers, "ingest data of 400 digits", ingestWith("data", `{"n":`+strings.Repeat("9", 400)+`}`), "/data/n", rangeReason)
	addNamed(catNumbers, "batch second event's data 1.8e308", batchWith("data", `{"n":1.8e308}`), "/events/1/data/n", rangeReason)
	addNamed(catNumbers, "create status 0.5", createWith("status", `0.5`), "/status", integerReason)
	addNamed(catNumbers, "patch status 0.5", patchWith("status", `0.5`), "/status", integerReason)
	addNamed(catNumbers, "create status 1.0", createWith("status", `1.0`), "/status", integerReason)
	addNamed(catNumbers, "patch status 0e0", patchWith("status", `0e0`), "/status", integerReason)
	addNamed(catNumbers, "query limit 0.5", queryWith("limit", `0.5`), "/limit", integerReason)
	addNamed(catNumbers, "query limit 1e2", queryWith("limit", `1e2`), "/limit", integerReason)
	addNamed(catNumbers, "query offset 1.5", queryWith("offset", `1.5`), "/offset", integerReason)
	addNamed(catNumbers, "query date_from 1.0", queryWith("date_from", `1.0`), "/date_from", integerReason)
	addNamed(catNumbers, "rotate grace_period 0.5, named", rotate(`{"grace_period":0.5}`), "/grace_period", integerReason)
	addNamed(catNumbers, "rotate grace_period 60.0", rotate(`{"grace_period":60.0}`), "/grace_period", integerReason)
	addNamed(catNumbers, "ingest created_at 0.5", ingestWith("created_at", `1736524800.5`), "/created_at", integerReason)
	addNamed(catNumbers, "batch second event's created_at 17e8", batchWith("created_at", `17e8`), "/events/1/created_at", integerReason)

	// Control characters (C0 and DEL) in the free text the API defines,
	// and names of only whitespace. (In event data they are the producer's
	// business: see TestHostileAccepted.)
	const controlReason, nameReason = "control characters", "not only spaces"
	for _, c := range []struct{ name, json string }{
		{"CR", `\r`}, {"LF", `\n`}, {"CRLF", `\r\n`}, {"tab", `\t`}, {"NUL", `\u0000`}, {"SOH U+0001", `\u0001`},
		{"ESC U+001B", `\u001b`}, {"unit separator U+001F", `\u001F`}, {"form feed", `\f`}, {"backspace", `\b`},
		{"DEL escaped", `\u007f`}, {"DEL raw", "\x7f"},
	} {
		addNamed(catControl, "create name with "+c.name, createWith("name", `"Hostile`+c.json+`Name"`), "/name", nameReason)
		addNamed(catControl, "patch name with "+c.name, patchWith("name", `"Renamed`+c.json+`"`), "/name", nameReason)
		addNamed(catControl, "ingest user with "+c.name, ingestWith("user", `"api-user`+c.json+`"`), "/user", controlReason)
		addNamed(catControl, "query source_uid with "+c.name, queryWith("source_uid", `"msg-a1`+c.json+`"`), "/source_uid", controlReason)
	}
	for _, ws := range []struct{ name, json string }{{"a space", `" "`}, {"spaces", `"    "`}, {"a tab", `"\t"`}, {"CR LF", `"\r\n"`}, {"spaces and a tab", `" \t "`}} {
		addNamed(catControl, "create name of only "+ws.name, createWith("name", ws.json), "/name", nameReason)
		addNamed(catControl, "patch name of only "+ws.name, patchWith("name", ws.json), "/name", nameReason)
	}
	addNamed(catControl, "create url with LF", createWith("url", `"https://example.com/h\nX-Injected: 1"`), "/url", controlReason)
	addNamed(catControl, "create url with DEL", createWith("url", `"https://example.com/h\u007f"`), "/url", controlReason)
	addNamed(catControl, "patch url with CR", patchWith("url", `"https://example.com/\r"`), "/url", controlReason)
	addNamed(catControl, "create filter_users entry with LF", createWith("filter_users", `["api-user\n"]`), "/filter_users/0", controlReason)
	addNamed(catControl, "create filter_domains entry with tab", createWith("filter_domains", `["example.com","\texample.com"]`), "/filter_domains/1", controlReason)
	addNamed(catControl, "patch filter_users entry with DEL", patchWith("filter_users", "[\"api-user\x7f\"]"), "/filter_users/0", controlReason)
	addNamed(catControl, "query event_id with CR", queryWith("event_id", `"evt_a1\r"`), "/event_id", controlReason)
	addNamed(catControl, "replay event_id with LF", replay(`{"event_id":"evt_a1\n"}`), "/event_id", controlReason)
	addNamed(catControl, "replay source_uid with tab", replay(`{"source_uid":"msg-a1\t"}`), "/source_uid", controlReason)
	addNamed(catControl, "ingest account_id with LF", ingestWith("account_id", `"`+e.A.ID+`\n"`), "/account_id", controlReason)
	addNamed(catControl, "ingest domain with CR", ingestWith("domain", `"example.com\r"`), "/domain", controlReason)
	addNamed(catControl, "ingest source_uid with U+001F", ingestWith("source_uid", `"src\u001f"`), "/source_uid", controlReason)
	addNamed(catControl, "ingest source_action with DEL", ingestWith("source_action", "\"ACCEPTED\x7f\""), "/source_action", controlReason)
	addNamed(catControl, "ingest id with LF", ingestWith("id", `"evt_a\n"`), "/id", "evt_")
	addNamed(catControl, "batch second event's user with LF", batchWith("user", `"api-user\n"`), "/events/1/user", controlReason)
	addNamed(catControl, "batch second event's domain with ESC", batchWith("domain", `"\u001bexample.com"`), "/events/1/domain", controlReason)
	addNamed(catControl, "Idempotency-Key with a tab", rawReq{method: "POST", path: "/webhooks", body: jobj(createBase...),
		header: http.Header{"Idempotency-Key": {"key\tone"}}}, "Idempotency-Key", controlReason)
	return cs
}

// sqlish are SQL injection probes and LIKE wildcards. The fixture's ids
// (evt_a1, msg-a1) are matched by "evt_%", "evt__1" and "msg-%" if a filter
// were a LIKE pattern.
var sqlish = []string{
	`' OR '1'='1`,
	`"; DROP TABLE webhooks; --`,
	`'; DELETE FROM deliveries; --`,
	`' UNION SELECT secret FROM webhooks --`,
	`%`,
	`_`,
	`evt_%`,
	`evt__1`,
	`msg-%`,
	`%' OR 1=1 --`,
	`\`,
	`*`,
}

// TestHostileRequests sends the table and checks each answer and that no
// state changed.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := newHostileFixture(e)
	cases := hostileCases(e, fx)

	counts := map[string]int{}
	seen := map[string]bool{}
	for _, c := range cases {
		counts[c.cat]++
		if seen[c.cat+"/"+c.name] {
			t.Errorf("case %q/%q appears twice", c.cat, c.name)
		}
		seen[c.cat+"/"+c.name] = true
	}
	for _, cat := range []string{catTypes, catHuge, catUnicode, catNUL, catNesting, catDupKeys, catCase, catNumbers, catSQL,
		catTraversal, catArrays, catMethods, catAuth, catControl} {
		if counts[cat] == 0 {
			t.Errorf("no case of category %q", cat)
		}
	}
	if len(cases) < 60 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	logCounts(t, "hostile requests", counts)

	initial := e.snapshot()
	before := initial
	for _, tc := range cases {
		t.Run(tc.cat+"/"+tc.name, func(t *testing.T) {
			var resp rawResp
			if tc.direct {
				resp = e.serve(tc.req)
			} else {
				resp = e.do(tc.req)
			}
			checkRefusal(t, resp, tc.want, tc.leak)
			if tc.field != "" {
				checkNamed(t, resp, tc.field, tc.reason)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("a hostile request changed state: %s", stateDiff(before, after))
				before = after
			}
		})
	}
	if final := e.snapshot(); final != initial {
		t.Errorf("the hostile requests changed state: %s", stateDiff(initial, final))
	}
	if strings.Contains(e.log.String(), "panic") {
		t.Errorf("the server log mentions a panic:\n%s", e.log.String())
	}
}

// checkRefusal asserts the exact status and the error shape of a refusal.
func checkRefusal(t *testing.T, resp rawResp, want int, leak []string) {
	t.Helper()
	if resp.status != want {
		t.Errorf("status %d, want %d; body %.300s", resp.status, want, resp.body)
	}
	if resp.status >= 500 {
		t.Errorf("server error %d: %.300s", resp.status, resp.body)
	}
	var body map[string]any
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("body is not a JSON object: %v; %.300s", err, resp.body)
	}
	if body["success"] != false {
		t.Errorf("success = %v, want false", body["success"])
	}
	if msg, _ := body["error"].(string); strings.TrimSpace(msg) == "" {
		t.Errorf("error = %v, want a non-empty sentence", body["error"])
	}
	decoded := strings.Join(jsonStrings(body), "\n")
	for _, v := range leak {
		if strings.Contains(string(resp.body), v) || strings.Contains(decoded, v) {
			t.Errorf("response echoes the submitted value %.40q: %.300s", v, resp.body)
		}
	}
	switch resp.status {
	case http.StatusUnauthorized:
		if resp.header.Get("Www-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	case http.StatusMethodNotAllowed:
		if resp.header.Get("Allow") == "" {
			t.Error("405 without Allow")
		}
	}
}

// checkNamed asserts that a refusal names field (a JSON pointer, a parameter,
// or "body") in its first detail, with a reason containing reason, and in its
// message, as validation errors do ("Invalid events/1/user: …", "Request
// body …").
func checkNamed(t *testing.T, resp rawResp, field, reason string) {
	t.Helper()
	var body struct {
		Error   string `json:"error"`
		Details []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if len(body.Details) == 0 || body.Details[0].Field != field || !strings.Contains(body.Details[0].Reason, reason) {
		t.Errorf("details %+v, want the first to name %q for a reason containing %q; body %.300s", body.Details, field, reason, resp.body)
	}
	want := "Invalid " + strings.TrimPrefix(field, "/") + ": "
	if field == "body" {
		want = "Request body "
	}
	if !strings.HasPrefix(body.Error, want) || !strings.Contains(body.Error, reason) {
		t.Errorf("error %q, want it to start %q and say %q", body.Error, want, reason)
	}
}

// stateDiff shows the first line in which two snapshots differ.
func stateDiff(before, after string) string {
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	for i := range max(len(b), len(a)) {
		var lb, la string
		if i < len(b) {
			lb = b[i]
		}
		if i < len(a) {
			la = a[i]
		}
		if lb != la {
			return fmt.Sprintf("line %d\nbefore %.700s\nafter  %.700s", i+1, lb, la)
		}
	}
	return "(no line differs)"
}

func logCounts(t *testing.T, what string, counts map[string]int) {
	t.Helper()
	cats := make([]string, 0, len(counts))
	total := 0
	for c, n := range counts {
		cats = append(cats, fmt.Sprintf("%s: %d", c, n))
		total += n
	}
	sort.Strings(cats)
	t.Logf("%d %s; %s", total, what, strings.Join(cats, ", "))
}

// TestHostileHarmless: SQL-ish strings and LIKE wildcards in the filters
// that take any text. They cannot be refused as malformed, so the honest
// answer is an empty query result (200, total 0) or a replay's 404: the
// strings are compared for equality through bound parameters, never
// interpreted. Nothing changes, and the tables are still there afterwards.
func TestHostileHarmless(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := newHostileFixture(e)
	type harmless struct {
		name string
		req  rawReq
		want int // 200: an empty query answer; 404: nothing to replay or no such webhook
	}
	var cs []harmless
	counts := map[string]int{}
	add := func(kind, name string, req rawReq, want int) {
		cs = append(cs, harmless{name: kind + " " + name, req: req, want: want})
		counts[fmt.Sprintf("%s -> %d", kind, want)]++
	}
	for i, s := range sqlish {
		n := fmt.Sprintf("%d %q", i, s)
		add("query event_id", n, rawReq{method: "POST", path: "/webhooks/query", body: jobj("event_id", jstr(s))}, 200)
		add("query source_uid", n, rawReq{method: "POST", path: "/webhooks/query", body: jobj("source_uid", jstr(s))}, 200)
		add("query event_id+source_uid", n, rawReq{method: "POST", path: "/webhooks/query", body: jobj("event_id", jstr(s), "source_uid", jstr(s))}, 200)
		add("query event_id, B's key", n, rawReq{method: "POST", path: "/webhooks/query", body: jobj("event_id", jstr(s)), header: bearer(e.B.Key)}, 200)
		add("replay event_id", n, rawReq{method: "POST", path: "/webhooks/replay", body: jobj("event_id", jstr(s))}, 404)
		add("replay source_uid", n, rawReq{method: "POST", path: "/webhooks/replay", body: jobj("source_uid", jstr(s))}, 404)
		add("replay source_uid to A's webhook", n, rawReq{method: "POST", path: "/webhooks/replay", body: jobj("source_uid", jstr(s), "uuid", jstr(fx.idA))}, 404)
		p := url.PathEscape(s)
		add("GET uuid path", n, rawReq{method: "GET", path: "/webhooks/" + p}, 404)
		add("DELETE uuid path", n, rawReq{method: "DELETE", path: "/webhooks/" + p}, 404)
		add("rotate uuid path", n, rawReq{method: "POST", path: "/webhooks/" + p + "/rotate-secret"}, 404)
		add("test uuid path", n, rawReq{method: "POST", path: "/webhooks/" + p + "/test"}, 404)
	}
	logCounts(t, "harmless SQL-ish requests", counts)

	initial := e.snapshot()
	for _, tc := range cs {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.req)
			if tc.want != http.StatusOK {
				checkRefusal(t, resp, tc.want, nil)
				return
			}
			if resp.status != http.StatusOK {
				t.Fatalf("status %d, want 200; %.300s", resp.status, resp.body)
			}
			var q struct {
				Events []json.RawMessage `json:"events"`
				Total  *int              `json:"total"`
			}
			if err := json.Unmarshal(resp.body, &q); err != nil || q.Total == nil {
				t.Fatalf("not a query answer: %v; %.300s", err, resp.body)
			}
			if *q.Total != 0 || len(q.Events) != 0 {
				t.Errorf("matched %d records (%d shown), want none: %.300s", *q.Total, len(q.Events), resp.body)
			}
		})
	}
	if final := e.snapshot(); final != initial {
		t.Errorf("the SQL-ish requests changed state: %s", stateDiff(initial, final))
	}
	// The history is still there and still exact.
	for _, tn := range []tenant{e.A, e.B} {
		if q := e.query(tn, clientQueryAll()); q.Total == 0 {
			t.Errorf("%s's history is empty after the SQL-ish requests", tn.ID)
		}
	}
}

// TestHostileRoutingOfStaticSegments: GET and DELETE on /webhooks/query and
// /webhooks/replay are routed (by Echo and by the spec's router alike) to
// getWebhook/deleteWebhook with uuid "query"/"replay", which is no webhook:
// an honest 404 after authentication, as for any unknown uuid, not a 405.
func TestHostileRoutingOfStaticSegments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.snapshot()
	unknown := e.do(rawReq{method: "GET", path: "/webhooks/6a0e7c57-1d1c-4c43-9a36-2a8f5d1b7e90"})
	for _, p := range []string{"/webhooks/query", "/webhooks/replay"} {
		for _, m := range []string{"GET", "DELETE"} {
			r := e.do(rawReq{method: m, path: p})
			checkRefusal(t, r, http.StatusNotFound, nil)
			if string(r.body) != string(unknown.body) {
				t.Errorf("%s %s: %s, want the unknown-uuid answer %s", m, p, r.body, unknown.body)
			}
			r = e.do(rawReq{method: m, path: p, header: http.Header{"Authorization": nil}})
			checkRefusal(t, r, http.StatusUnauthorized, nil)
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("state changed: %s", stateDiff(before, after))
	}
}

// TestHostileAccepted: inputs that look hostile but are valid, and are
// answered as such: the boundaries next to the refusals above.
func TestHostileAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := newHostileFixture(e)
	ing := bearer(testIngestToken)
	event := func(extra ...string) string {
		return jobj(append([]string{"account_id", jstr(e.A.ID), "type", `"outbound.delivered"`, "user", `"api-user"`}, extra...)...)
	}
	for _, c := range []struct {
		name string
		req  rawReq
		want int
	}{
		// The auth scheme is case-insensitive (RFC 9110 11.1) and may be
		// followed by more than one space.
		{"lowercase bearer", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"bearer " + e.A.Key}}}, 200},
		{"upper-case BEARER", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"BEARER " + e.A.Key}}}, 200},
		{"Bearer and two spaces", rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": {"Bearer  " + e.A.Key}}}, 200},
		// 32 levels in all (the event object and 31 in data) is the limit.
		{"data 31 objects deep", rawReq{method: "POST", path: "/events", body: event("data", nestObj(31, "1")), header: ing}, 202},
		// A NUL in event data is fine: data is kept as bytes, delivered as JSON.
		{`data with \u0000`, rawReq{method: "POST", path: "/events", body: event("data", `{"s":"a\u0000b"}`), header: ing}, 202},
		// Control characters in event data are the producer's business: only
		// the text fields the API defines refuse them.
		{`data with \n \r \t \u001f \u007f and a raw DEL`, rawReq{method: "POST", path: "/events", body: event("data", `{"s":"a\nb\r\tc\u001fd\u007fe`+"\x7f"+`"}`), header: ing}, 202},
		// Unicode done right: raw UTF-8, a surrogate pair, an escaped backslash before "ud800".
		{"data with UTF-8, a surrogate pair and \\ud800", rawReq{method: "POST", path: "/events", body: event("data", `{"s":"h\u00e9 \ud83d\ude00 \\ud800 `+"\u00e9\u2603"+`"}`), header: ing}, 202},
		// Numbers at float64's edge are fine; tiny ones round to zero, as in any reader.
		{"data with 1.7976931348623157e308 and 1e-999999", rawReq{method: "POST", path: "/events", body: event("data", `{"max":1.7976931348623157e308,"tiny":1e-999999,"big":123456789012345678901234567890}`), header: ing}, 202},
		{"name with spaces around and inside", rawReq{method: "POST", path: "/webhooks",
			body: jobj("name", `"  Spaced  Out_Hook-1 "`, "url", `"https://example.com/h"`, "events", `["outbound.delivered"]`)}, 200},
		{"query limit 100, offset 0", rawReq{method: "POST", path: "/webhooks/query", body: `{"limit":100,"offset":0}`}, 200},
		{"created_at year 3000", rawReq{method: "POST", path: "/events", body: event("created_at", "32503680000"), header: ing}, 202},
		{"uuid in upper case", rawReq{method: "GET", path: "/webhooks/" + strings.ToUpper(fx.idA)}, 200},
		{"100 filter_users entries", rawReq{method: "POST", path: "/webhooks",
			body: jobj("name", `"Many Filters"`, "url", `"https://example.com/h"`, "events", `["outbound.delivered"]`, "filter_users", jlist(100, `"api-user"`))}, 200},
		{"upper-case owned domain", rawReq{method: "POST", path: "/webhooks",
			body: jobj("name", `"Folded"`, "url", `"https://example.com/h"`, "events", `["inbound.received"]`, "filter_domains", `["EXAMPLE.COM"]`)}, 200},
	} {
		if r := e.do(c.req); r.status != c.want {
			t.Errorf("%s: %d %.300s, want %d", c.name, r.status, r.body, c.want)
		}
	}
}

// TestQueryHugeDates: date_from and date_to far beyond any event (up to
// 2^63-1) are answered honestly: a date_to in the far future includes
// everything, a date_from there nothing. (They overflowed the stores'
// millisecond timestamps once: 2^62 as date_to matched nothing, as
// date_from everything.)
func TestQueryHugeDates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	newHostileFixture(e)
	all := e.query(e.A, clientQueryAll()).Total
	if all == 0 {
		t.Fatal("A has no history")
	}
	for _, d := range []string{"32503680000", "4611686018427387904", "9223372036854775", "9223372036854775807"} {
		for field, want := range map[string]int{"date_to": all, "date_from": 0} {
			r := e.doJSON(rawReq{method: "POST", path: "/webhooks/query", body: jobj(field, d)}, http.StatusOK)
			if got, _ := r["total"].(float64); int(got) != want {
				t.Errorf("%s %s: total %v, want %d", field, d, r["total"], want)
			}
		}
		r := e.doJSON(rawReq{method: "POST", path: "/webhooks/query", body: jobj("date_from", "0", "date_to", d)}, http.StatusOK)
		if got, _ := r["total"].(float64); int(got) != all {
			t.Errorf("date_from 0, date_to %s: total %v, want %d", d, r["total"], all)
		}
	}
}

// TestBadParameterNamesTheParameter: an invalid query or header parameter is
// reported under its own name, not as "body".
func TestBadParameterNamesTheParameter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		req   rawReq
		field string
	}{
		{rawReq{method: "GET", path: "/webhooks?limit=-1"}, "limit"},
		{rawReq{method: "GET", path: "/webhooks?limit=5000"}, "limit"},
		{rawReq{method: "GET", path: "/webhooks?limit=abc"}, "limit"},
		{rawReq{method: "POST", path: "/webhooks", body: `{"name":"x","url":"https://example.com/h","events":["outbound.delivered"]}`,
			header: http.Header{"Idempotency-Key": {""}}}, "Idempotency-Key"},
	} {
		r := e.doJSON(c.req, http.StatusBadRequest)
		details, _ := r["details"].([]any)
		if len(details) == 0 {
			t.Errorf("%s: no details: %v", c.req.path, r)
			continue
		}
		if d, _ := details[0].(map[string]any); d["field"] != c.field {
			t.Errorf("%s: details %v, want field %q", c.req.path, details, c.field)
		}
		if msg, _ := r["error"].(string); strings.Contains(msg, "body") {
			t.Errorf("%s: error %q speaks of a body", c.req.path, msg)
		}
	}
}
