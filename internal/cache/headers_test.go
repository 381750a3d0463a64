package cache_test

import (
	"maps"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Custom headers are part of the cached webhook: a change through the
// wrapper is seen at once, a change behind its back (another node) within
// the TTL and not later, and a caller changing the map it was given changes
// nothing the cache hands out next.
func TestHeadersNotStaleBeyondTTL(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	get := func() map[string]string {
		t.Helper()
		w, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID)
		if err != nil {
			t.Fatal(err)
		}
		return w.Headers
	}
	if h := get(); h != nil {
		t.Fatalf("new webhook has headers %v", h)
	}
	// Through the wrapper: forgotten at once.
	one := map[string]string{"X-Tenant": "acme"}
	if _, err := f.st.UpdateWebhook(ctx, &store.UpdateWebhookParams{AccountID: f.acc.ID, UUID: f.hook.UUID,
		SetHeaders: true, Headers: one, Now: f.now}); err != nil {
		t.Fatal(err)
	}
	if h := get(); !maps.Equal(h, one) {
		t.Fatalf("after an update through the cache: %v, want %v", h, one)
	}
	// The copy handed out is the caller's own.
	get()["X-Tenant"] = "changed by a caller"
	if h := get(); !maps.Equal(h, one) {
		t.Fatalf("a caller's change reached the cache: %v", h)
	}
	// Behind its back: served from memory until the TTL, then fresh.
	two := map[string]string{"Authorization": "Bearer next"}
	if _, err := f.raw.UpdateWebhook(ctx, &store.UpdateWebhookParams{AccountID: f.acc.ID, UUID: f.hook.UUID,
		SetHeaders: true, Headers: two, Now: f.now}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(2*time.Second - time.Millisecond)
	if h := get(); !maps.Equal(h, one) {
		t.Fatalf("within the TTL the cached headers are served: %v", h)
	}
	f.now = f.now.Add(time.Millisecond)
	if h := get(); !maps.Equal(h, two) {
		t.Fatalf("after the TTL: %v, want %v", h, two)
	}
	// Cleared behind its back: gone after the TTL too.
	if _, err := f.raw.UpdateWebhook(ctx, &store.UpdateWebhookParams{AccountID: f.acc.ID, UUID: f.hook.UUID,
		SetHeaders: true, Now: f.now}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(2 * time.Second)
	if h := get(); h != nil {
		t.Fatalf("cleared headers still served after the TTL: %v", h)
	}
}
