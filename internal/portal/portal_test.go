package portal_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// signedIn is a browser signed in as tn, and the CSRF token of its session.
func (e *env) signedIn(tn tenant) (*browser, string) {
	e.t.Helper()
	b := newBrowser(e.t)
	b.login(e.mint(tn))
	home := b.get(e.url + "/portal/")
	if home.status != http.StatusOK {
		e.t.Fatalf("home after sign-in: %d %s", home.status, home.body)
	}
	return b, csrfOf(e.t, home.body)
}

func (e *env) hook(tn tenant, name, u string) *client.Webhook {
	e.t.Helper()
	w, err := tn.C.CreateWebhook(e.t.Context(), client.CreateWebhookRequest{Name: name, URL: u, Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// TestLinkExchange: opening a link sets the session cookie (HttpOnly,
// SameSite=Lax, scoped to the portal's path) and redirects at once to a URL
// without the token; the same link a second time, a made-up one and an
// expired one are refused.
func TestLinkExchange(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testLinkExchange)
}

func testLinkExchange(t *testing.T, o envOpts) {
	var skew atomic.Int64
	o.cfg = func(c *server.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}
	e := newEnv(t, o)
	link := e.mint(e.A)
	if !strings.HasPrefix(link, e.url+"/portal/login?token=pl_") {
		t.Fatalf("link %q", link)
	}
	b := newBrowser(t)
	p := b.login(link)
	if loc := p.header.Get("Location"); loc != "/portal/" {
		t.Errorf("after the exchange the browser goes to %q, want the clean /portal/", loc)
	}
	if p.header.Get("Referrer-Policy") != "no-referrer" || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login answer headers: %v", p.header)
	}
	c := p.header.Get("Set-Cookie")
	for _, want := range []string{"jetwebhooks_portal=ps_", "Path=/portal/", "HttpOnly", "SameSite=Lax", "Expires="} {
		if !strings.Contains(c, want) {
			t.Errorf("session cookie %q lacks %q", c, want)
		}
	}
	if strings.Contains(c, "Secure") {
		t.Errorf("cookie on plain http is Secure: %q", c)
	}
	if home := b.get(e.url + "/portal/"); home.status != http.StatusOK || !strings.Contains(home.body, "Acme") {
		t.Fatalf("home: %d", home.status)
	}

	refused := func(what, link string) {
		t.Helper()
		nb := newBrowser(t)
		p := nb.get(link)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "This link does not work") || p.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %q, cookie %q", what, p.status, p.body, p.header.Get("Set-Cookie"))
		}
		if home := nb.get(e.url + "/portal/"); home.status != http.StatusUnauthorized {
			t.Errorf("%s: home without a session: %d", what, home.status)
		}
	}
	refused("the same link twice", link)
	refused("a made-up token", e.url+"/portal/login?token=pl_"+strings.Repeat("A", 43))
	refused("no token", e.url+"/portal/login")
	late := e.mint(e.A)
	skew.Store(int64(10*time.Minute + time.Second))
	refused("a link after 10 minutes", late)
}

// TestSessionExpiry: a session ends when idle for 30 minutes and after 12
// hours whatever happens.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testSessionExpiry)
}

func testSessionExpiry(t *testing.T, o envOpts) {
	var skew atomic.Int64
	o.cfg = func(c *server.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}
	e := newEnv(t, o)
	b, _ := e.signedIn(e.A)
	// Used every 25 minutes it lives on, until 12 hours.
	for i := 1; i <= 30; i++ {
		skew.Store(int64(time.Duration(i) * 25 * time.Minute))
		p := b.get(e.url + "/portal/")
		if want := http.StatusOK; i*25 >= 12*60 {
			want = http.StatusUnauthorized
			if p.status != want {
				t.Fatalf("after %d min: %d, want %d", i*25, p.status, want)
			}
			break
		} else if p.status != want {
			t.Fatalf("after %d min of regular use: %d", i*25, p.status)
		}
	}
	b2, _ := e.signedIn(e.A)
	skew.Add(int64(31 * time.Minute))
	if p := b2.get(e.url + "/portal/"); p.status != http.StatusUnauthorized {
		t.Errorf("idle 31 minutes: %d, want 401", p.status)
	}
}

