package portal_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// TestManageEndpoint: edit (with the API's refusal shown on the form),
// disable, enable and delete through the portal's forms, checked through
// the API.
func TestManageEndpoint(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testManageEndpoint)
}

func testManageEndpoint(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	w := e.hook(e.A, "Orders", "https://example.com/orders")
	id := w.UUID.String()
	b, tok := e.signedIn(e.A)
	page := e.url + "/portal/webhooks/" + id

	p := b.do("POST", page, url.Values{"csrf": {tok}, "name": {"Orders v2"}, "url": {"https://example.com/v2"},
		"events": {"outbound.delivered", "inbound.received"}, "filter_users": {"api-user"}, "filter_domains": {""}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/webhooks/"+id+"?notice=saved" {
		t.Fatalf("save: %d %v %s", p.status, p.header, p.body)
	}
	got, _ := e.A.C.GetWebhook(t.Context(), id)
	users, _ := got.FilterUsers.Get()
	if got.Name != "Orders v2" || got.URL != "https://example.com/v2" || len(got.Events) != 2 || len(users) != 1 || !got.FilterDomains.IsNull() {
		t.Fatalf("after saving, the API has %+v", got)
	}
	if p := b.get(e.url + p.header.Get("Location")); !strings.Contains(p.body, "Changes saved.") || !strings.Contains(p.body, `value="api-user"`) {
		t.Errorf("the saved page lacks the notice or the filter")
	}
	// A refused edit shows the API's words, keeps what was typed, changes nothing.
	p = b.do("POST", page, url.Values{"csrf": {tok}, "name": {"Orders v3"}, "url": {"ftp://example.com/x"}, "events": {"outbound.delivered"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "destination is not allowed or not reachable") || !strings.Contains(p.body, `value="ftp://example.com/x"`) {
		t.Errorf("refused edit: %d\n%s", p.status, p.body)
	}
	if again, _ := e.A.C.GetWebhook(t.Context(), id); again.Name != "Orders v2" {
		t.Errorf("a refused edit changed the name to %q", again.Name)
	}

	for _, c := range []struct{ status, notice, want string }{{"0", "disabled", "disabled"}, {"1", "enabled", "enabled"}} {
		p := b.do("POST", page+"/status", url.Values{"csrf": {tok}, "status": {c.status}})
		if p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "notice="+c.notice) {
			t.Fatalf("status %s: %d %v", c.status, p.status, p.header)
		}
		if got, _ := e.A.C.GetWebhook(t.Context(), id); string(got.Status) != c.want {
			t.Errorf("after %s the API says %s", c.notice, got.Status)
		}
	}
	p = b.do("POST", page+"/delete", url.Values{"csrf": {tok}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/?notice=deleted" {
		t.Fatalf("delete: %d %v", p.status, p.header)
	}
	if hooks, _ := e.A.C.ListWebhooks(t.Context()); len(hooks) != 0 {
		t.Errorf("after delete the API lists %d webhooks", len(hooks))
	}
	if p := b.get(page); p.status != http.StatusNotFound {
		t.Errorf("the deleted endpoint's page: %d", p.status)
	}
}

// TestDeliveryLog: the log filters by endpoint, event type, status and
// time and pages; a delivery's page shows its attempts; replaying the
// event goes to every endpoint it went to.
func TestDeliveryLog(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testDeliveryLog)
}

func testDeliveryLog(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	var mu sync.Mutex
	hits := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusLengthRequired) // a 4xx fails for good
			w.Write([]byte("no thanks"))
		}
	}))
	defer rcv.Close()
	hitsOf := func(path string) int { mu.Lock(); defer mu.Unlock(); return hits[path] }
	good := e.hook(e.A, "Good", rcv.URL+"/good")
	bad, err := e.A.C.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "Bad", URL: rcv.URL + "/bad",
		Events: []client.SubscribableEventType{"outbound.delivered", "outbound.bounced"}})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour) // yesterday, 00:00
	var evs []server.Event
	for i := range 60 {
		evs = append(evs, server.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: "api-user", CreatedAt: day.Add(time.Duration(i) * time.Minute)})
	}
	evs = append(evs, server.Event{AccountID: e.A.ID, Type: "outbound.bounced", User: "api-user", CreatedAt: day.Add(2 * time.Hour)})
	if _, err := e.srv.Publish(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	b, tok := e.signedIn(e.A)
	count := func(q string) int {
		t.Helper()
		p := b.get(e.url + "/portal/deliveries" + q)
		if p.status != http.StatusOK {
			t.Fatalf("log %s: %d", q, p.status)
		}
		_, rest, _ := strings.Cut(p.body, `<p class="muted">`)
		n, _, _ := strings.Cut(rest, " matching")
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("log %s: no count in the page", q)
		}
		return v
	}
	// 60 outbound.delivered events to both endpoints, one outbound.bounced to Bad.
	waitFor(t, "every delivery to finish", func() bool { return count("?status=success")+count("?status=failed") == 121 })
	from, to := day.Format("2006-01-02T15:04"), day.Add(9*time.Minute).Format("2006-01-02T15:04")
	for q, want := range map[string]int{
		"":                               121,
		"?webhook=" + good.UUID.String(): 60,
		"?event_type=outbound.bounced":   1,
		"?status=failed":                 61,
		"?status=success&webhook=" + bad.UUID.String():   0,
		"?from=" + from + "&to=" + to:                    20, // minutes 0 to 9, both ends included
		"?from=" + from + "&to=" + to + "&status=failed": 10,
	} {
		if got := count(q); got != want {
			t.Errorf("log %q: %d deliveries, want %d", q, got, want)
		}
	}
	if p := b.get(e.url + "/portal/deliveries?from=yesterday"); !strings.Contains(p.body, "From is not a date and time.") {
		t.Errorf("a bad date is not reported")
	}
	// Paging: 50 a page, newest first.
	p1, p3 := b.get(e.url+"/portal/deliveries"), b.get(e.url+"/portal/deliveries?page=3")
	if n := strings.Count(p1.body, `data-label="Event"`); n != 50 || !strings.Contains(p1.body, "?page=2") {
		t.Errorf("page 1: %d rows", n)
	}
	if n := strings.Count(p3.body, `data-label="Event"`); n != 21 || strings.Contains(p3.body, "?page=4") {
		t.Errorf("page 3: %d rows", n)
	}

	// The bounced event's delivery: its attempt, then a replay of the event.
	_, rest, _ := strings.Cut(b.get(e.url+"/portal/deliveries?event_type=outbound.bounced").body, `href="/portal/deliveries/`)
	path, _, _ := strings.Cut(rest, `"`)
	d := b.get(e.url + "/portal/deliveries/" + path)
	for _, want := range []string{"outbound.bounced", "Attempt 1", "HTTP 411", "411", "no thanks", "X-Webhook-Signature", "sha256=…", `&#34;type&#34;: &#34;outbound.bounced&#34;`} {
		if !strings.Contains(d.body, want) {
			t.Errorf("delivery page lacks %q", want)
		}
	}
	if strings.Contains(d.body, `id="delivery-replayed"`) {
		t.Errorf("delivery page says replayed before any replay")
	}
	eventID, _, _ := strings.Cut(path, "/")
	before := hitsOf("/bad")
	p := b.do("POST", e.url+"/portal/replay", url.Values{"csrf": {tok}, "event_id": {eventID}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/deliveries?notice=replayed" {
		t.Fatalf("replay the event: %d %v", p.status, p.header)
	}
	waitFor(t, "the replayed event", func() bool { return hitsOf("/bad") == before+1 })
	waitFor(t, "the second attempt on the page", func() bool {
		return strings.Contains(b.get(e.url+"/portal/deliveries/"+path).body, "Attempt 2")
	})
	if d := b.get(e.url + "/portal/deliveries/" + path); !strings.Contains(d.body, `id="delivery-replayed"`) {
		t.Errorf("delivery page of a replayed delivery does not say so")
	}
	// A delivery of one of a known event's webhooks only.
	goodBefore := hitsOf("/good")
	_, rest, _ = strings.Cut(b.get(e.url+"/portal/deliveries?webhook="+good.UUID.String()).body, `href="/portal/deliveries/`)
	gpath, _, _ := strings.Cut(rest, `"`)
	gEvent, gHook, _ := strings.Cut(gpath, "/")
	badBefore := hitsOf("/bad")
	p = b.do("POST", e.url+"/portal/replay", url.Values{"csrf": {tok}, "event_id": {gEvent}, "webhook": {gHook}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/deliveries/"+gpath+"?notice=replayed" {
		t.Fatalf("replay the delivery: %d %v", p.status, p.header)
	}
	waitFor(t, "the replayed delivery", func() bool { return hitsOf("/good") == goodBefore+1 })
	// The same event's delivery to Bad was not re-queued (a replay of both
	// would have been claimed in the same batch as Good's).
	other := b.get(e.url + "/portal/deliveries/" + gEvent + "/" + bad.UUID.String())
	if hitsOf("/bad") != badBefore || !strings.Contains(other.body, "Attempt 1") || strings.Contains(other.body, "Attempt 2") {
		t.Errorf("replaying one delivery reached the other endpoint too")
	}
}

// TestEventCatalog: every event type of the spec, with its description and
// an example envelope.
func TestEventCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, _ := e.signedIn(e.A)
	p := b.get(e.url + "/portal/events")
	spec, err := apiserver.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	et := spec.Components.Schemas["EventType"].Value
	cat, _ := et.Extensions["x-event-catalog"].(map[string]any)
	if len(et.Enum) != 15 || len(cat) != len(et.Enum) {
		t.Fatalf("the spec has %d event types and %d catalog entries", len(et.Enum), len(cat))
	}
	for _, v := range et.Enum {
		typ := v.(string)
		desc, _ := cat[typ].(map[string]any)["description"].(string)
		if desc == "" || !strings.Contains(p.body, `id="`+typ+`"`) || !strings.Contains(p.body, html.EscapeString(desc)) ||
			!strings.Contains(p.body, "&#34;type&#34;: &#34;"+typ+"&#34;") {
			t.Errorf("catalog entry %s (%q) missing or incomplete", typ, desc)
		}
	}
}

