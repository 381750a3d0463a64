package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// headerSecret is a header value that must never appear in an error answer
// or the log.
const headerSecret = "Bearer hv_5ecret-Value-Never-Logged"

// headersOf returns w's custom headers (nil for none).
func headersOf(w *client.Webhook) map[string]string {
	if w.Headers == nil {
		return nil
	}
	return map[string]string(*w.Headers)
}

// TestWebhookHeaders: custom headers on create, get and update, shown only
// to the owning account and never in lists; absent for a webhook without
// any; replaced, kept or cleared as the update says; sent to a real
// receiver on every attempt, test send and replay, before the service's
// own headers; never in the log. Also run on PostgreSQL.
func TestWebhookHeaders(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	ctx := t.Context()
	rcv := newReceiver(t, http.StatusOK, "ok")

	hdrs := map[string]string{"Authorization": headerSecret, "x-tenant": "acme", "X-Tab": "a\tb"}
	req := createReq("Headed Hook", "outbound.delivered")
	req.URL = rcv.URL
	req.Headers = client.Headers(hdrs)
	created := e.create(e.A, req)
	if got := headersOf(created); !maps.Equal(got, hdrs) {
		t.Fatalf("create answered headers %q, want %q", got, hdrs)
	}
	id := created.UUID.String()
	if got := headersOf(e.get(e.A, created.UUID)); !maps.Equal(got, hdrs) {
		t.Fatalf("get answered headers %q, want %q", got, hdrs)
	}

	// A webhook without headers has no headers member at all (a JetEmail
	// client sees what it always saw), and lists never carry them.
	plain := e.create(e.A, createReq("Plain Hook", "outbound.delivered"))
	if raw := e.plainDo("GET", "/webhooks/"+plain.UUID.String(), "", e.A.Key); strings.Contains(string(raw), `"headers"`) {
		t.Fatalf("GET of a webhook without headers: %s", raw)
	}
	if raw := e.plainDo("GET", "/webhooks", "", e.A.Key); strings.Contains(string(raw), `"headers"`) || strings.Contains(string(raw), "acme") {
		t.Fatalf("the list shows headers: %s", raw)
	}

	// Another account: the same 404 as for any unknown uuid, and its
	// update changes nothing.
	if _, err := e.B.C.GetWebhook(ctx, id); !client.IsNotFound(err) {
		t.Fatalf("B's GET of A's webhook: %v", err)
	}
	err := e.B.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: created.UUID, Headers: client.SetHeaders(map[string]string{"X-Evil": "1"})})
	if !client.IsNotFound(err) {
		t.Fatalf("B's update of A's headers: %v", err)
	}

	// Delivered with the headers, under canonical names, the service's own
	// headers untouched and the signatures valid.
	e.runEngine()
	e.publish(ingestEvent(e.A.ID, "evt_headers_1"))
	waitFor(t, "the first delivery", func() bool { return len(rcv.requests()) >= 1 })
	d := rcv.requests()[0]
	want := map[string]string{"Authorization": headerSecret, "X-Tenant": "acme", "X-Tab": "a\tb", "Content-Type": "application/json"}
	for k, v := range want {
		if got := d.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("delivery header %s = %q, want [%q]", k, got, v)
		}
	}
	v, err := signature.NewVerifier([]string{*created.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(d.header, d.body); err != nil {
		t.Fatalf("delivery does not verify: %v", err)
	}

	// Update without headers keeps them; with headers replaces the set.
	name := "Renamed Hook"
	if err := e.A.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: created.UUID, Name: &name}); err != nil {
		t.Fatal(err)
	}
	if got := headersOf(e.get(e.A, created.UUID)); !maps.Equal(got, hdrs) {
		t.Fatalf("an update without headers changed them: %q", got)
	}
	next := map[string]string{"X-Route": "eu-1"}
	if err := e.A.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: created.UUID, Headers: client.SetHeaders(next)}); err != nil {
		t.Fatal(err)
	}
	if got := headersOf(e.get(e.A, created.UUID)); !maps.Equal(got, next) {
		t.Fatalf("headers after replacing = %q, want %q", got, next)
	}

	// A test send and a replay carry the current set, and nothing of the old.
	res, err := e.A.C.TestWebhook(ctx, id, "outbound.delivered")
	if err != nil || !res.Delivered {
		t.Fatalf("test send: %+v, %v", res, err)
	}
	if _, err := e.A.C.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_headers_1"), UUID: &created.UUID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the test send and the replay", func() bool { return len(rcv.requests()) >= 3 })
	for i, d := range rcv.requests()[1:3] {
		if d.header.Get("X-Route") != "eu-1" || d.header.Get("Authorization") != "" || d.header.Get("X-Tenant") != "" {
			t.Errorf("delivery %d after the update has headers %v", i+2, d.header)
		}
	}

	// The rotate-secret answer carries them too.
	rotated, err := e.A.C.RotateSecret(ctx, id, 0)
	if err != nil || !maps.Equal(headersOf(rotated), next) {
		t.Fatalf("rotate answered %v, %v", rotated, err)
	}

	// {} clears, a new set comes back, null clears again.
	for _, clear := range []string{`{}`, `null`} {
		e.doJSON(rawReq{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + id + `","headers":{"X-Back":"1"}}`}, 200)
		if got := headersOf(e.get(e.A, created.UUID)); !maps.Equal(got, map[string]string{"X-Back": "1"}) {
			t.Fatalf("headers set again = %q", got)
		}
		e.doJSON(rawReq{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + id + `","headers":` + clear + `}`}, 200)
		if got := headersOf(e.get(e.A, created.UUID)); got != nil {
			t.Fatalf("headers after PATCH headers %s = %q", clear, got)
		}
	}
	if err := e.A.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: created.UUID, Headers: client.SetHeaders(next)}); err != nil {
		t.Fatal(err)
	}
	if err := e.A.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: created.UUID, Headers: client.ClearHeaders()}); err != nil {
		t.Fatal(err)
	}
	if got := headersOf(e.get(e.A, created.UUID)); got != nil {
		t.Fatalf("headers after ClearHeaders = %q", got)
	}
	e.publish(ingestEvent(e.A.ID, "evt_headers_2"))
	waitFor(t, "the delivery after clearing", func() bool { return len(rcv.requests()) >= 4 })
	if d := rcv.requests()[3]; d.header.Get("X-Route") != "" {
		t.Errorf("a delivery after clearing still has X-Route: %v", d.header)
	}

	if strings.Contains(e.log.String(), "5ecret-Value") {
		t.Errorf("a header value reached the log:\n%s", e.log.String())
	}
}