// TestCSRF: a state-changing form without the session's token, with a
// wrong one or sent from another site changes nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	w := e.hook(e.A, "Orders", "https://example.com/h")
	b, tok := e.signedIn(e.A)
	for tok[0] == 'x' { // "x"+tok[1:] below must be a wrong token (1 session in 64 would make it the right one)
		b, tok = e.signedIn(e.A)
	}
	other, otherTok := e.signedIn(e.A)
	_ = other
	form := func(csrf string) url.Values {
		v := url.Values{"name": {"Evil"}, "url": {"https://attacker.example/h"}, "events": {"outbound.delivered"}, "enabled": {"1"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	for name, v := range map[string]url.Values{"no token": form(""), "wrong token": form("x" + tok[1:]), "another session's token": form(otherTok)} {
		for _, path := range []string{"/portal/webhooks/new", "/portal/webhooks/" + w.UUID.String(), "/portal/webhooks/" + w.UUID.String() + "/delete", "/portal/logout"} {
			p := b.do("POST", e.url+path, v)
			if p.status != http.StatusForbidden {
				t.Errorf("%s to %s: %d, want 403", name, path, p.status)
			}
		}
	}
	// The right token from another site (Sec-Fetch-Site) is refused too.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+"/portal/webhooks/"+w.UUID.String()+"/delete", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post with the token: %d", resp.StatusCode)
	}
	hooks, err := e.A.C.ListWebhooks(t.Context())
	if err != nil || len(hooks) != 1 || hooks[0].Name != "Orders" {
		t.Fatalf("webhooks after refused forms: %+v, %v", hooks, err)
	}
	if p := b.get(e.url + "/portal/"); p.status != http.StatusOK {
		t.Errorf("the session ended after a refused logout: %d", p.status)
	}
	// With the token the same form works.
	if p := b.do("POST", e.url+"/portal/webhooks/new", form(tok)); p.status != http.StatusSeeOther {
		t.Errorf("with the token: %d %s", p.status, p.body)
	}
}

// TestTenantIsolation: signed in as A, nothing of B's can be read or changed
// by guessing URLs: every answer about B's things is the answer about a
// thing that does not exist, and B's webhook and secret are unchanged.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testTenantIsolation)
}

