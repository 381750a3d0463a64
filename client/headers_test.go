package client_test

import (
	"encoding/json"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// What each header helper puts on the wire: a create with headers or
// without (the member left out), and an update that replaces, clears ({}
// or null) or keeps them (the member left out).
func TestHeaderHelpersOnTheWire(t *testing.T) {
	src := map[string]string{"Authorization": "Bearer t", "X-Tenant": "acme"}
	cases := []struct {
		name string
		body any
		want string
	}{
		{"create with headers", client.CreateWebhookRequest{Headers: client.Headers(src)}, `{"Authorization":"Bearer t","X-Tenant":"acme"}`},
		{"create without", client.CreateWebhookRequest{Headers: client.Headers(nil)}, ``},
		{"update replaces", client.UpdateWebhookRequest{Headers: client.SetHeaders(src)}, `{"Authorization":"Bearer t","X-Tenant":"acme"}`},
		{"update with an empty set", client.UpdateWebhookRequest{Headers: client.SetHeaders(nil)}, `{}`},
		{"update clears", client.UpdateWebhookRequest{Headers: client.ClearHeaders()}, `null`},
		{"update keeps", client.UpdateWebhookRequest{}, ``},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if got := string(m["headers"]); got != tc.want {
			t.Errorf("%s: headers = %s, want %s (body %s)", tc.name, got, tc.want, b)
		}
	}
	// The helpers copy: changing the caller's map afterwards changes nothing.
	h := client.Headers(src)
	u := client.SetHeaders(src)
	src["X-Tenant"] = "changed"
	if (*h)["X-Tenant"] != "acme" {
		t.Error("Headers kept the caller's map")
	}
	if v, _ := u.Get(); v["X-Tenant"] != "acme" {
		t.Error("SetHeaders kept the caller's map")
	}
}
