package client_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// TestNamesFollowGoInitialisms: the fields a user types read like Go
// (URL, UUID, ID, AccountID, EventID, SourceUID, WebhookURL), against a real
// server. It does not compile with the generator's default names (Url,
// Uuid, Id, AccountId, …).
func TestNamesFollowGoInitialisms(t *testing.T) {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := client.New(srv.URL, "", client.WithIngestToken(srv.IngestToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "Names", URL: "https://example.com/names",
		Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.URL != "https://example.com/names" || w.UUID == (client.UUID{}) {
		t.Fatalf("created webhook: URL %q, UUID %v", w.URL, w.UUID)
	}
	if err := c.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: w.UUID, URL: client.Ptr("https://example.com/renamed")}); err != nil {
		t.Fatal(err)
	}

	ev := client.Event{ID: client.Ptr("evt_names"), AccountID: srv.AccountID, Type: "outbound.delivered",
		User: client.Ptr("api-user"), SourceUID: client.Ptr("msg-names")}
	pub, err := publisher.PublishEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if pub.EventID != "evt_names" {
		t.Errorf("published EventID %q, want evt_names", pub.EventID)
	}

	res, err := c.QueryEvents(ctx, client.QueryRequest{UUID: &w.UUID, EventID: client.Ptr("evt_names"), SourceUID: client.Ptr("msg-names")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 {
		t.Fatalf("query: %d events, want 1", len(res.Events))
	}
	rec := res.Events[0]
	if rec.ID != "evt_names" || rec.UUID != w.UUID || rec.SourceUID != "msg-names" || rec.WebhookURL != "https://example.com/renamed" {
		t.Errorf("record: ID %q, UUID %v, SourceUID %q, WebhookURL %q", rec.ID, rec.UUID, rec.SourceUID, rec.WebhookURL)
	}

	rep, err := c.ReplayEvent(ctx, client.ReplayRequest{SourceUID: client.Ptr("msg-names"), UUID: &w.UUID})
	if err != nil {
		t.Fatal(err)
	}
	if rep.EventID != "evt_names" || rep.SourceUID != "msg-names" {
		t.Errorf("replay: EventID %q, SourceUID %q", rep.EventID, rep.SourceUID)
	}
}

// TestAlwaysSentFieldsAreValues: the fields every answer carries are values,
// not pointers (the assignments below do not compile otherwise), and the
// nullable ones arrive as an explicit null rather than absent.
func TestAlwaysSentFieldsAreValues(t *testing.T) {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := client.New(srv.URL, "", client.WithIngestToken(srv.IngestToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created := createExampleWebhook(c, "Values")
	got, err := c.GetWebhook(ctx, created.UUID.String())
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %d webhooks, %v", len(list), err)
	}
	for _, w := range []client.Webhook{*got, list[0]} {
		var (
			uuid     client.UUID                    = w.UUID
			url      string                         = w.URL
			status   client.WebhookStatus           = w.Status
			users    client.Nullable[[]string]      = w.FilterUsers
			reason   client.Nullable[string]        = w.DisabledReason
			at       client.Nullable[int64]         = w.DisabledAt
			previous client.Nullable[int64]         = w.PreviousSecretExpiresAt
			events   []client.SubscribableEventType = w.Events
		)
		if uuid != created.UUID || url == "" || status != "enabled" || len(events) != 1 {
			t.Errorf("webhook %v %q %q %v", uuid, url, status, events)
		}
		if !users.IsNull() || !reason.IsNull() || !at.IsNull() || !previous.IsNull() {
			t.Errorf("a new webhook's filter_users, disabled_reason, disabled_at, previous_secret_expires_at: %v %v %v %v, want null (sent)",
				users, reason, at, previous)
		}
	}

	if _, err := publisher.PublishEvent(ctx, client.Event{AccountID: srv.AccountID, Type: "outbound.delivered"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.QueryEvents(ctx, client.QueryRequest{})
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("query: %v, %v", res, err)
	}
	var (
		code client.Nullable[int]                    = res.Events[0].LastResponseCode
		last client.Nullable[client.DeliveryAttempt] = res.Events[0].LastAttempt
	)
	if !code.IsSpecified() || !last.IsSpecified() {
		t.Errorf("last_response_code %v, last_attempt %v: want sent (null or a value)", code, last)
	}
}

// TestNullablePrintsAsValue: a fetched webhook printed with fmt shows its
// nullable fields' values, or null, never the map underneath
// (map[true:…]), whether printed alone or as part of the struct.
func TestNullablePrintsAsValue(t *testing.T) {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "Printed", URL: "https://example.com/printed",
		Events: []client.SubscribableEventType{"outbound.delivered"}, FilterUsers: client.Filter("api-user")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateSecret(ctx, created.UUID.String(), time.Hour); err != nil {
		t.Fatal(err)
	}
	w, err := c.GetWebhook(ctx, created.UUID.String())
	if err != nil {
		t.Fatal(err)
	}
	expires, err := w.PreviousSecretExpiresAt.Get()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want string }{
		{fmt.Sprint(w.FilterUsers), "[api-user]"},
		{fmt.Sprintf("%v", w.FilterDomains), "null"},
		{fmt.Sprintf("%s", w.DisabledReason), "null"},
		{fmt.Sprintf("%d", w.DisabledAt), "null"},
		{fmt.Sprintf("%d", w.PreviousSecretExpiresAt), strconv.FormatInt(expires, 10)},
		{fmt.Sprintln(w.FilterUsers, w.DisabledReason), "[api-user] null\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("printed %q, want %q", tc.got, tc.want)
		}
	}
	for _, format := range []string{"%v", "%+v"} {
		out := fmt.Sprintf(format, w)
		if strings.Contains(out, "map[") {
			t.Errorf("Sprintf(%q, webhook) shows a map: %s", format, out)
		}
		for _, want := range []string{"[api-user]", strconv.FormatInt(expires, 10)} {
			if !strings.Contains(out, want) {
				t.Errorf("Sprintf(%q, webhook) lacks %q: %s", format, want, out)
			}
		}
	}
	if out := fmt.Sprintf("%+v", *w); !strings.Contains(out, "DisabledReason:null") || !strings.Contains(out, "FilterUsers:[api-user]") {
		t.Errorf("%%+v of the webhook: %s", out)
	}
}