func testTenantIsolation(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer rcv.Close()
	wb := e.hook(e.B, "Bravo hook", rcv.URL)
	res, err := e.B.C.TestWebhook(t.Context(), wb.UUID.String(), "")
	if err != nil || !res.Delivered {
		t.Fatalf("B's test send: %+v %v", res, err)
	}
	before, _ := e.B.C.GetWebhook(t.Context(), wb.UUID.String())
	b, tok := e.signedIn(e.A)
	bID, missing := wb.UUID.String(), "0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e"
	gets := []string{"/portal/webhooks/%s", "/portal/webhooks/%s?reveal=secret", "/portal/docs?webhook=%s&reveal=secret",
		"/portal/deliveries/" + res.EventID + "/%s"}
	for _, g := range gets {
		pb, pm := b.get(e.url+strings.ReplaceAll(g, "%s", bID)), b.get(e.url+strings.ReplaceAll(g, "%s", missing))
		if pb.status != http.StatusNotFound || pb.status != pm.status || strings.ReplaceAll(pb.body, bID, missing) != pm.body {
			t.Errorf("GET %s: B's answers %d, a missing one %d; bodies differ: %v", g, pb.status, pm.status, pb.body != pm.body)
		}
		if strings.Contains(pb.body, *before.Secret) || strings.Contains(pb.body, "Bravo hook") {
			t.Errorf("GET %s shows B's webhook", g)
		}
	}
	posts := map[string]url.Values{
		"/portal/webhooks/%s":        {"name": {"Stolen"}, "url": {"https://attacker.example/h"}, "events": {"outbound.delivered"}},
		"/portal/webhooks/%s/status": {"status": {"0"}},
		"/portal/webhooks/%s/rotate": {"grace": {"0"}},
		"/portal/webhooks/%s/test":   {"event_type": {"outbound.delivered"}},
		"/portal/webhooks/%s/delete": {},
		"/portal/replay":             {"event_id": {res.EventID}, "webhook": {"%s"}},
	}
	for path, v := range posts {
		answer := func(id string) page {
			f := url.Values{"csrf": {tok}}
			for k, vs := range v {
				f[k] = []string{strings.ReplaceAll(vs[0], "%s", id)}
			}
			return b.do("POST", e.url+strings.ReplaceAll(path, "%s", id), f)
		}
		pb, pm := answer(bID), answer(missing)
		if pb.status != http.StatusNotFound || pb.status != pm.status || pb.body != pm.body {
			t.Errorf("POST %s: B's answers %d, a missing one %d", path, pb.status, pm.status)
		}
	}
	// Replaying B's event without naming a webhook finds nothing either.
	if p := b.do("POST", e.url+"/portal/replay", url.Values{"csrf": {tok}, "event_id": {res.EventID}}); p.status != http.StatusNotFound {
		t.Errorf("replay of B's event: %d", p.status)
	}
	// Lists and filters show nothing of B's.
	for _, g := range []string{"/portal/", "/portal/deliveries", "/portal/deliveries?webhook=" + bID, "/portal/stats", "/portal/docs"} {
		p := b.get(e.url + g)
		if p.status != http.StatusOK || strings.Contains(p.body, bID) || strings.Contains(p.body, res.EventID) || strings.Contains(p.body, "Bravo hook") {
			t.Errorf("GET %s: %d, shows B's things", g, p.status)
		}
	}
	after, _ := e.B.C.GetWebhook(t.Context(), bID)
	if after.Name != before.Name || *after.Secret != *before.Secret || after.Status != before.Status || after.URL != before.URL {
		t.Errorf("B's webhook changed: %+v -> %+v", before, after)
	}
}

var cspRe = regexp.MustCompile(`^default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors (.+); form-action 'self'; base-uri 'none'; object-src 'none'$`)

// TestSecurityHeaders: every portal answer (pages, refusals, assets)
// carries the CSP, nosniff and no-referrer; pages are not stored.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, _ := e.signedIn(e.A)
	anon := newBrowser(t)
	check := func(name string, p page, ancestors string, store bool) {
		t.Helper()
		m := cspRe.FindStringSubmatch(p.header.Get("Content-Security-Policy"))
		if m == nil || m[1] != ancestors {
			t.Errorf("%s: CSP %q", name, p.header.Get("Content-Security-Policy"))
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", name, p.header)
		}
		if store && p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, p.header.Get("Cache-Control"))
		}
	}
	for _, u := range []string{"/portal/", "/portal/deliveries", "/portal/docs", "/portal/events", "/portal/stats", "/portal/nowhere"} {
		check(u, b.get(e.url+u), "'none'", true)
		if p := b.get(e.url + u); strings.Contains(p.body, "<script") || strings.Contains(p.body, " style=") {
			t.Errorf("%s has inline script or style", u)
		}
	}
	check("anonymous page", anon.get(e.url+"/portal/"), "'none'", true)
	check("bad link", anon.get(e.url+"/portal/login?token=x"), "'none'", true)
	css := anon.get(e.url + "/portal/assets/portal.css")
	check("stylesheet", css, "'none'", false)
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
	}
	if b.get(e.url+"/portal/").header.Get("X-Frame-Options") != "DENY" {
		t.Error("no X-Frame-Options: DENY by default")
	}

	// Framing allowed for the operator's app, and the cookie Secure on request.
	f := newEnv(t, envOpts{cfg: func(c *server.Config) {
		c.Portal.FrameAncestors = []string{"https://app.example.com"}
		c.Portal.SecureCookie = true
	}})
	fb := newBrowser(t)
	p := fb.get(f.mint(f.A))
	check("framable", p, "https://app.example.com", true)
	if !strings.Contains(p.header.Get("Set-Cookie"), "Secure") {
		t.Errorf("cookie not Secure when configured: %q", p.header.Get("Set-Cookie"))
	}
	if p.header.Get("X-Frame-Options") != "" {
		t.Error("X-Frame-Options: DENY while frame ancestors are allowed")
	}
}