// TestDeliveryControlsShown: the endpoint page shows a webhook's ordering
// and rate limit, and nothing for a webhook without them; saving the form
// leaves them as they are.
func TestDeliveryControlsShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	fifo := client.OrderingFIFO
	w, err := e.A.C.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "Ledger", URL: "https://example.com/ledger",
		Events: []client.SubscribableEventType{"outbound.delivered"}, Ordering: &fifo, RateLimit: client.Ptr(10)})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.hook(e.A, "Plain", "https://example.com/plain")
	b, tok := e.signedIn(e.A)
	p := b.get(e.url + "/portal/webhooks/" + w.UUID.String())
	if !strings.Contains(p.body, `id="controls"`) || !strings.Contains(p.body, "in order (FIFO)") || !strings.Contains(p.body, "at most 10 per second") {
		t.Fatalf("the page does not show the controls: %s", p.body)
	}
	if p := b.get(e.url + "/portal/webhooks/" + plain.UUID.String()); strings.Contains(p.body, `id="controls"`) {
		t.Fatal("controls shown for a webhook without them")
	}
	p = b.do("POST", e.url+"/portal/webhooks/"+w.UUID.String(), url.Values{"csrf": {tok}, "name": {"Ledger 2"}, "url": {"https://example.com/ledger"},
		"events": {"outbound.delivered"}, "filter_users": {""}, "filter_domains": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	got, _ := e.A.C.GetWebhook(t.Context(), w.UUID.String())
	if got.Ordering == nil || *got.Ordering != client.OrderingFIFO || got.RateLimit == nil || *got.RateLimit != 10 {
		t.Fatalf("saving the form changed the controls: %v %v", got.Ordering, got.RateLimit)
	}
}
