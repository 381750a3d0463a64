package cache_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/cache"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The whole storage contract holds through the cache with TTLs far longer
// than any test: every write the suite checks by reading back must have
// forgotten what it changed.
func TestConformanceThroughCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return cache.Wrap(openSQLite(t), cache.Options{KeyTTL: time.Hour, WebhookTTL: time.Hour})
	})
}

// counting counts the reads that reach the store.
type counting struct {
	store.Store
	keyReads, hookReads atomic.Int64
	// after, if set, runs once inside GetWebhook after the store was read.
	after func()
}

func (c *counting) AccountByKeyHash(ctx context.Context, h []byte) (*store.Account, error) {
	c.keyReads.Add(1)
	return c.Store.AccountByKeyHash(ctx, h)
}

func (c *counting) GetWebhook(ctx context.Context, accountID, uuid string) (*store.Webhook, error) {
	c.hookReads.Add(1)
	w, err := c.Store.GetWebhook(ctx, accountID, uuid)
	if f := c.after; f != nil {
		c.after = nil
		f()
	}
	return w, err
}

type fixture struct {
	raw   store.Store
	count *counting
	st    store.Store
	now   time.Time
	clock func() time.Time
	acc   *store.Account
	key   []byte
	hook  *store.Webhook
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{raw: openSQLite(t), now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	f.count = &counting{Store: f.raw}
	var mu sync.Mutex
	f.clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return f.now }
	f.st = cache.Wrap(f.count, cache.Options{KeyTTL: 2 * time.Second, WebhookTTL: 2 * time.Second, Now: func() time.Time { return f.clock() }})
	h := sha256.Sum256([]byte("key-1"))
	f.key = h[:]
	var err error
	f.acc, err = f.st.CreateAccount(t.Context(), &store.CreateAccountParams{ID: "acc_1", Name: "one", Users: []string{"u"}, KeyHash: f.key, Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	f.hook = &store.Webhook{UUID: "00000000-0000-4000-8000-000000000001", AccountID: f.acc.ID, Name: "h", URL: "https://example.com/a",
		Secret: "whsec_x", Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: f.now, LastModified: f.now}
	if err := f.st.CreateWebhook(t.Context(), f.hook, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReadsServedFromMemoryUntilTTL(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for range 5 {
		if _, err := f.st.AccountByKeyHash(ctx, f.key); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID); err != nil {
			t.Fatal(err)
		}
	}
	if k, h := f.count.keyReads.Load(), f.count.hookReads.Load(); k != 1 || h != 1 {
		t.Fatalf("store reads: keys %d, webhooks %d; want 1 each", k, h)
	}
	f.now = f.now.Add(2 * time.Second) // expired
	if _, err := f.st.AccountByKeyHash(ctx, f.key); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID); err != nil {
		t.Fatal(err)
	}
	if k, h := f.count.keyReads.Load(), f.count.hookReads.Load(); k != 2 || h != 2 {
		t.Fatalf("after the TTL: keys %d, webhooks %d; want 2 each", k, h)
	}
}

// A change made behind the cache's back (another process or node) is seen
// once the TTL has passed, not later.
func TestOutsideChangeSeenWithinTTL(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID); err != nil {
		t.Fatal(err)
	}
	url := "https://example.com/b"
	if _, err := f.raw.UpdateWebhook(ctx, &store.UpdateWebhookParams{AccountID: f.acc.ID, UUID: f.hook.UUID, URL: &url, Now: f.now}); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("key-2"))
	if err := f.raw.RotateAPIKey(ctx, f.acc.ID, h[:], f.now); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(2 * time.Second)
	w, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID)
	if err != nil || w.URL != url {
		t.Fatalf("after the TTL: %v, %+v", err, w)
	}
	if _, err := f.st.AccountByKeyHash(ctx, f.key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked key after the TTL: %v", err)
	}
}

func TestOwnKeyRotationRevokesAtOnce(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.st.AccountByKeyHash(ctx, f.key); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("key-2"))
	if err := f.st.RotateAPIKey(ctx, f.acc.ID, h[:], f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AccountByKeyHash(ctx, f.key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old key right after rotation: %v", err)
	}
	if a, err := f.st.AccountByKeyHash(ctx, h[:]); err != nil || a.ID != f.acc.ID {
		t.Fatalf("new key: %v %+v", err, a)
	}
}

// Another account asking for a cached webhook gets not-found, as from the store.
func TestCachedWebhookStaysInItsAccount(t *testing.T) {
	f := newFixture(t)
	if _, err := f.st.GetWebhook(t.Context(), f.acc.ID, f.hook.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetWebhook(t.Context(), "acc_other", f.hook.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("foreign account: %v", err)
	}
}

// Callers may change what they get; the cached copy must not change with it.
func TestReturnedValuesAreCopies(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	w, _ := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID)
	w.URL, w.Events[0] = "mutated", "mutated"
	a, _ := f.st.AccountByKeyHash(ctx, f.key)
	a.Users[0] = "mutated"
	w2, _ := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID)
	a2, _ := f.st.AccountByKeyHash(ctx, f.key)
	if w2.URL != f.hook.URL || w2.Events[0] != "outbound.delivered" || a2.Users[0] != "u" {
		t.Fatalf("cache changed through a returned value: %+v %+v", w2, a2)
	}
}

// A read that started before an update and returns after it must not put
// the old row back in the cache.
func TestFillRacingAnUpdateIsDropped(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	url := "https://example.com/new"
	// The store read returns the row as it was, and the update (through
	// the cache) lands between that read and the fill.
	f.count.after = func() {
		if _, err := f.st.UpdateWebhook(ctx, &store.UpdateWebhookParams{AccountID: f.acc.ID, UUID: f.hook.UUID, URL: &url, Now: f.now}); err != nil {
			t.Error(err)
		}
	}
	if w, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID); err != nil || w.URL != f.hook.URL {
		t.Fatalf("racing read: %v %+v", err, w)
	}
	w, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID)
	if err != nil || w.URL != url {
		t.Fatalf("after a racing fill: %v, %+v; want URL %q", err, w, url)
	}
}

// A delivery failure moves the webhook's health; the cached copy follows.
func TestHealthChangesAreSeen(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ev := &store.Event{ID: "evt_1", AccountID: f.acc.ID, Type: "outbound.delivered", Service: "outbound", User: "u", Data: []byte(`{}`), Body: []byte(`{}`), CreatedAt: f.now}
	if _, err := f.st.PublishEvents(ctx, []*store.Event{ev}, f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID); err != nil {
		t.Fatal(err)
	}
	claims, err := f.st.ClaimDeliveries(ctx, &store.ClaimParams{Owner: "t", Limit: 10, Now: f.now, Lease: time.Minute})
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v %d", err, len(claims))
	}
	c := claims[0]
	if _, err := f.st.CompleteDeliveries(ctx, []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
		Status: store.StatusFailed, Attempted: true, At: f.now, StatusCode: 410, DisableReason: "gone"}}); err != nil {
		t.Fatal(err)
	}
	w, err := f.st.GetWebhook(ctx, f.acc.ID, f.hook.UUID)
	if err != nil || w.Enabled || w.DisabledReason != "gone" || w.FailingSince.IsZero() {
		t.Fatalf("after a 410: %v %+v", err, w)
	}
}

func TestZeroTTLsReturnTheStoreItself(t *testing.T) {
	raw := openSQLite(t)
	if got := cache.Wrap(raw, cache.Options{}); got != raw {
		t.Fatalf("Wrap with no TTL = %T, want the store itself", got)
	}
}