// TestLogoutAndRevocation: signing out ends the session for good; the
// operator's DELETE /portal/sessions ends every session of the account and
// no other account's.
func TestLogoutAndRevocation(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testLogoutAndRevocation)
}

func testLogoutAndRevocation(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	b, tok := e.signedIn(e.A)
	p := b.do("POST", e.url+"/portal/logout", url.Values{"csrf": {tok}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/signed-out" || !strings.Contains(p.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", p.status, p.header)
	}
	if p := b.get(e.url + "/portal/signed-out"); p.status != http.StatusOK || !strings.Contains(p.body, "You are signed out") {
		t.Errorf("signed-out page: %d", p.status)
	}
	// "Sign out everywhere" from one browser ends the account's other sessions.
	x1, x1tok := e.signedIn(e.A)
	x2, _ := e.signedIn(e.A)
	xb, _ := e.signedIn(e.B)
	if p := x1.do("POST", e.url+"/portal/logout", url.Values{"csrf": {x1tok}, "everywhere": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", p.status)
	}
	for i, br := range []*browser{x1, x2} {
		if p := br.get(e.url + "/portal/"); p.status != http.StatusUnauthorized {
			t.Errorf("session %d after signing out everywhere: %d", i, p.status)
		}
	}
	if p := xb.get(e.url + "/portal/"); p.status != http.StatusOK {
		t.Errorf("B's session after A signed out everywhere: %d", p.status)
	}

	a1, _ := e.signedIn(e.A)
	a2, _ := e.signedIn(e.A)
	bb, _ := e.signedIn(e.B)
	req, _ := http.NewRequestWithContext(t.Context(), "DELETE", e.url+"/portal/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+e.A.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	for i, br := range []*browser{a1, a2} {
		if p := br.get(e.url + "/portal/"); p.status != http.StatusUnauthorized {
			t.Errorf("A's session %d after revocation: %d", i, p.status)
		}
	}
	if p := bb.get(e.url + "/portal/"); p.status != http.StatusOK {
		t.Errorf("B's session after A's revocation: %d", p.status)
	}
}

// TestPathPrefix: embedded under /hooks, links, redirects, the cookie and
// every link on the pages carry the prefix.
func TestPathPrefix(t *testing.T) {
	t.Parallel()
	t.Run("StripPrefix", func(t *testing.T) { t.Parallel(); testPathPrefix(t, newEnv(t, envOpts{prefix: "/hooks"})) })
	t.Run("BasePath", func(t *testing.T) { t.Parallel(); testPathPrefix(t, newEnv(t, envOpts{basePath: "/hooks"})) })
}

func testPathPrefix(t *testing.T, e *env) {
	link := e.mint(e.A)
	if !strings.HasPrefix(link, e.url+"/portal/login?token=") || !strings.Contains(link, "/hooks/portal/") {
		t.Fatalf("link %q", link)
	}
	b := newBrowser(t)
	p := b.login(link)
	if p.header.Get("Location") != "/hooks/portal/" || !strings.Contains(p.header.Get("Set-Cookie"), "Path=/hooks/portal/") {
		t.Fatalf("login under a prefix: %v", p.header)
	}
	home := b.get(e.url + "/portal/")
	if home.status != http.StatusOK {
		t.Fatalf("home: %d", home.status)
	}
	for _, m := range regexp.MustCompile(`(?:href|action)="([^"]+)"`).FindAllStringSubmatch(home.body, -1) {
		if u := m[1]; !strings.HasPrefix(u, "/hooks/portal/") && !strings.HasPrefix(u, "#") {
			t.Errorf("link %q does not carry the prefix", u)
		}
	}
	// The portal's calls of the API work under the prefix too.
	p = b.do("POST", e.url+"/portal/webhooks/new", url.Values{"csrf": {csrfOf(t, home.body)}, "name": {"Prefixed"},
		"url": {"https://example.com/h"}, "events": {"outbound.delivered"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/hooks/portal/webhooks/") {
		t.Fatalf("create under the prefix: %d %v %s", p.status, p.header, p.body)
	}
	if list := b.get(e.url + "/portal/"); !strings.Contains(list.body, "Prefixed") {
		t.Error("the endpoint made under the prefix is not listed")
	}
}

// TestMintPortalLinkWithoutHTTP: a program embedding the server mints a
// link with Server.MintPortalLink, and the link signs in like one from the API.
func TestMintPortalLinkWithoutHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// Serving: links point at the address listened on from now on.
	if _, err := e.A.C.ListWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	link, expires, err := e.srv.MintPortalLink(t.Context(), e.A.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, e.url+"/portal/") || !expires.After(time.Now()) {
		t.Errorf("MintPortalLink = %q, %v", link, expires)
	}
	newBrowser(t).login(link)
}

// TestSwitchedOff: with the portal off there are no pages and no links.
func TestSwitchedOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *server.Config) { c.Portal.Off = true }})
	if _, _, err := e.srv.MintPortalLink(t.Context(), "acc_x"); !errors.Is(err, server.ErrPortalOff) {
		t.Errorf("MintPortalLink with the portal off: err = %v, want ErrPortalOff", err)
	}
	resp, err := http.Get(e.url + "/portal/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /portal/ with the portal off: %d", resp.StatusCode)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+"/portal/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+e.A.Key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("mint with the portal off: %d", resp.StatusCode)
	}
}

