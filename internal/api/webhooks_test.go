package api_test

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

func createReq(name string, events ...client.SubscribableEventType) client.CreateWebhookRequest {
	if len(events) == 0 {
		events = []client.SubscribableEventType{"outbound.delivered", "outbound.bounced"}
	}
	return client.CreateWebhookRequest{Name: name, URL: "https://example.com/webhook", Events: events}
}

func (e *env) create(tn tenant, req client.CreateWebhookRequest) *client.Webhook {
	e.t.Helper()
	w, err := tn.C.CreateWebhook(e.t.Context(), req)
	if err != nil {
		e.t.Fatalf("CreateWebhook(%q): %v", req.Name, err)
	}
	return w
}

func (e *env) get(tn tenant, id openapi_types.UUID) *client.Webhook {
	e.t.Helper()
	w, err := tn.C.GetWebhook(e.t.Context(), id.String())
	if err != nil {
		e.t.Fatalf("GetWebhook(%s): %v", id, err)
	}
	return w
}

func TestCreateWebhookDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Raw, to see the envelope the client does not return.
	m := e.doJSON(rawReq{method: "POST", path: "/webhooks",
		body: `{"name":"Production Webhook","url":"https://example.com/webhook","events":["outbound.delivered","outbound.bounced"]}`}, 200)
	if m["success"] != true || m["message"] != "Webhook created successfully" {
		t.Errorf("envelope = %v, want success true and message %q", m, "Webhook created successfully")
	}
	raw := m["webhook"].(map[string]any)
	for _, k := range []string{"filter_users", "filter_domains", "disabled_reason", "disabled_at", "previous_secret_expires_at"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want an explicit null", k, v, ok)
		}
	}

	w := e.create(e.A, createReq("My Webhook"))
	if w.Name != "My Webhook" || w.URL != "https://example.com/webhook" {
		t.Errorf("name/url = %q/%q", w.Name, w.URL)
	}
	if !reflect.DeepEqual(w.Events, []client.SubscribableEventType{"outbound.delivered", "outbound.bounced"}) {
		t.Errorf("events = %v", w.Events)
	}
	if w.Status != "enabled" {
		t.Errorf("status = %q, want enabled (the default)", w.Status)
	}
	if !w.FilterUsers.IsNull() || !w.FilterDomains.IsNull() {
		t.Errorf("filters = %v / %v, want null / null", w.FilterUsers, w.FilterDomains)
	}
	if w.CreatedAt != startUnix || w.LastModified != startUnix {
		t.Errorf("created_at/last_modified = %d/%d, want unix seconds %d", w.CreatedAt, w.LastModified, startUnix)
	}
	if u := uuid.UUID(w.UUID); u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		t.Errorf("uuid %s: version %d variant %v, want a v4 RFC 4122 uuid", u, u.Version(), u.Variant())
	}
	if w.Secret == nil {
		t.Fatal("create returned no secret")
	}
	checkSecret(t, *w.Secret)

	// Status given explicitly as disabled.
	req := createReq("Disabled Hook")
	req.Status = client.Status(false)
	if d := e.create(e.A, req); d.Status != "disabled" {
		t.Errorf("status 0 created %q, want disabled", d.Status)
	}
	// Every create gets its own uuid and secret.
	w2 := e.create(e.A, createReq("My Webhook"))
	if w2.UUID == w.UUID || *w2.Secret == *w.Secret {
		t.Error("two creates share a uuid or a secret")
	}
}

// checkSecret: "whsec_" + standard base64 of 32 bytes, accepted by
// signature.DecodeSecret.
func checkSecret(t *testing.T, s string) {
	t.Helper()
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks the whsec_ prefix", s)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != 32 {
		t.Errorf("secret body is not base64 of 32 bytes (len %d, err %v)", len(b), err)
	}
	key, err := signature.DecodeSecret(s)
	if err != nil {
		t.Fatalf("signature.DecodeSecret refused the issued secret: %v", err)
	}
	if len(key) != 32 {
		t.Errorf("decoded key has %d bytes, want 32", len(key))
	}
}

func TestCreateWebhookWithFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := createReq("Filtered", "outbound.delivered", "inbound.received")
	req.FilterUsers = client.Filter("api-user", "api-user")
	req.FilterDomains = client.Filter("EXAMPLE.COM")
	w := e.create(e.A, req)
	users, _ := w.FilterUsers.Get()
	domains, _ := w.FilterDomains.Get()
	if !reflect.DeepEqual(users, []string{"api-user"}) {
		t.Errorf("filter_users = %v, want [api-user] (deduplicated)", users)
	}
	if !reflect.DeepEqual(domains, []string{"example.com"}) {
		t.Errorf("filter_domains = %v, want [example.com] (domains fold case)", domains)
	}
	// An empty list is a filter that matches nothing, not null.
	req = createReq("Empty Filter")
	req.FilterUsers = client.Filter()
	w = e.create(e.A, req)
	if got, err := w.FilterUsers.Get(); err != nil || got == nil || len(got) != 0 {
		t.Errorf("filter_users [] came back as %v (err %v), want []", got, err)
	}
}

func TestGetAndListWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	// Empty list: an array, not null.
	m := e.doJSON(rawReq{method: "GET", path: "/webhooks"}, 200)
	if list, ok := m["webhooks"].([]any); !ok || len(list) != 0 || m["success"] != true {
		t.Fatalf("empty list = %v, want success true and webhooks []", m)
	}

	var created []*client.Webhook
	for _, name := range []string{"First", "Second", "Third"} {
		created = append(created, e.create(e.A, createReq(name)))
		e.clock.Advance(time.Second)
	}
	for _, w := range created {
		got := e.get(e.A, w.UUID)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("get %s = %+v, want what create returned %+v", w.UUID, got, w)
		}
	}
	// Upper-case uuid in the path names the same webhook.
	if got, err := e.A.C.GetWebhook(ctx, strings.ToUpper(created[0].UUID.String())); err != nil || got.UUID != created[0].UUID {
		t.Errorf("get by upper-case uuid: %v, %v", got, err)
	}

	list, err := e.A.C.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("list has %d webhooks, want 3", len(list))
	}
	for i, w := range list {
		want := *created[i]
		want.Secret = nil
		if !reflect.DeepEqual(w, want) {
			t.Errorf("list[%d] = %+v, want %+v (oldest first, no secret)", i, w, want)
		}
	}
	// No secret key at all in the list's JSON (previous_secret_expires_at,
	// a time, is not a secret), and no secret value anywhere.
	resp := e.do(rawReq{method: "GET", path: "/webhooks"})
	var raw struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	if err := json.Unmarshal(resp.body, &raw); err != nil || len(raw.Webhooks) != 3 {
		t.Fatalf("list body: %v; %s", err, resp.body)
	}
	for _, w := range raw.Webhooks {
		for k := range w {
			if strings.Contains(k, "secret") && k != "previous_secret_expires_at" {
				t.Errorf("list carries %q: %s", k, resp.body)
			}
		}
	}
	if strings.Contains(string(resp.body), "whsec_") {
		t.Errorf("list exposes secrets: %s", resp.body)
	}
}

func TestUpdateWebhookFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	orig := e.create(e.A, createReq("Original"))
	id := orig.UUID
	want := *orig

	// update applies req, then checks that exactly the fields mutate changed
	// and last_modified moved to the clock.
	update := func(step string, req client.UpdateWebhookRequest, mutate func(w *client.Webhook)) {
		t.Helper()
		e.clock.Advance(time.Minute)
		req.UUID = id
		if err := e.A.C.UpdateWebhook(ctx, req); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		mutate(&want)
		want.LastModified = e.clock.Unix()
		if got := e.get(e.A, id); !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", step, *got, want)
		}
	}

	update("name", client.UpdateWebhookRequest{Name: client.Ptr("Renamed Hook")},
		func(w *client.Webhook) { w.Name = "Renamed Hook" })
	update("url", client.UpdateWebhookRequest{URL: client.Ptr("http://hooks.example.net:8443/in?x=1")},
		func(w *client.Webhook) { w.URL = "http://hooks.example.net:8443/in?x=1" })
	update("events", client.UpdateWebhookRequest{Events: &[]client.SubscribableEventType{"inbound.received", "outbound.opened"}},
		func(w *client.Webhook) {
			w.Events = []client.SubscribableEventType{"inbound.received", "outbound.opened"}
		})
	update("status 0", client.UpdateWebhookRequest{Status: client.Status(false)},
		func(w *client.Webhook) { w.Status = "disabled" })
	update("status 1", client.UpdateWebhookRequest{Status: client.Status(true)},
		func(w *client.Webhook) { w.Status = "enabled" })
	update("filter_domains", client.UpdateWebhookRequest{FilterDomains: client.Filter("inbound.example.org")},
		func(w *client.Webhook) { w.FilterDomains = client.Filter("inbound.example.org") })
	update("filter_users", client.UpdateWebhookRequest{FilterUsers: client.Filter("smtp-relay", "api-user")},
		func(w *client.Webhook) { w.FilterUsers = client.Filter("smtp-relay", "api-user") })
	// null clears filter_users and leaves filter_domains as it was.
	update("filter_users null", client.UpdateWebhookRequest{FilterUsers: client.ClearFilter()},
		func(w *client.Webhook) { w.FilterUsers = client.ClearFilter() })
	update("filter_domains null", client.UpdateWebhookRequest{FilterDomains: client.ClearFilter()},
		func(w *client.Webhook) { w.FilterDomains = client.ClearFilter() })
	// Only the uuid: nothing but last_modified changes.
	update("no fields", client.UpdateWebhookRequest{}, func(*client.Webhook) {})

	if want.CreatedAt != orig.CreatedAt || *want.Secret != *orig.Secret {
		t.Error("created_at or secret changed")
	}

	// Raw: the documented envelope, and an explicit null on the wire.
	m := e.doJSON(rawReq{method: "PATCH", path: "/webhooks",
		body: `{"uuid":"` + strings.ToUpper(id.String()) + `","filter_users":null,"name":"Upper Case Uuid"}`}, 200)
	if m["success"] != true || m["message"] != "Webhook updated successfully" {
		t.Errorf("update envelope = %v", m)
	}
	if got := e.get(e.A, id); got.Name != "Upper Case Uuid" || !got.FilterUsers.IsNull() {
		t.Errorf("after raw PATCH: name %q filter_users %v", got.Name, got.FilterUsers)
	}
}

func TestDeleteWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	keep := e.create(e.A, createReq("Keep"))
	gone := e.create(e.A, createReq("Gone"))

	m := e.doJSON(rawReq{method: "DELETE", path: "/webhooks/" + gone.UUID.String()}, 200)
	if m["success"] != true || m["message"] != "Webhook deleted successfully" {
		t.Errorf("delete envelope = %v", m)
	}
	if _, err := e.A.C.GetWebhook(ctx, gone.UUID.String()); !client.IsNotFound(err) {
		t.Errorf("get after delete: %v, want 404", err)
	}
	if err := e.A.C.DeleteWebhook(ctx, gone.UUID.String()); !client.IsNotFound(err) {
		t.Errorf("second delete: %v, want 404", err)
	}
	if err := e.A.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: gone.UUID, Name: client.Ptr("Zombie")}); !client.IsNotFound(err) {
		t.Errorf("update after delete: %v, want 404", err)
	}
	list, err := e.A.C.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].UUID != keep.UUID {
		t.Errorf("list after delete = %v, want only %s", list, keep.UUID)
	}
	// Via the client as well.
	if err := e.A.C.DeleteWebhook(ctx, keep.UUID.String()); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.A.C.ListWebhooks(ctx); len(list) != 0 {
		t.Errorf("list after deleting all = %v", list)
	}
}
