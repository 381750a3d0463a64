package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := newBrowser(t)
	link := e.mint(e.A)
	p := b.login(link)
	t.Log(p.header.Get("Location"), p.header.Get("Set-Cookie"))
	home := b.get(e.url + "/portal/")
	if home.status != 200 {
		t.Fatalf("%d %s", home.status, home.body)
	}
	tok := csrfOf(t, home.body)
	r := b.do("POST", e.url+"/portal/webhooks/new", url.Values{"csrf": {tok}, "name": {"Orders"}, "url": {"https://example.com/h"}, "events": {"outbound.delivered"}, "enabled": {"1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("%d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	for _, u := range []string{loc, "/portal/", "/portal/deliveries", "/portal/stats", "/portal/events", "/portal/docs"} {
		if !strings.HasPrefix(u, "http") {
			u = e.url + u
		}
		p := b.get(u)
		if p.status != 200 {
			t.Fatalf("%s: %d %s", u, p.status, p.body)
		}
	}
	_ = client.Webhook{}
}