// TestFormErrorsAreTheAPIs: a refused form shows the API's own sentence and
// the field it names, keeps what was typed, and creates nothing.
func TestFormErrorsAreTheAPIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, tok := e.signedIn(e.A)
	cases := []struct {
		form  url.Values
		field string
		msg   string
	}{
		{url.Values{"name": {"bad/name"}, "url": {"https://example.com/h"}, "events": {"outbound.delivered"}}, "name", "Invalid name"},
		{url.Values{"name": {"ok"}, "url": {"http://10.0.0.1/h"}, "events": {"outbound.delivered"}}, "url", "destination is not allowed or not reachable"},
		{url.Values{"name": {"ok"}, "url": {"https://example.com/h"}}, "events", "Invalid events"},
		{url.Values{"name": {"ok"}, "url": {"https://example.com/h"}, "events": {"outbound.delivered"}, "filter_users": {"someone-else"}}, "filter_users", "Invalid filter_users"},
	}
	for _, c := range cases {
		c.form.Set("csrf", tok)
		p := b.do("POST", e.url+"/portal/webhooks/new", c.form)
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, c.msg) {
			t.Errorf("%s: %d, want 400 with %q:\n%s", c.field, p.status, c.msg, p.body)
			continue
		}
		// The field is marked, and what was typed is kept.
		if !strings.Contains(p.body, `id="`+c.field+`"`) && c.field != "events" {
			t.Errorf("%s: field missing", c.field)
		}
		if !regexp.MustCompile(`class="field[^"]*invalid`).MatchString(p.body) {
			t.Errorf("%s: no field marked invalid", c.field)
		}
		if v := c.form.Get("url"); !strings.Contains(p.body, `value="`+v+`"`) {
			t.Errorf("%s: the url typed (%s) is not kept", c.field, v)
		}
	}
	if hooks, _ := e.A.C.ListWebhooks(t.Context()); len(hooks) != 0 {
		t.Errorf("refused forms created %d webhooks", len(hooks))
	}
}

