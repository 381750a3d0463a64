package storetest

import (
	"maps"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// testWebhookHeaders: custom headers are stored as given (names as spelled,
// values byte for byte), nil and empty read back as nil, an update replaces
// or clears them only when asked, every claim (queued, replayed, test)
// carries the webhook's current headers, and another account can neither
// read nor change them.
func testWebhookHeaders(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	hdrs := map[string]string{
		"Authorization": "Bearer tok_123",
		"x-tenant":      "acme\tblue",
		"X-Émoji-Free":  "ünïcödé ✓",
		"X-Empty":       "",
	}
	// Created with headers, read back everywhere.
	w := &store.Webhook{UUID: uuidLike(), AccountID: acc.ID, Name: "hdr", URL: "https://example.com/" + uniq("h"),
		Secret: "whsec_" + uniq("s"), Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: t0, LastModified: t0,
		Headers: maps.Clone(hdrs)}
	mustNil(t, s.CreateWebhook(ctx(t), w, nil))
	if got := must(s.GetWebhook(ctx(t), acc.ID, w.UUID)); !maps.Equal(got.Headers, hdrs) {
		t.Fatalf("GetWebhook headers = %q, want %q", got.Headers, hdrs)
	}
	list := must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: acc.ID}))
	if len(list) != 1 || !maps.Equal(list[0].Headers, hdrs) {
		t.Fatalf("ListWebhooks headers = %+v", list)
	}
	// Without headers, or with an empty map: nil.
	plain := newHook(t, s, acc, hookOpts{})
	if got := must(s.GetWebhook(ctx(t), acc.ID, plain.UUID)); got.Headers != nil {
		t.Fatalf("webhook created without headers reads back %q", got.Headers)
	}
	empty := &store.Webhook{UUID: uuidLike(), AccountID: acc.ID, Name: "empty", URL: "https://example.com/e", Secret: "whsec_e",
		Events: []string{"inbound.received"}, Enabled: true, CreatedAt: t0, LastModified: t0, Headers: map[string]string{}}
	mustNil(t, s.CreateWebhook(ctx(t), empty, nil))
	if got := must(s.GetWebhook(ctx(t), acc.ID, empty.UUID)); got.Headers != nil {
		t.Fatalf("webhook created with an empty map reads back %q", got.Headers)
	}

	// An update that does not name headers keeps them; one that does
	// replaces the whole set.
	name := "renamed"
	got := must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Name: &name, Now: t0}))
	if !maps.Equal(got.Headers, hdrs) {
		t.Fatalf("update without SetHeaders changed them: %q", got.Headers)
	}
	next := map[string]string{"X-Route": "eu-1"}
	got = must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, SetHeaders: true, Headers: next, Now: t0}))
	if !maps.Equal(got.Headers, next) {
		t.Fatalf("UpdateWebhook returned headers %q, want %q", got.Headers, next)
	}
	if got := must(s.GetWebhook(ctx(t), acc.ID, w.UUID)); !maps.Equal(got.Headers, next) {
		t.Fatalf("headers after replacing = %q, want %q", got.Headers, next)
	}
	// Rotating the secret and the health machinery leave them alone.
	got = must(s.RotateSecret(ctx(t), &store.RotateSecretParams{AccountID: acc.ID, UUID: w.UUID, Secret: "whsec_rotated",
		PreviousExpiresAt: t0.Add(time.Hour), Now: t0}))
	if !maps.Equal(got.Headers, next) {
		t.Fatalf("RotateSecret returned headers %q", got.Headers)
	}

	// Another account: not found, and nothing changed.
	other := newAccount(t, s, nil, nil)
	_, err := s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: other.ID, UUID: w.UUID, SetHeaders: true,
		Headers: map[string]string{"X-Evil": "1"}, Now: t0})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetWebhook(ctx(t), other.ID, w.UUID)
	wantErr(t, err, store.ErrNotFound)
	if got := must(s.GetWebhook(ctx(t), acc.ID, w.UUID)); !maps.Equal(got.Headers, next) {
		t.Fatalf("another account's update changed the headers: %q", got.Headers)
	}

	// A claim carries the webhook's headers as they are when it is claimed.
	e := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e)
	cs := claimAll(t, s, t0)
	byHook := map[string]*store.Claim{}
	for _, c := range cs {
		byHook[c.WebhookUUID] = c
	}
	if c := byHook[w.UUID]; c == nil || !maps.Equal(c.Headers, next) {
		t.Fatalf("claim for the webhook with headers = %+v", c)
	}
	if c := byHook[plain.UUID]; c == nil || c.Headers != nil {
		t.Fatalf("claim for the webhook without headers = %+v", c)
	}
	var outs []*store.Outcome
	for _, c := range cs {
		outs = append(outs, &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
			Status: store.StatusFailed, Attempted: true, At: t0, StatusCode: 400})
	}
	must(s.CompleteDeliveries(ctx(t), outs))

	// Changed, then replayed: the replay carries the new ones.
	latest := map[string]string{"X-Route": "us-2", "X-Extra": "yes"}
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, SetHeaders: true, Headers: latest, Now: t0}))
	later := t0.Add(time.Hour)
	must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: e.ID, WebhookUUID: w.UUID, Now: later}))
	cs = claimAll(t, s, later)
	if len(cs) != 1 || cs[0].WebhookUUID != w.UUID || !maps.Equal(cs[0].Headers, latest) {
		t.Fatalf("replayed claim = %+v, want headers %q", cs, latest)
	}

	// A test delivery carries them too.
	tc := must(s.CreateTestDelivery(ctx(t), newEvent(acc, "outbound.delivered", nil), w.UUID, later))
	if !maps.Equal(tc.Headers, latest) {
		t.Fatalf("test claim headers = %q, want %q", tc.Headers, latest)
	}

	// Cleared: nil everywhere.
	got = must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, SetHeaders: true, Now: t0}))
	if got.Headers != nil {
		t.Fatalf("cleared headers read back %q", got.Headers)
	}
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, SetHeaders: true, Headers: map[string]string{"A": "1"}, Now: t0}))
	got = must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, SetHeaders: true, Headers: map[string]string{}, Now: t0}))
	if got.Headers != nil {
		t.Fatalf("headers replaced by an empty map read back %q", got.Headers)
	}
	if tc := must(s.CreateTestDelivery(ctx(t), newEvent(acc, "outbound.delivered", nil), w.UUID, later)); tc.Headers != nil {
		t.Fatalf("test claim after clearing carries %q", tc.Headers)
	}
}
