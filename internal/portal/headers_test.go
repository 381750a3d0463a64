package portal_test

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// TestCustomHeadersMasked: the endpoint page lists the custom header names
// and never a value (nor does any other page), and saving the endpoint's
// form in the portal keeps the headers the account set.
func TestCustomHeadersMasked(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testCustomHeadersMasked)
}

func testCustomHeadersMasked(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	const value = "Bearer portal-hidden-t0ken"
	hdrs := map[string]string{"Authorization": value, "X-Tenant": "tenant-value-acme"}
	w, err := e.A.C.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "Headed", URL: "https://example.com/headed",
		Events: []client.SubscribableEventType{"outbound.delivered"}, Headers: client.Headers(hdrs)})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.hook(e.A, "Plain", "https://example.com/plain")
	id := w.UUID.String()
	b, tok := e.signedIn(e.A)
	page := e.url + "/portal/webhooks/" + id

	p := b.get(page)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Custom headers") ||
		!strings.Contains(p.body, "<code>Authorization</code>") || !strings.Contains(p.body, "<code>X-Tenant</code>") {
		t.Fatalf("the endpoint page does not list the header names: %d\n%s", p.status, p.body)
	}
	for _, u := range []string{page, page + "?reveal=secret", e.url + "/portal/", e.url + "/portal/docs?webhook=" + id} {
		p := b.get(u)
		if strings.Contains(p.body, "portal-hidden-t0ken") || strings.Contains(p.body, "tenant-value-acme") {
			t.Errorf("%s shows a header value", u)
		}
	}
	if p := b.get(e.url + "/portal/webhooks/" + plain.UUID.String()); strings.Contains(p.body, "Custom headers") {
		t.Errorf("an endpoint without headers shows the section")
	}

	// Saving the form (which has no header fields) keeps them.
	p = b.do("POST", page, url.Values{"csrf": {tok}, "name": {"Headed v2"}, "url": {"https://example.com/headed2"},
		"events": {"outbound.delivered"}, "filter_users": {""}, "filter_domains": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	got, err := e.A.C.GetWebhook(t.Context(), id)
	if err != nil || got.Name != "Headed v2" || got.Headers == nil || !maps.Equal(map[string]string(*got.Headers), hdrs) {
		t.Fatalf("after saving in the portal the API has %+v, %v", got, err)
	}
	// So do disabling and rotating the secret.
	b.do("POST", page+"/status", url.Values{"csrf": {tok}, "status": {"0"}})
	b.do("POST", page+"/rotate", url.Values{"csrf": {tok}, "grace": {"0"}})
	if got, _ := e.A.C.GetWebhook(t.Context(), id); got.Headers == nil || !maps.Equal(map[string]string(*got.Headers), hdrs) {
		t.Fatalf("after disabling and rotating in the portal: %+v", got.Headers)
	}
}