// TestStatsAndRates: the list's success rate, the chart's bars and the
// latency line follow the deliveries' outcomes.
func TestStatsAndRates(t *testing.T) {
	t.Parallel()
	// The clock starts in the middle of an hour, so every delivery falls in
	// one bar of the chart.
	start, base := time.Now(), time.Now().Truncate(time.Hour).Add(30*time.Minute)
	e := newEnv(t, envOpts{cfg: func(c *server.Config) { c.Now = func() time.Time { return base.Add(time.Since(start)) } }})
	var n atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusBadRequest) // a 4xx fails for good
		}
	}))
	defer rcv.Close()
	w := e.hook(e.A, "Counted", rcv.URL)
	for range 8 {
		if _, err := e.A.C.TestWebhook(t.Context(), w.UUID.String(), ""); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := e.signedIn(e.A)
	home := b.get(e.url + "/portal/")
	if !strings.Contains(home.body, "75 %") || !strings.Contains(home.body, "(2 failed)") {
		t.Errorf("list without 75 %% and 2 failed:\n%s", home.body)
	}
	for _, u := range []string{"/portal/stats", "/portal/webhooks/" + w.UUID.String()} {
		p := b.get(e.url + u)
		if !strings.Contains(p.body, "UTC: 6 delivered, 2 failed, 0 pending") {
			t.Errorf("%s: no bar with 6 delivered and 2 failed", u)
		}
		if strings.Count(p.body, `<rect class="ok"`) != 1 || strings.Count(p.body, `<rect class="bad"`) != 1 {
			t.Errorf("%s: want one bar of each outcome", u)
		}
		if !strings.Contains(p.body, "Latency of the last 8 attempts: median") {
			t.Errorf("%s: no latency of the 8 attempts", u)
		}
	}
}

// TestSecureCookieOverTLS: a request that came over TLS gets a Secure
// cookie, whatever the configuration.
func TestSecureCookieOverTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ts := httptest.NewTLSServer(e.srv.Handler())
	defer ts.Close()
	hc := ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(strings.Replace(e.mint(e.A), e.url, ts.URL, 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("Set-Cookie"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(c, "; Secure") {
		t.Errorf("over TLS: %d, cookie %q", resp.StatusCode, c)
	}
}

// TestPortalURLChecked: a portal URL that is not http(s), or whose path does
// not end in /portal (where the server mounts it), is refused at start.
func TestPortalURLChecked(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://hooks.example.com/portal", "https://hooks.example.com/customers", "hooks.example.com/portal",
		"https://hooks.example.com/portal?x=1", "https:///portal"} {
		st, err := server.OpenStore(t.Context(), filepath.Join(t.TempDir(), "u.db"), "NORMAL")
		if err != nil {
			t.Fatal(err)
		}
		_, err = server.New(t.Context(), server.Config{SecretKey: make([]byte, 32), Logger: slog.New(slog.DiscardHandler),
			Portal: server.PortalConfig{URL: u}}, st)
		st.Close()
		if err == nil || !strings.Contains(err.Error(), "portal URL") {
			t.Errorf("portal URL %q: %v, want it refused", u, err)
		}
	}
}

// TestRateLimited: an account's portal sessions share a rate limit, as an
// API key has one; another account is not affected.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *server.Config) { c.RateLimit, c.RateBurst = 0.01, 3 }})
	a1, _ := e.signedIn(e.A) // one request
	a2, _ := e.signedIn(e.A) // two
	if p := a1.get(e.url + "/portal/events"); p.status != http.StatusOK {
		t.Fatalf("third request: %d", p.status)
	}
	p := a2.get(e.url + "/portal/events")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Too many requests") {
		t.Errorf("fourth request of the account: %d %v", p.status, p.header)
	}
	if b, _ := e.signedIn(e.B); b.get(e.url+"/portal/events").status != http.StatusOK {
		t.Error("B is limited by A's requests")
	}
}

// TestAuthBudgetNotTheSessions: an address that spent its budget of failed
// API-key authentications is refused by the API, but a signed-in portal
// session from it still works: the session, not a key, authenticates it.
func TestAuthBudgetNotTheSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *server.Config) { c.AuthFailureBudget, c.AuthFailureWindow = 2, time.Hour }})
	b, tok := e.signedIn(e.A)
	for range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.url+"/webhooks", nil)
		req.Header.Set("Authorization", "Bearer api_wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.url+"/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+e.A.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the address is not blocked after failed keys: %d", resp.StatusCode)
	}
	p := b.do("POST", e.url+"/portal/webhooks/new", url.Values{"csrf": {tok}, "name": {"Still works"}, "url": {"https://example.com/h"}, "events": {"outbound.delivered"}})
	if p.status != http.StatusSeeOther {
		t.Errorf("a portal session from the blocked address: %d %s", p.status, p.body)
	}
}