// TestWebhookHeadersRefused: each kind of invalid or protected header, on
// create and on update, is a 400 in the error shape that names the header
// (or the limit) and never quotes the value, and changes nothing. Also run
// on PostgreSQL.
func TestWebhookHeadersRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	existing := e.create(e.A, client.CreateWebhookRequest{Name: "Existing", URL: "https://example.com/hook",
		Events: []client.SubscribableEventType{"outbound.delivered"}, Headers: client.Headers(map[string]string{"X-Kept": "kept"})})
	id := existing.UUID.String()
	before := e.snapshot()

	const secret = "SeCrEt-v4lue"
	many := map[string]string{}
	for i := range 21 {
		many[fmt.Sprintf("X-H%02d", i)] = secret
	}
	cases := []struct {
		name    string
		headers string // the headers member, as JSON
		field   string // the first detail's field
		mention string // in the error sentence
	}{
		{"not a token: space", `{"X Tenant":"` + secret + `"}`, "/headers/X Tenant", "not a valid header name"},
		{"not a token: colon", `{"X-Tenant:":"` + secret + `"}`, "/headers/X-Tenant:", "not a valid header name"},
		{"not a token: slash", `{"X/Y":"` + secret + `"}`, "/headers/X~1Y", "not a valid header name"},
		{"not a token: non-ASCII", `{"X-Ténant":"` + secret + `"}`, "/headers/X-Ténant", "not a valid header name"},
		{"not a token: CRLF", `{"X-A\r\nHost":"` + secret + `"}`, "/headers/X-A\r\nHost", "not a valid header name"},
		{"pseudo-header", `{":authority":"` + secret + `"}`, "/headers/:authority", "not a valid header name"},
		{"empty name", `{"":"` + secret + `"}`, "/headers/", "empty header name"},
		{"name too long", `{"X-` + strings.Repeat("n", 255) + `":"` + secret + `"}`, "/headers/X-" + strings.Repeat("n", 255), "longer than 256"},
		{"duplicate by case", `{"X-Dup":"` + secret + `","x-dup":"` + secret + `"}`, "/headers/x-dup", "twice"},
		{"value with CR", `{"X-A":"a\r` + secret + `"}`, "/headers/X-A", "control characters"},
		{"value with LF", `{"X-A":"a\n` + secret + `"}`, "/headers/X-A", "control characters"},
		{"value with CRLF injection", `{"X-A":"a\r\nX-Injected: ` + secret + `"}`, "/headers/X-A", "control characters"},
		{"value with NUL", `{"X-A":"a\u0000` + secret + `"}`, "/headers/X-A", "control characters"},
		{"value with DEL", `{"X-A":"a\u007f` + secret + `"}`, "/headers/X-A", "control characters"},
		{"value with a vertical tab", `{"X-A":"a\u000b` + secret + `"}`, "/headers/X-A", "control characters"},
		{"value with a leading space", `{"X-A":" ` + secret + `"}`, "/headers/X-A", "begins or ends"},
		{"value with a trailing tab", `{"X-A":"` + secret + `\t"}`, "/headers/X-A", "begins or ends"},
		{"value not a string", `{"X-A":12345}`, "/headers/X-A", "string"},
		{"value too long", `{"X-A":"` + secret + strings.Repeat("v", 4096) + `"}`, "/headers/X-A", "4096"},
		{"too many", mustJSON(t, many), "/headers", "20"},
		{"too large in all", `{"X-A":"` + secret + strings.Repeat("a", 2048) + `","X-B":"` + strings.Repeat("b", 2048) + `"}`, "/headers", "4096 bytes"},
		{"not an object", `"X-A: ` + secret + `"`, "/headers", "object"},
		{"an array", `[["X-A","` + secret + `"]]`, "/headers", "object"},
		// Protected names, each with its reason.
		{"Host", `{"Host":"` + secret + `"}`, "/headers/Host", "reserved"},
		{"Content-Type", `{"Content-Type":"` + secret + `"}`, "/headers/Content-Type", "reserved"},
		{"content-length", `{"content-length":"` + secret + `"}`, "/headers/content-length", "reserved"},
		{"Content-Encoding", `{"Content-Encoding":"` + secret + `"}`, "/headers/Content-Encoding", "reserved"},
		{"Transfer-Encoding", `{"Transfer-Encoding":"` + secret + `"}`, "/headers/Transfer-Encoding", "hop-by-hop"},
		{"Connection", `{"Connection":"` + secret + `"}`, "/headers/Connection", "hop-by-hop"},
		{"Keep-Alive", `{"Keep-Alive":"` + secret + `"}`, "/headers/Keep-Alive", "hop-by-hop"},
		{"Upgrade", `{"Upgrade":"` + secret + `"}`, "/headers/Upgrade", "hop-by-hop"},
		{"TE", `{"TE":"` + secret + `"}`, "/headers/TE", "hop-by-hop"},
		{"Trailer", `{"Trailer":"` + secret + `"}`, "/headers/Trailer", "hop-by-hop"},
		{"Proxy-Authorization", `{"Proxy-Authorization":"` + secret + `"}`, "/headers/Proxy-Authorization", "hop-by-hop"},
		{"User-Agent", `{"User-Agent":"` + secret + `"}`, "/headers/User-Agent", "identifies itself"},
		{"Accept-Encoding", `{"Accept-Encoding":"` + secret + `"}`, "/headers/Accept-Encoding", "encoding"},
		{"Expect", `{"Expect":"` + secret + `"}`, "/headers/Expect", "100 Continue"},
		{"X-Webhook-Signature", `{"X-Webhook-Signature":"` + secret + `"}`, "/headers/X-Webhook-Signature", "signatures"},
		{"X-Webhook-ID", `{"X-Webhook-ID":"` + secret + `"}`, "/headers/X-Webhook-ID", "signatures"},
		{"x-webhook-timestamp", `{"x-webhook-timestamp":"` + secret + `"}`, "/headers/x-webhook-timestamp", "signatures"},
		{"webhook-signature", `{"webhook-signature":"` + secret + `"}`, "/headers/webhook-signature", "signatures"},
		{"Webhook-Id", `{"Webhook-Id":"` + secret + `"}`, "/headers/Webhook-Id", "signatures"},
		{"webhook-timestamp", `{"webhook-timestamp":"` + secret + `"}`, "/headers/webhook-timestamp", "signatures"},
		{"X-Webhook-Anything", `{"X-Webhook-Anything":"` + secret + `"}`, "/headers/X-Webhook-Anything", "signatures"},
		// One refused header among fine ones refuses the whole request.
		{"one bad among good", `{"X-Good":"fine","Host":"` + secret + `","X-Also-Good":"fine"}`, "/headers/Host", "reserved"},
	}
	requests := map[string]func(string) rawReq{
		"create": func(h string) rawReq {
			return rawReq{method: "POST", path: "/webhooks",
				body: `{"name":"Refused","url":"https://example.com/hook","events":["outbound.delivered"],"headers":` + h + `}`}
		},
		"update": func(h string) rawReq {
			return rawReq{method: "PATCH", path: "/webhooks", body: `{"uuid":"` + id + `","name":"Changed","headers":` + h + `}`}
		},
	}
	for _, tc := range cases {
		for op, mk := range requests {
			resp := e.do(mk(tc.headers))
			var body struct {
				Success *bool  `json:"success"`
				Error   string `json:"error"`
				Details []struct {
					Field  string `json:"field"`
					Reason string `json:"reason"`
				} `json:"details"`
			}
			if err := json.Unmarshal(resp.body, &body); err != nil || resp.status != 400 || body.Success == nil || *body.Success {
				t.Errorf("%s %s: %d %s, want a 400 in the error shape", op, tc.name, resp.status, resp.body)
				continue
			}
			if len(body.Details) == 0 || body.Details[0].Field != tc.field {
				t.Errorf("%s %s: details %+v, want the first naming %q", op, tc.name, body.Details, tc.field)
			}
			if !strings.Contains(body.Error, tc.mention) && (len(body.Details) == 0 || !strings.Contains(body.Details[0].Reason, tc.mention)) {
				t.Errorf("%s %s: %q (%+v) does not say %q", op, tc.name, body.Error, body.Details, tc.mention)
			}
			if strings.Contains(string(resp.body), secret) || strings.Contains(string(resp.body), "v4lue") {
				t.Errorf("%s %s: the answer quotes the value: %s", op, tc.name, resp.body)
			}
		}
	}
	// Null on create: there is nothing to clear yet, so it is refused too.
	if r := e.do(rawReq{method: "POST", path: "/webhooks",
		body: `{"name":"Refused","url":"https://example.com/hook","events":["outbound.delivered"],"headers":null}`}); r.status != 400 {
		t.Errorf("create with headers null: %d %s", r.status, r.body)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("refused requests changed something:\nbefore %s\nafter  %s", before, after)
	}
	if strings.Contains(e.log.String(), secret) {
		t.Errorf("a refused value reached the log:\n%s", e.log.String())
	}

	// The limits themselves are accepted: 20 headers, 4096 bytes in all.
	twenty := map[string]string{}
	for i := range 20 {
		twenty[fmt.Sprintf("X-H%02d", i)] = "v"
	}
	if err := e.A.C.UpdateWebhook(t.Context(), client.UpdateWebhookRequest{UUID: existing.UUID, Headers: client.SetHeaders(twenty)}); err != nil {
		t.Fatalf("20 headers: %v", err)
	}
	full := map[string]string{"X-Full": strings.Repeat("f", 4096-len("X-Full"))}
	if err := e.A.C.UpdateWebhook(t.Context(), client.UpdateWebhookRequest{UUID: existing.UUID, Headers: client.SetHeaders(full)}); err != nil {
		t.Fatalf("4096 bytes: %v", err)
	}
	if got := headersOf(e.get(e.A, existing.UUID)); !maps.Equal(got, full) {
		t.Fatalf("headers at the size limit = %d bytes", len(got["X-Full"]))
	}
}
