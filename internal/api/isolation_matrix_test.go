package api_test

// The tenant-isolation matrix: account B aims every endpoint at account A's
// webhooks, events, messages, users, domains, cursors and idempotency keys.
// B must never read, change, replay, test, rotate or learn the existence of
// anything of A's: each answer about A's thing is byte-identical to the
// answer about a random thing that does not exist (404s, empty query
// results, list pages, and — with the submitted value swapped — the 400 that
// names a filter value B does not own). A's webhooks (secrets included) and
// history are unchanged afterwards, and A's receiver never hears a thing.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// isoProbe is one request of B's about something of A's, and the same
// request about something that does not exist.
type isoProbe struct {
	endpoint string // operationId
	name     string
	foreign  rawReq // names A's thing
	control  rawReq // names nothing that exists
	want     int
	// shown, for a 400 that names the submitted filter value: the foreign
	// and the control value as the message shows them; the answers must be
	// identical once one is put in place of the other.
	shown [2]string
}

// cursorFor builds a list cursor as the server encodes it (base64url of
// "<created ms>:<uuid>"), here from another account's webhook.
func cursorFor(ms int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms, 10) + ":" + id))
}

func TestTenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	ctx := t.Context()
	rcv := newReceiver(t, http.StatusOK, "ok")

	// Webhooks of both accounts, interleaved one second apart, so a cursor
	// made from A's webhook falls between B's.
	created := map[string]int64{} // uuid -> created ms
	hook := func(tn tenant, req client.CreateWebhookRequest) string {
		t.Helper()
		w := e.create(tn, req)
		created[w.UUID.String()] = e.clock.Now().UnixMilli()
		e.clock.Advance(time.Second)
		return w.UUID.String()
	}
	withURL := func(name, url string, f func(*client.CreateWebhookRequest)) client.CreateWebhookRequest {
		r := createReq(name, allEvents...)
		r.URL = url
		if f != nil {
			f(&r)
		}
		return r
	}
	wb1 := hook(e.B, withURL("B One", "https://example.com/b1", nil))
	wa1 := hook(e.A, withURL("A One", rcv.URL, func(r *client.CreateWebhookRequest) {
		r.FilterUsers = client.Filter("api-user")
		r.FilterDomains = client.Filter("example.com")
	}))
	wb2 := hook(e.B, withURL("B Two", "https://example.com/b2", nil))
	wa2 := hook(e.A, withURL("A Two", rcv.URL, nil))
	waDel := hook(e.A, withURL("A Deleted", rcv.URL, nil))
	wb3 := hook(e.B, withURL("B Three", "https://example.com/b3", nil))

	// Events: A's own, B's own, and one id both accounts use.
	pub := func(tn tenant, id, typ, user, domain, source string) {
		t.Helper()
		ev := client.Event{ID: client.Ptr(id), AccountID: tn.ID, Type: client.EventType(typ), SourceUID: client.Ptr(source)}
		if user != "" {
			ev.User = client.Ptr(user)
		}
		if domain != "" {
			ev.Domain = client.Ptr(domain)
		}
		e.publish(ev)
	}
	pub(e.A, "evt_iso_a_out", "outbound.delivered", "api-user", "", "msg-iso-a")
	pub(e.A, "evt_iso_a_in", "inbound.received", "", "example.com", "msg-iso-a-in")
	pub(e.A, "evt_iso_shared", "outbound.bounced", "smtp-relay", "", "msg-iso-shared-a")
	pub(e.B, "evt_iso_b_out", "outbound.delivered", "b-user", "", "msg-iso-b")
	pub(e.B, "evt_iso_shared", "outbound.bounced", "b-user", "", "msg-iso-shared-b")
	// A deletes a webhook; its history stays A's.
	if err := e.A.C.DeleteWebhook(ctx, waDel); err != nil {
		t.Fatal(err)
	}

	// A uses two idempotency keys.
	idemBody := `{"name":"A Idempotent","url":"https://example.com/a-idem","events":["outbound.delivered"]}`
	aIdem1 := e.do(rawReq{method: "POST", path: "/webhooks", body: idemBody, header: idemKey("shared-key-1")})
	aIdem2 := e.do(rawReq{method: "POST", path: "/webhooks", body: idemBody, header: idemKey("shared-key-2")})
	if aIdem1.status != http.StatusOK || aIdem2.status != http.StatusOK {
		t.Fatalf("A's idempotent creates: %d %s / %d %s", aIdem1.status, aIdem1.body, aIdem2.status, aIdem2.body)
	}

	// Everything of A's that must never appear in an answer to B.
	aBefore := e.snapshotOf(e.A)
	var aSecrets []string
	for _, id := range []string{wa1, wa2} {
		w := e.get(e.A, uuid.MustParse(id))
		aSecrets = append(aSecrets, *w.Secret)
	}
	var idemCreated struct {
		Webhook struct {
			UUID   string `json:"uuid"`
			Secret string `json:"secret"`
		} `json:"webhook"`
	}
	if err := json.Unmarshal(aIdem1.body, &idemCreated); err != nil {
		t.Fatal(err)
	}
	aSecrets = append(aSecrets, idemCreated.Webhook.Secret)
	aOnly := append([]string{e.A.ID, wa1, wa2, waDel, idemCreated.Webhook.UUID, "evt_iso_a_out", "evt_iso_a_in",
		"msg-iso-a", "msg-iso-shared-a", "A One", "A Two", "A Deleted", "A Idempotent", rcv.URL}, aSecrets...)
	bBefore := e.snapshotOf(e.B)
	for _, s := range aOnly {
		if strings.Contains(bBefore, s) {
			t.Fatalf("B's own state already shows A's %q", s)
		}
	}

	unknown := "0f4e2d1c-3b5a-4978-8a6b-5c4d3e2f1a0b"
	bKey := bearer(e.B.Key)
	get := func(id string) rawReq { return rawReq{method: "GET", path: "/webhooks/" + id, header: bKey} }
	del := func(id string) rawReq { return rawReq{method: "DELETE", path: "/webhooks/" + id, header: bKey} }
	post := func(path, body string) rawReq { return rawReq{method: "POST", path: path, body: body, header: bKey} }
	patch := func(body string) rawReq { return rawReq{method: "PATCH", path: "/webhooks", body: body, header: bKey} }
	list := func(query string) rawReq { return rawReq{method: "GET", path: "/webhooks?" + query, header: bKey} }

	var probes []isoProbe
	add := func(endpoint, name string, foreign, control rawReq, want int) {
		probes = append(probes, isoProbe{endpoint: endpoint, name: name, foreign: foreign, control: control, want: want})
	}
	addShown := func(endpoint, name string, foreign, control rawReq, shownForeign, shownControl string) {
		probes = append(probes, isoProbe{endpoint: endpoint, name: name, foreign: foreign, control: control, want: http.StatusBadRequest,
			shown: [2]string{shownForeign, shownControl}})
	}

	// getWebhook, deleteWebhook, rotateWebhookSecret, testWebhook: by A's
	// live, deleted and upper-cased uuids.
	for _, c := range []struct{ name, id, ctl string }{
		{"A's webhook", wa1, unknown},
		{"A's unfiltered webhook", wa2, unknown},
		{"A's deleted webhook", waDel, unknown},
		{"A's webhook, upper case", strings.ToUpper(wa1), strings.ToUpper(unknown)},
		{"A's idempotently created webhook", idemCreated.Webhook.UUID, unknown},
	} {
		add("getWebhook", c.name, get(c.id), get(c.ctl), 404)
		add("deleteWebhook", c.name, del(c.id), del(c.ctl), 404)
		add("rotateWebhookSecret", c.name, post("/webhooks/"+c.id+"/rotate-secret", ""), post("/webhooks/"+c.ctl+"/rotate-secret", ""), 404)
		add("rotateWebhookSecret", c.name+", grace 0", post("/webhooks/"+c.id+"/rotate-secret", `{"grace_period":0}`),
			post("/webhooks/"+c.ctl+"/rotate-secret", `{"grace_period":0}`), 404)
		add("testWebhook", c.name, post("/webhooks/"+c.id+"/test", ""), post("/webhooks/"+c.ctl+"/test", ""), 404)
		add("testWebhook", c.name+", inbound type", post("/webhooks/"+c.id+"/test", `{"event_type":"inbound.received"}`),
			post("/webhooks/"+c.ctl+"/test", `{"event_type":"inbound.received"}`), 404)
	}

	// updateWebhook: each field alone, and all of them, on A's webhook.
	for _, f := range []struct{ name, fields string }{
		{"name", `"name":"Hijacked"`},
		{"url", `"url":"https://evil.example/steal"`},
		{"events", `"events":["inbound.spam"]`},
		{"status", `"status":0`},
		{"filter_users null", `"filter_users":null`},
		{"filter_domains null", `"filter_domains":null`},
		{"B's own filter", `"filter_users":["b-user"]`},
		{"everything", `"name":"Hijacked","url":"https://evil.example/steal","events":["inbound.spam"],"status":0,"filter_users":null,"filter_domains":null`},
	} {
		for _, id := range []string{wa1, waDel} {
			add("updateWebhook", f.name+" of "+map[bool]string{true: "A's webhook", false: "A's deleted webhook"}[id == wa1],
				patch(`{"uuid":"`+id+`",`+f.fields+`}`), patch(`{"uuid":"`+unknown+`",`+f.fields+`}`), 404)
		}
	}

	// queryWebhookEvents: every filter naming A's things answers as for
	// things that do not exist (an empty page), never with A's records.
	q := func(body string) rawReq { return post("/webhooks/query", body) }
	for _, c := range []struct{ name, foreign, control string }{
		{"A's uuid", `{"uuid":"` + wa1 + `"}`, `{"uuid":"` + unknown + `"}`},
		{"A's deleted uuid", `{"uuid":"` + waDel + `"}`, `{"uuid":"` + unknown + `"}`},
		{"A's event_id", `{"event_id":"evt_iso_a_out"}`, `{"event_id":"evt_iso_nobody"}`},
		{"A's inbound event_id", `{"event_id":"evt_iso_a_in"}`, `{"event_id":"evt_iso_nobody"}`},
		{"A's source_uid", `{"source_uid":"msg-iso-a"}`, `{"source_uid":"msg-iso-nobody"}`},
		{"A's source_uid of the shared id", `{"source_uid":"msg-iso-shared-a"}`, `{"source_uid":"msg-iso-nobody"}`},
		{"A's uuid and event_id", `{"uuid":"` + wa1 + `","event_id":"evt_iso_a_out"}`, `{"uuid":"` + unknown + `","event_id":"evt_iso_nobody"}`},
		{"A's event_id and source_uid", `{"event_id":"evt_iso_a_out","source_uid":"msg-iso-a"}`, `{"event_id":"evt_iso_nobody","source_uid":"msg-iso-nobody"}`},
		{"the shared event_id on A's webhook", `{"event_id":"evt_iso_shared","uuid":"` + wa2 + `"}`, `{"event_id":"evt_iso_shared","uuid":"` + unknown + `"}`},
		{"A's event type and source", `{"event_type":"inbound.received","source_uid":"msg-iso-a-in"}`, `{"event_type":"inbound.received","source_uid":"msg-iso-nobody"}`},
		{"a type only A has", `{"event_type":"inbound.received","date_from":0}`, `{"event_type":"inbound.spam","date_from":0}`},
		{"A's uuid with a status", `{"uuid":"` + wa2 + `","status":"pending","limit":1000}`, `{"uuid":"` + unknown + `","status":"pending","limit":1000}`},
	} {
		add("queryWebhookEvents", c.name, q(c.foreign), q(c.control), 200)
	}

	// replayWebhookEvent: A's events and messages, B's own event aimed at
	// A's webhooks, A's event aimed at B's webhook.
	r := func(body string) rawReq { return post("/webhooks/replay", body) }
	for _, c := range []struct{ name, foreign, control string }{
		{"A's event_id", `{"event_id":"evt_iso_a_out"}`, `{"event_id":"evt_iso_nobody"}`},
		{"A's inbound event_id", `{"event_id":"evt_iso_a_in"}`, `{"event_id":"evt_iso_nobody"}`},
		{"A's source_uid", `{"source_uid":"msg-iso-a"}`, `{"source_uid":"msg-iso-nobody"}`},
		{"A's source_uid of the shared id", `{"source_uid":"msg-iso-shared-a"}`, `{"source_uid":"msg-iso-nobody"}`},
		{"A's event_id to A's webhook", `{"event_id":"evt_iso_a_out","uuid":"` + wa1 + `"}`, `{"event_id":"evt_iso_nobody","uuid":"` + unknown + `"}`},
		{"A's source_uid to A's webhook", `{"source_uid":"msg-iso-a","uuid":"` + wa1 + `"}`, `{"source_uid":"msg-iso-nobody","uuid":"` + unknown + `"}`},
		{"B's event_id to A's webhook", `{"event_id":"evt_iso_b_out","uuid":"` + wa2 + `"}`, `{"event_id":"evt_iso_b_out","uuid":"` + unknown + `"}`},
		{"B's source_uid to A's webhook", `{"source_uid":"msg-iso-b","uuid":"` + wa2 + `"}`, `{"source_uid":"msg-iso-b","uuid":"` + unknown + `"}`},
		{"the shared event_id to A's webhook", `{"event_id":"evt_iso_shared","uuid":"` + wa2 + `"}`, `{"event_id":"evt_iso_shared","uuid":"` + unknown + `"}`},
		{"A's event_id to B's webhook", `{"event_id":"evt_iso_a_out","uuid":"` + wb1 + `"}`, `{"event_id":"evt_iso_nobody","uuid":"` + wb1 + `"}`},
		{"A's event_id to A's deleted webhook", `{"event_id":"evt_iso_a_in","uuid":"` + waDel + `"}`, `{"event_id":"evt_iso_nobody","uuid":"` + unknown + `"}`},
	} {
		add("replayWebhookEvent", c.name, r(c.foreign), r(c.control), 404)
	}

	// listWebhooks: a cursor made from A's webhook pages through B's own
	// webhooks exactly as one made from a uuid that does not exist.
	for _, c := range []struct{ name, id string }{{"A's first webhook", wa1}, {"A's second webhook", wa2}, {"A's deleted webhook", waDel}} {
		ms := created[c.id]
		add("listWebhooks", "cursor of "+c.name, list("cursor="+cursorFor(ms, c.id)), list("cursor="+cursorFor(ms, unknown)), 200)
		add("listWebhooks", "cursor of "+c.name+", limit 1", list("limit=1&cursor="+cursorFor(ms, c.id)), list("limit=1&cursor="+cursorFor(ms, unknown)), 200)
	}

	// listDeliveryAttempts: A's deliveries, by every pairing of A's and B's
	// webhooks and events, answer as deliveries that do not exist.
	attempts := func(hookID, eventID, query string) rawReq {
		return rawReq{method: "GET", path: "/webhooks/" + hookID + "/events/" + eventID + "/attempts" + query, header: bKey}
	}
	for _, c := range []struct{ name, hook, event, ctlHook, ctlEvent string }{
		{"A's event to A's webhook", wa1, "evt_iso_a_out", unknown, "evt_iso_nobody"},
		{"A's inbound event to A's webhook", wa1, "evt_iso_a_in", unknown, "evt_iso_nobody"},
		{"A's event to A's webhook, upper case", strings.ToUpper(wa1), "evt_iso_a_out", strings.ToUpper(unknown), "evt_iso_nobody"},
		{"A's event to A's deleted webhook", waDel, "evt_iso_a_out", unknown, "evt_iso_nobody"},
		{"the shared event to A's webhook", wa2, "evt_iso_shared", unknown, "evt_iso_shared"},
		{"B's event to A's webhook", wa2, "evt_iso_b_out", unknown, "evt_iso_b_out"},
		{"A's event to B's webhook", wb1, "evt_iso_a_out", wb1, "evt_iso_nobody"},
	} {
		add("listDeliveryAttempts", c.name, attempts(c.hook, c.event, ""), attempts(c.ctlHook, c.ctlEvent, ""), 404)
		add("listDeliveryAttempts", c.name+", paged", attempts(c.hook, c.event, "?limit=1&cursor=YTox"),
			attempts(c.ctlHook, c.ctlEvent, "?limit=1&cursor=YTox"), 404)
	}

	// createWebhook and updateWebhook with A's users and domains: refused
	// exactly like values nobody owns (the message names the value, by
	// design, so the two answers match once the values are swapped).
	createWithFilter := func(field, values string) rawReq {
		return post("/webhooks", `{"name":"Spy","url":"https://example.com/spy","events":["outbound.delivered","inbound.received"],"`+field+`":`+values+`}`)
	}
	patchWithFilter := func(field, values string) rawReq {
		return patch(`{"uuid":"` + wb1 + `","` + field + `":` + values + `}`)
	}
	for _, c := range []struct{ name, field, foreign, control, shownF, shownC string }{
		{"A's user", "filter_users", `["api-user"]`, `["zz-nobody"]`, "api-user", "zz-nobody"},
		{"A's second user after B's own", "filter_users", `["b-user","smtp-relay"]`, `["b-user","zz-nobody2"]`, "smtp-relay", "zz-nobody2"},
		{"A's domain", "filter_domains", `["example.com"]`, `["nobody.example"]`, "example.com", "nobody.example"},
		{"A's domain in upper case", "filter_domains", `["INBOUND.EXAMPLE.ORG"]`, `["NOBODY.EXAMPLE.ORG"]`, "inbound.example.org", "nobody.example.org"},
	} {
		addShown("createWebhook", c.name, createWithFilter(c.field, c.foreign), createWithFilter(c.field, c.control), c.shownF, c.shownC)
		addShown("updateWebhook", c.name+" on B's webhook", patchWithFilter(c.field, c.foreign), patchWithFilter(c.field, c.control), c.shownF, c.shownC)
	}

	counts := map[string]int{}
	for _, p := range probes {
		counts[p.endpoint]++
	}
	logCounts(t, "isolation probes", counts)

	for _, p := range probes {
		t.Run(p.endpoint+"/"+p.name, func(t *testing.T) {
			rf := e.do(p.foreign)
			rc := e.do(p.control)
			if rf.status != p.want {
				t.Errorf("about A's thing: %d %.300s, want %d", rf.status, rf.body, p.want)
			}
			fb := rf.body
			if p.shown[0] != "" {
				var eb struct {
					Error string `json:"error"`
				}
				if json.Unmarshal(fb, &eb) != nil || !strings.Contains(eb.Error, strconv.Quote(p.shown[0])) {
					t.Errorf("the refusal does not name %q: %s", p.shown[0], fb)
				}
				fb = bytes.ReplaceAll(fb, []byte(p.shown[0]), []byte(p.shown[1]))
			}
			if rf.status != rc.status || !bytes.Equal(fb, rc.body) {
				t.Errorf("A's thing and a missing one are answered differently: existence leaks\n A's:    %d %s\n missing: %d %s",
					rf.status, rf.body, rc.status, rc.body)
			}
			for _, h := range []string{"Content-Type", "Www-Authenticate", "Allow", "Retry-After", "Idempotent-Replayed"} {
				if rf.header.Get(h) != rc.header.Get(h) {
					t.Errorf("header %s: %q for A's thing, %q for a missing one", h, rf.header.Get(h), rc.header.Get(h))
				}
			}
			leakCheck(t, rf.body, aOnly, p.shown[0])
		})
	}

	// B's list never shows A's webhooks, whatever the page size.
	for _, query := range []string{"", "limit=1", "limit=1000"} {
		resp := e.do(list(query))
		if resp.status != http.StatusOK {
			t.Fatalf("B's list %q: %d %s", query, resp.status, resp.body)
		}
		leakCheck(t, resp.body, aOnly, "")
	}
	var bList struct {
		Webhooks []struct {
			UUID string `json:"uuid"`
		} `json:"webhooks"`
	}
	if err := json.Unmarshal(e.do(list("")).body, &bList); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range bList.Webhooks {
		got = append(got, w.UUID)
	}
	if want := []string{wb1, wb2, wb3}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("B's list = %v, want its own %v", got, want)
	}

	// B's history: its own records only, however it asks.
	for _, body := range []string{`{"limit":1000}`, `{"event_id":"evt_iso_shared"}`, `{"event_type":"outbound.bounced"}`, `{"date_from":0,"date_to":99999999999}`} {
		resp := e.do(q(body))
		if resp.status != http.StatusOK {
			t.Fatalf("B's query %s: %d %s", body, resp.status, resp.body)
		}
		leakCheck(t, resp.body, aOnly, "")
		var res struct {
			Events []struct {
				UUID string `json:"uuid"`
			} `json:"events"`
		}
		if err := json.Unmarshal(resp.body, &res); err != nil {
			t.Fatal(err)
		}
		for _, ev := range res.Events {
			if ev.UUID != wb1 && ev.UUID != wb2 && ev.UUID != wb3 {
				t.Errorf("B's query %s returned a record of webhook %s", body, ev.UUID)
			}
		}
	}

	// Replaying the id both accounts use touches B's deliveries only.
	rep := e.doJSON(r(`{"event_id":"evt_iso_shared"}`), http.StatusOK)
	if n, _ := rep["deliveries"].(float64); int(n) != 3 {
		t.Errorf("B's replay of the shared id: %v deliveries, want 3 (B's three webhooks)", rep["deliveries"])
	}

	// Idempotency keys are per account: B reusing A's keys gets neither A's
	// stored answer nor a 409, exactly as with keys nobody used.
	t.Run("idempotency/keys reused across accounts", func(t *testing.T) {
		bWithAKey := e.do(rawReq{method: "POST", path: "/webhooks", body: idemBody, header: withHeader(bKey, idemKey("shared-key-1"))})
		bWithNewKey := e.do(rawReq{method: "POST", path: "/webhooks", body: idemBody, header: withHeader(bKey, idemKey("b-fresh-key-1"))})
		otherBody := `{"name":"B Other","url":"https://example.com/b-other","events":["outbound.bounced"]}`
		bOtherBody := e.do(rawReq{method: "POST", path: "/webhooks", body: otherBody, header: withHeader(bKey, idemKey("shared-key-2"))})
		bOtherNew := e.do(rawReq{method: "POST", path: "/webhooks", body: otherBody, header: withHeader(bKey, idemKey("b-fresh-key-2"))})
		for name, pair := range map[string][2]rawResp{
			"A's key, A's body":     {bWithAKey, bWithNewKey},
			"A's key, another body": {bOtherBody, bOtherNew},
		} {
			f, c := pair[0], pair[1]
			if f.status != http.StatusOK || c.status != f.status {
				t.Errorf("%s: %d %s (a fresh key: %d), want 200 as with a fresh key", name, f.status, f.body, c.status)
			}
			if f.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("%s: B got a replayed answer", name)
			}
			if bytes.Equal(f.body, aIdem1.body) || bytes.Equal(f.body, aIdem2.body) {
				t.Errorf("%s: B got A's stored answer", name)
			}
			leakCheck(t, f.body, aOnly, "A Idempotent") // the name B sent itself
			if sameButIDs(t, f.body) != sameButIDs(t, c.body) {
				t.Errorf("%s: answered\n %s\nnot as with a fresh key\n %s", name, f.body, c.body)
			}
		}
		// A's keys still answer A's first responses; B did not overwrite them.
		again := e.do(rawReq{method: "POST", path: "/webhooks", body: idemBody, header: idemKey("shared-key-1")})
		if again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, aIdem1.body) {
			t.Errorf("A's repeat: %q %s, want its first answer replayed %s", again.header.Get("Idempotent-Replayed"), again.body, aIdem1.body)
		}
		if c := e.do(rawReq{method: "POST", path: "/webhooks", body: otherBody, header: idemKey("shared-key-2")}); c.status != http.StatusConflict {
			t.Errorf("A's key with another body: %d, want 409 (A's own key)", c.status)
		}
		counts["idempotency"] += 2
	})

	// A is untouched: webhooks, secrets, history; its receiver heard
	// nothing (the engine is not running, so only a test send could reach it).
	if after := e.snapshotOf(e.A); after != aBefore {
		t.Errorf("A's state changed: %s", stateDiff(aBefore, after))
	}
	if got := rcv.requests(); len(got) != 0 {
		t.Errorf("A's receiver got %d requests", len(got))
	}
	if !t.Failed() {
		t.Logf("%d probes over %d endpoints, all answered as for things that do not exist", len(probes)+2, len(counts))
	}
}

// leakCheck fails if body contains any of secrets, except allowed (a value
// the request itself named).
func leakCheck(t *testing.T, body []byte, secrets []string, allowed string) {
	t.Helper()
	for _, s := range secrets {
		if s == allowed || s == "" {
			continue
		}
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("answer to B contains A's %q: %.300s", s, body)
		}
	}
}

// sameButIDs is a created webhook's answer without what differs between any
// two creates (uuid, secret), for comparing two of them.
func sameButIDs(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if w, ok := m["webhook"].(map[string]any); ok {
		delete(w, "uuid")
		delete(w, "secret")
	}
	b, _ := json.Marshal(m) // map keys come out sorted
	return string(b)
}
