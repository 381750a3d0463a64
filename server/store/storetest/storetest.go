// Package storetest is the conformance suite of the storage contract: one set
// of tests, written against store.Store only, that every backend runs unchanged
// from its own _test.go (the driver/driver-test split River and Go CDK use).
//
// Call Run with an Opener that returns a fresh, empty, migrated store for
// each test (the suite closes it), and Bench likewise for the storage
// benchmarks:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), sqlitestore.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Opener returns a fresh, empty, migrated store for one test; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against the backend that open creates.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"WebhookCRUD", testWebhookCRUD},
		{"WebhookTenantIsolation", testWebhookTenantIsolation},
		{"PublishFanOut", testPublishFanOut},
		{"PublishDuplicateAndAtomic", testPublishDuplicateAndAtomic},
		{"ClaimComplete", testClaimComplete},
		{"LeaseTakeover", testLeaseTakeover},
		{"ConcurrentClaimsExclusive", testConcurrentClaims},
		{"DisabledAndDeletedWebhookClaims", testDisabledAndDeleted},
		{"Query", testQuery},
		{"Replay", testReplay},
		{"QueueStats", testQueueStats},
		{"Settings", testSettings},
		{"WebhookPaging", testWebhookPaging},
		{"SecretRotation", testSecretRotation},
		{"WebhookHealth", testWebhookHealth},
		{"TestDelivery", testTestDelivery},
		{"Idempotency", testIdempotency},
		{"IdempotencyLease", testIdempotencyLease},
		{"IdempotentCreateIsAtomic", testIdempotentCreate},
		{"DeferWithoutAttempt", testDefer},
		{"CompleteBatch", testCompleteBatch},
		{"CompleteSameDeliveryTwice", testCompleteSameDeliveryTwice},
		{"PortalLinks", testPortalLinks},
		{"PortalSessions", testPortalSessions},
		{"AttemptHistory", testAttemptHistory},
		{"Retention", testRetention},
		{"RetentionBatches", testRetentionBatches},
		{"DataInEnvelope", testDataInEnvelope},
		{"WebhookHeaders", testWebhookHeaders},
		{"FIFO", testFIFO},
		{"FIFOUpdate", testFIFOUpdate},
		{"FIFOConcurrentClaims", testFIFOConcurrentClaims},
		{"RateLimit", testRateLimit},
		{"RateLimitSlowDown", testRateLimitSlowDown},
		{"ReplayedMark", testReplayedMark},
		{"FIFODisableFailing", testFIFODisableFailing},
		{"FIFOGoneUngated", testFIFOGoneUngated},
		{"Handoff", testHandoff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// t0 is a fixed clock origin: the suite passes times explicitly, never reads the wall clock.
var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

var seq atomic.Int64

func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

func uuidLike() string {
	n := seq.Add(1)
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
}

func ctx(t *testing.T) context.Context { return t.Context() }

// must unwraps a (value, error) pair; an error panics, which fails the test
// with the stack of the failing call (Go cannot pass t alongside a multi-value call).
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func newAccount(t *testing.T, s store.Store, users, domains []string) *store.Account {
	t.Helper()
	id := uniq("acc_")
	h := sha256.Sum256([]byte("key-" + id))
	return must(s.CreateAccount(ctx(t), &store.CreateAccountParams{ID: id, Name: "n " + id, Users: users, Domains: domains, KeyHash: h[:], Now: t0}))
}

type hookOpts struct {
	events        []string
	disabled      bool
	filterUsers   []string
	filterDomains []string
	createdAt     time.Time
}

func newHook(t *testing.T, s store.Store, acc *store.Account, o hookOpts) *store.Webhook {
	t.Helper()
	if o.events == nil {
		o.events = []string{"outbound.delivered", "inbound.received"}
	}
	if o.createdAt.IsZero() {
		o.createdAt = t0
	}
	w := &store.Webhook{UUID: uuidLike(), AccountID: acc.ID, Name: "hook", URL: "https://example.com/" + uniq("h"),
		Secret: "whsec_" + uniq("s"), Events: o.events, Enabled: !o.disabled, FilterUsers: o.filterUsers,
		FilterDomains: o.filterDomains, CreatedAt: o.createdAt, LastModified: o.createdAt}
	mustNil(t, s.CreateWebhook(ctx(t), w, nil))
	return w
}

func newEvent(acc *store.Account, typ string, mod func(*store.Event)) *store.Event {
	e := &store.Event{ID: uniq("evt_"), AccountID: acc.ID, Type: typ, Service: serviceOf(typ), Data: []byte(`{"k":1}`), CreatedAt: t0}
	if mod != nil {
		mod(e)
	}
	e.Body, _ = json.Marshal(map[string]any{"id": e.ID, "type": e.Type})
	return e
}

func serviceOf(typ string) string {
	if len(typ) > 7 && typ[:7] == "inbound" {
		return "inbound"
	}
	return "outbound"
}

func publish(t *testing.T, s store.Store, now time.Time, evs ...*store.Event) []store.PublishResult {
	t.Helper()
	return must(s.PublishEvents(ctx(t), evs, now))
}

func claimAll(t *testing.T, s store.Store, now time.Time) []*store.Claim {
	t.Helper()
	return must(s.ClaimDeliveries(ctx(t), &store.ClaimParams{Owner: "test", Limit: 1000, Now: now, Lease: time.Minute}))
}

func testAccounts(t *testing.T, s store.Store) {
	a := newAccount(t, s, []string{"api-user"}, []string{"example.com"})
	got := must(s.GetAccount(ctx(t), a.ID))
	if got.Name != a.Name || len(got.Users) != 1 || got.Users[0] != "api-user" || got.Domains[0] != "example.com" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetAccount = %+v", got)
	}
	h := sha256.Sum256([]byte("key-" + a.ID))
	byKey := must(s.AccountByKeyHash(ctx(t), h[:]))
	if byKey.ID != a.ID {
		t.Fatalf("AccountByKeyHash = %s, want %s", byKey.ID, a.ID)
	}
	other := sha256.Sum256([]byte("nope"))
	_, err := s.AccountByKeyHash(ctx(t), other[:])
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetAccount(ctx(t), "acc_missing")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.CreateAccount(ctx(t), &store.CreateAccountParams{ID: a.ID, Name: "dup", KeyHash: other[:], Now: t0})
	wantErr(t, err, store.ErrConflict)
	// Rotating the key: the old one stops working, the new one resolves.
	newHash := sha256.Sum256([]byte("rotated-" + a.ID))
	mustNil(t, s.RotateAPIKey(ctx(t), a.ID, newHash[:], t0))
	_, err = s.AccountByKeyHash(ctx(t), h[:])
	wantErr(t, err, store.ErrNotFound)
	if got := must(s.AccountByKeyHash(ctx(t), newHash[:])); got.ID != a.ID {
		t.Fatalf("rotated key resolves to %s", got.ID)
	}
	wantErr(t, s.RotateAPIKey(ctx(t), "acc_missing", other[:], t0), store.ErrNotFound)
	b := newAccount(t, s, nil, nil)
	if len(b.Users) != 0 || b.Users == nil {
		t.Fatalf("accounts without users must report an empty, non-nil list: %#v", b.Users)
	}
	list := must(s.ListAccounts(ctx(t)))
	ids := map[string]bool{}
	for _, x := range list {
		ids[x.ID] = true
	}
	if !ids[a.ID] || !ids[b.ID] {
		t.Fatalf("ListAccounts misses accounts: %v", ids)
	}
}

func testWebhookCRUD(t *testing.T, s store.Store) {
	acc := newAccount(t, s, []string{"u1"}, []string{"d.com"})
	w := newHook(t, s, acc, hookOpts{filterUsers: []string{"u1"}})
	got := must(s.GetWebhook(ctx(t), acc.ID, w.UUID))
	if got.URL != w.URL || got.Secret != w.Secret || !got.Enabled || got.FilterDomains != nil ||
		len(got.FilterUsers) != 1 || len(got.Events) != 2 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetWebhook = %+v", got)
	}
	// An empty filter is not the same as no filter.
	empty := newHook(t, s, acc, hookOpts{filterDomains: []string{}, createdAt: t0.Add(time.Second)})
	if g := must(s.GetWebhook(ctx(t), acc.ID, empty.UUID)); g.FilterDomains == nil || len(g.FilterDomains) != 0 {
		t.Fatalf("empty filter round-trip = %#v", g.FilterDomains)
	}
	list := must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: acc.ID}))
	if len(list) != 2 || list[0].UUID != w.UUID || list[1].UUID != empty.UUID {
		t.Fatalf("ListWebhooks order wrong: %v", list)
	}
	name, off := "renamed", false
	later := t0.Add(time.Hour)
	upd := must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Name: &name,
		Enabled: &off, SetFilterUsers: true, FilterUsers: nil, Now: later}))
	if upd.Name != "renamed" || upd.Enabled || upd.FilterUsers != nil || upd.URL != w.URL || len(upd.Events) != 2 ||
		!upd.LastModified.Equal(later) || !upd.CreatedAt.Equal(t0) {
		t.Fatalf("UpdateWebhook = %+v", upd)
	}
	upd = must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID,
		Events: []string{"inbound.spam"}, SetFilterDomains: true, FilterDomains: []string{"d.com"}, Now: later}))
	if upd.Name != "renamed" || len(upd.Events) != 1 || upd.Events[0] != "inbound.spam" || len(upd.FilterDomains) != 1 {
		t.Fatalf("second UpdateWebhook = %+v", upd)
	}
	_, err := s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: uuidLike(), Name: &name, Now: later})
	wantErr(t, err, store.ErrNotFound)
	mustNil(t, s.DeleteWebhook(ctx(t), acc.ID, w.UUID, later))
	_, err = s.GetWebhook(ctx(t), acc.ID, w.UUID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteWebhook(ctx(t), acc.ID, w.UUID, later), store.ErrNotFound)
	if n := len(must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: acc.ID}))); n != 1 {
		t.Fatalf("after delete, %d webhooks listed, want 1", n)
	}
	none := newAccount(t, s, nil, nil)
	if l := must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: none.ID})); l == nil || len(l) != 0 {
		t.Fatalf("ListWebhooks of an empty account = %#v, want empty non-nil", l)
	}
}

func testWebhookTenantIsolation(t *testing.T, s store.Store) {
	a, b := newAccount(t, s, nil, nil), newAccount(t, s, nil, nil)
	w := newHook(t, s, a, hookOpts{})
	_, err := s.GetWebhook(ctx(t), b.ID, w.UUID)
	wantErr(t, err, store.ErrNotFound)
	name := "stolen"
	_, err = s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: b.ID, UUID: w.UUID, Name: &name, Now: t0})
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteWebhook(ctx(t), b.ID, w.UUID, t0), store.ErrNotFound)
	if l := must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: b.ID})); len(l) != 0 {
		t.Fatalf("account B lists A's webhooks: %v", l)
	}
	if g := must(s.GetWebhook(ctx(t), a.ID, w.UUID)); g.Name != "hook" {
		t.Fatalf("A's webhook changed by B: %+v", g)
	}
}

func testPublishFanOut(t *testing.T, s store.Store) {
	acc := newAccount(t, s, []string{"alice", "bob"}, []string{"a.com", "b.com"})
	all := newHook(t, s, acc, hookOpts{events: []string{"outbound.delivered", "inbound.received"}})
	alice := newHook(t, s, acc, hookOpts{events: []string{"outbound.delivered"}, filterUsers: []string{"alice"}})
	bdom := newHook(t, s, acc, hookOpts{events: []string{"inbound.received"}, filterDomains: []string{"b.com"}})
	newHook(t, s, acc, hookOpts{events: []string{"outbound.delivered"}, disabled: true})
	newHook(t, s, acc, hookOpts{events: []string{"outbound.bounced"}})
	other := newAccount(t, s, nil, nil)
	newHook(t, s, other, hookOpts{})

	cases := []struct {
		ev   *store.Event
		want []string
	}{
		{newEvent(acc, "outbound.delivered", func(e *store.Event) { e.User = "alice" }), []string{all.UUID, alice.UUID}},
		{newEvent(acc, "outbound.delivered", func(e *store.Event) { e.User = "bob" }), []string{all.UUID}},
		{newEvent(acc, "inbound.received", func(e *store.Event) { e.Domain = "B.com" }), []string{all.UUID, bdom.UUID}},
		{newEvent(acc, "inbound.received", func(e *store.Event) { e.Domain = "a.com" }), []string{all.UUID}},
		{newEvent(acc, "outbound.queued", nil), nil},
	}
	for _, c := range cases {
		res := publish(t, s, t0, c.ev)
		if res[0].Deliveries != len(c.want) || res[0].Duplicate || res[0].EventID != c.ev.ID {
			t.Fatalf("%s user=%q domain=%q: result %+v, want %d deliveries", c.ev.Type, c.ev.User, c.ev.Domain, res[0], len(c.want))
		}
		recs, total := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: c.ev.ID, Limit: 100})
		got := []string{}
		for _, r := range recs {
			got = append(got, r.WebhookUUID)
			if r.Status != store.StatusPending || r.Attempts != 0 || r.LastResponseCode != nil {
				t.Fatalf("fresh delivery record = %+v", r)
			}
		}
		sort.Strings(got)
		want := append([]string{}, c.want...)
		sort.Strings(want)
		if total != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: deliveries to %v, want %v", c.ev.Type, got, want)
		}
	}
}

func mustQuery(t *testing.T, s store.Store, p *store.QueryParams) ([]*store.DeliveryRecord, int) {
	t.Helper()
	recs, total, err := s.QueryDeliveries(ctx(t), p)
	mustNil(t, err)
	return recs, total
}

func testPublishDuplicateAndAtomic(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	e := newEvent(acc, "outbound.delivered", nil)
	first := publish(t, s, t0, e)
	again := publish(t, s, t0, e)
	if first[0].Deliveries != 1 || !again[0].Duplicate || again[0].Deliveries != 0 {
		t.Fatalf("duplicate publish: first %+v, again %+v", first[0], again[0])
	}
	// The same id in another account is a different event.
	other := newAccount(t, s, nil, nil)
	newHook(t, s, other, hookOpts{})
	e2 := newEvent(other, "outbound.delivered", func(x *store.Event) { x.ID = e.ID })
	if r := publish(t, s, t0, e2); r[0].Duplicate || r[0].Deliveries != 1 {
		t.Fatalf("same id in another account: %+v", r[0])
	}
	// A batch with an unknown account writes nothing at all.
	good := newEvent(acc, "outbound.delivered", nil)
	bad := newEvent(&store.Account{ID: "acc_unknown"}, "outbound.delivered", nil)
	_, err := s.PublishEvents(ctx(t), []*store.Event{good, bad}, t0)
	if err == nil {
		t.Fatal("publishing for an unknown account succeeded")
	}
	if _, total := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: good.ID, Limit: 10}); total != 0 {
		t.Fatalf("failed batch left %d deliveries behind", total)
	}
	// A batch with a duplicate inside itself delivers once.
	d := newEvent(acc, "outbound.delivered", nil)
	res := publish(t, s, t0, d, d)
	if res[0].Deliveries != 1 || !res[1].Duplicate {
		t.Fatalf("in-batch duplicate: %+v", res)
	}
}

func testClaimComplete(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{})
	e := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e)
	if next, ok, err := s.NextDueAt(ctx(t)); err != nil || !ok || next.After(t0) {
		t.Fatalf("NextDueAt = %v %v %v, want <= t0", next, ok, err)
	}
	if got := claimAll(t, s, t0.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(got))
	}
	cs := claimAll(t, s, t0)
	c := findClaim(t, cs, e.ID)
	if c.URL != w.URL || c.Secret != w.Secret || !c.Enabled || c.Attempt != 1 || c.TakenOver || string(c.Body) != string(e.Body) || c.AccountID != acc.ID {
		t.Fatalf("claim = %+v", c)
	}
	// Leased: not claimable again before the lease ends.
	if again := claimAll(t, s, t0.Add(30*time.Second)); hasClaim(again, e.ID) {
		t.Fatal("a leased delivery was claimed twice")
	}
	next := t0.Add(30 * time.Second)
	n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq,
		Status: store.StatusRetry, NextAttemptAt: next, Attempted: true, URL: c.URL, At: t0, Duration: 15 * time.Millisecond,
		StatusCode: 500, Error: "HTTP 500", ResponseBody: "oops"}}))
	if n != 1 {
		t.Fatalf("applied %d outcomes, want 1", n)
	}
	// The same outcome again (a retried write) applies nothing and records no attempt.
	if again := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq,
		Status: store.StatusRetry, NextAttemptAt: next, Attempted: true, At: t0, StatusCode: 500}})); again != 0 {
		t.Fatalf("a repeated completion applied %d outcomes", again)
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, Limit: 10})
	if r := recs[0]; r.Status != store.StatusRetry || r.Attempts != 1 || r.LastResponseCode == nil || *r.LastResponseCode != 500 {
		t.Fatalf("after a 500: %+v", r)
	}
	if cs := claimAll(t, s, next.Add(-time.Millisecond)); hasClaim(cs, e.ID) {
		t.Fatal("retry claimed before its time")
	}
	c2 := findClaim(t, claimAll(t, s, next), e.ID)
	if c2.Attempt != 2 || c2.TakenOver {
		t.Fatalf("second claim = %+v", c2)
	}
	// A network error: attempted, no status code.
	must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c2.DeliveryID, ClaimSeq: c2.ClaimSeq,
		Status: store.StatusRetry, NextAttemptAt: next.Add(time.Minute), Attempted: true, At: next, Error: "connection refused"}}))
	c3 := findClaim(t, claimAll(t, s, next.Add(time.Minute)), e.ID)
	must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c3.DeliveryID, ClaimSeq: c3.ClaimSeq,
		Status: store.StatusSuccess, Attempted: true, At: next.Add(time.Minute), StatusCode: 204}}))
	recs, _ = mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, Limit: 10})
	if r := recs[0]; r.Status != store.StatusSuccess || r.Attempts != 3 || *r.LastResponseCode != 204 {
		t.Fatalf("after success: %+v", r)
	}
	atts := must(s.ListAttempts(ctx(t), acc.ID, c.DeliveryID))
	if len(atts) != 3 || atts[0].StatusCode != 500 || atts[0].ResponseBody != "oops" || atts[0].Duration != 15*time.Millisecond ||
		atts[1].StatusCode != 0 || atts[1].Error != "connection refused" || atts[2].StatusCode != 204 {
		t.Fatalf("attempts = %+v", atts)
	}
	if other := newAccount(t, s, nil, nil); len(must(s.ListAttempts(ctx(t), other.ID, c.DeliveryID))) != 0 {
		t.Fatal("another account can read the attempts")
	}
	if cs := claimAll(t, s, next.Add(time.Hour)); hasClaim(cs, e.ID) {
		t.Fatal("a delivered delivery was claimed again")
	}
	if _, ok, _ := s.NextDueAt(ctx(t)); ok {
		t.Fatal("NextDueAt reports work when nothing is undelivered")
	}
}

func findClaim(t *testing.T, cs []*store.Claim, eventID string) *store.Claim {
	t.Helper()
	for _, c := range cs {
		if c.EventID == eventID {
			return c
		}
	}
	t.Fatalf("no claim for %s among %d", eventID, len(cs))
	return nil
}

func hasClaim(cs []*store.Claim, eventID string) bool {
	for _, c := range cs {
		if c.EventID == eventID {
			return true
		}
	}
	return false
}

func testLeaseTakeover(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	e := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e)
	dead := findClaim(t, must(s.ClaimDeliveries(ctx(t), &store.ClaimParams{Owner: "node-a", Limit: 10, Now: t0, Lease: time.Minute})), e.ID)
	// node-a dies; after the lease node-b takes over.
	taken := findClaim(t, must(s.ClaimDeliveries(ctx(t), &store.ClaimParams{Owner: "node-b", Limit: 10, Now: t0.Add(time.Minute), Lease: time.Minute})), e.ID)
	if !taken.TakenOver || taken.ClaimSeq == dead.ClaimSeq {
		t.Fatalf("takeover claim = %+v (dead %+v)", taken, dead)
	}
	// The dead owner's late completion is ignored; the new owner's applies.
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: dead.DeliveryID, ClaimSeq: dead.ClaimSeq,
		Status: store.StatusFailed, Attempted: true, At: t0.Add(time.Minute), StatusCode: 400}})); n != 0 {
		t.Fatalf("stale completion applied (%d)", n)
	}
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: taken.DeliveryID, ClaimSeq: taken.ClaimSeq,
		Status: store.StatusSuccess, Attempted: true, At: t0.Add(time.Minute), StatusCode: 200}})); n != 1 {
		t.Fatalf("current completion not applied (%d)", n)
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, Limit: 10})
	if recs[0].Status != store.StatusSuccess || recs[0].Attempts != 1 {
		t.Fatalf("after takeover: %+v", recs[0])
	}
}

func testConcurrentClaims(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	const events = 200
	evs := make([]*store.Event, events)
	for i := range evs {
		evs[i] = newEvent(acc, "outbound.delivered", nil)
	}
	publish(t, s, t0, evs...)
	var mu sync.Mutex
	seen := map[int64]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for {
				cs, err := s.ClaimDeliveries(context.Background(), &store.ClaimParams{Owner: fmt.Sprint("w", w), Limit: 7, Now: t0, Lease: time.Hour})
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.DeliveryID]++
				}
				mu.Unlock()
			}
		}(w)
	}
	close(start)
	wg.Wait()
	if len(seen) < events {
		t.Fatalf("claimed %d distinct deliveries, want at least %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %d claimed %d times", id, n)
		}
	}
}

func testDisabledAndDeleted(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{})
	gone := newHook(t, s, acc, hookOpts{})
	e := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e)
	off := false
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Enabled: &off, Now: t0}))
	mustNil(t, s.DeleteWebhook(ctx(t), acc.ID, gone.UUID, t0))
	cs := claimAll(t, s, t0)
	if len(cs) != 1 || cs[0].WebhookUUID != w.UUID || cs[0].Enabled {
		t.Fatalf("claims after disable/delete = %+v", cs)
	}
	recs, total := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, WebhookUUID: gone.UUID, Limit: 10})
	if total != 1 || recs[0].Status != store.StatusFailed {
		t.Fatalf("deleted webhook's delivery = %+v (total %d), want failed and still in history", recs, total)
	}
}

func testQuery(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w1 := newHook(t, s, acc, hookOpts{events: []string{"outbound.delivered", "outbound.bounced"}})
	w2 := newHook(t, s, acc, hookOpts{events: []string{"outbound.bounced"}})
	var evs []*store.Event
	for i := 0; i < 10; i++ {
		typ := "outbound.delivered"
		if i%2 == 1 {
			typ = "outbound.bounced"
		}
		evs = append(evs, newEvent(acc, typ, func(e *store.Event) {
			e.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			e.SourceUID = fmt.Sprint("msg-", i%3)
			e.SourceAction = "ACCEPTED"
		}))
	}
	publish(t, s, t0, evs...)
	// 5 delivered x w1 + 5 bounced x (w1, w2) = 15 records.
	all, total := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, Limit: 100})
	if total != 15 || len(all) != 15 {
		t.Fatalf("total %d len %d, want 15", total, len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatal("query results are not newest first")
		}
	}
	if r := all[0]; r.EventID != evs[9].ID || r.SourceAction != "ACCEPTED" || string(r.Data) != `{"k":1}` || r.Service != "outbound" {
		t.Fatalf("newest record = %+v", r)
	}
	check := func(name string, p store.QueryParams, want int) {
		t.Helper()
		p.AccountID, p.Limit = acc.ID, 100
		if _, n := mustQuery(t, s, &p); n != want {
			t.Fatalf("%s: total %d, want %d", name, n, want)
		}
	}
	check("uuid", store.QueryParams{WebhookUUID: w2.UUID}, 5)
	check("event type", store.QueryParams{EventType: "outbound.delivered"}, 5)
	check("event id", store.QueryParams{EventID: evs[1].ID}, 2)
	check("source uid", store.QueryParams{SourceUID: "msg-0"}, 6) // events 0,3,6,9 -> 1+2+1+2
	check("status", store.QueryParams{Status: store.StatusPending}, 15)
	check("status none", store.QueryParams{Status: store.StatusSuccess}, 0)
	from, to := t0.Add(2*time.Second), t0.Add(4*time.Second)
	check("dates inclusive", store.QueryParams{From: &from, To: &to}, 4) // events 2,3,4 -> 1+2+1
	check("combined", store.QueryParams{WebhookUUID: w1.UUID, EventType: "outbound.bounced", From: &from}, 4)
	// Paging walks every record exactly once.
	seen := map[int64]bool{}
	for off := 0; off < 15; off += 4 {
		page, n := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, Limit: 4, Offset: off})
		if n != 15 {
			t.Fatalf("page total %d", n)
		}
		for _, r := range page {
			if seen[r.DeliveryID] {
				t.Fatalf("record %d on two pages", r.DeliveryID)
			}
			seen[r.DeliveryID] = true
		}
	}
	if len(seen) != 15 {
		t.Fatalf("paging saw %d records, want 15", len(seen))
	}
	if page, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, Limit: 10, Offset: 100}); len(page) != 0 {
		t.Fatalf("offset past the end returned %d records", len(page))
	}
	other := newAccount(t, s, nil, nil)
	if _, n := mustQuery(t, s, &store.QueryParams{AccountID: other.ID, Limit: 10}); n != 0 {
		t.Fatalf("another account sees %d records", n)
	}
}

func testReplay(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w1 := newHook(t, s, acc, hookOpts{})
	w2 := newHook(t, s, acc, hookOpts{})
	e := newEvent(acc, "outbound.delivered", func(e *store.Event) { e.SourceUID = "msg-r" })
	e2 := newEvent(acc, "outbound.delivered", func(e *store.Event) { e.SourceUID = "msg-r"; e.CreatedAt = t0.Add(time.Second) })
	publish(t, s, t0, e, e2)
	// Deliver everything, then fail one permanently.
	cs := claimAll(t, s, t0)
	var outs []*store.Outcome
	for _, c := range cs {
		outs = append(outs, &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, Status: store.StatusFailed, Attempted: true, At: t0, StatusCode: 400})
	}
	must(s.CompleteDeliveries(ctx(t), outs))

	later := t0.Add(time.Hour)
	res := must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: e.ID, Now: later}))
	if res.EventID != e.ID || res.Deliveries != 2 {
		t.Fatalf("replay by event = %+v", res)
	}
	cs = claimAll(t, s, later)
	if len(cs) != 2 || cs[0].Attempt != 1 || cs[0].EventID != e.ID {
		t.Fatalf("replayed claims = %+v", cs)
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, Limit: 10})
	for _, r := range recs {
		if r.Attempts != 1 || r.Status != store.StatusPending {
			t.Fatalf("replayed record keeps its history count and is pending again: %+v", r)
		}
	}
	res = must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, SourceUID: "msg-r", WebhookUUID: w2.UUID, Now: later}))
	if res.EventID != e2.ID || res.Deliveries != 2 {
		t.Fatalf("replay by source uid to one webhook = %+v", res)
	}
	mustNil(t, s.DeleteWebhook(ctx(t), acc.ID, w1.UUID, later))
	res = must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: e2.ID, Now: later}))
	if res.Deliveries != 1 {
		t.Fatalf("replay after deleting a webhook re-queued %d, want 1", res.Deliveries)
	}
	_, err := s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: "evt_missing", Now: later})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: e.ID, WebhookUUID: w1.UUID, Now: later})
	wantErr(t, err, store.ErrNotFound)
	other := newAccount(t, s, nil, nil)
	_, err = s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: other.ID, EventID: e.ID, Now: later})
	wantErr(t, err, store.ErrNotFound)
}

func testQueueStats(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	evs := []*store.Event{newEvent(acc, "outbound.delivered", nil), newEvent(acc, "outbound.delivered", nil), newEvent(acc, "outbound.delivered", nil)}
	publish(t, s, t0, evs...)
	st := must(s.QueueStats(ctx(t), t0.Add(time.Second)))
	if st.Due < 3 || st.OldestDue.After(t0) {
		t.Fatalf("stats = %+v", st)
	}
	cs := claimAll(t, s, t0)
	outs := []*store.Outcome{
		{DeliveryID: cs[0].DeliveryID, ClaimSeq: cs[0].ClaimSeq, Status: store.StatusFailed, Attempted: true, At: t0, StatusCode: 400},
		{DeliveryID: cs[1].DeliveryID, ClaimSeq: cs[1].ClaimSeq, Status: store.StatusRetry, NextAttemptAt: t0.Add(time.Hour), Attempted: true, At: t0, StatusCode: 500},
	}
	must(s.CompleteDeliveries(ctx(t), outs))
	st = must(s.QueueStats(ctx(t), t0.Add(2*time.Minute)))
	// cs[2] is leased until t0+1m, so due again at t0+2m.
	if st.Dead != 1 || st.Scheduled != 1 || st.Due != 1 {
		t.Fatalf("stats after outcomes = %+v", st)
	}
	mustNil(t, s.Ping(ctx(t)))
}

func testSettings(t *testing.T, s store.Store) {
	v, created, err := s.PutSettingIfAbsent(ctx(t), "k", []byte("first"))
	mustNil(t, err)
	if !created || string(v) != "first" {
		t.Fatalf("first put = %q %v", v, created)
	}
	v, created, err = s.PutSettingIfAbsent(ctx(t), "k", []byte("second"))
	mustNil(t, err)
	if created || string(v) != "first" {
		t.Fatalf("second put = %q %v, want the first value kept", v, created)
	}
	if _, err := s.GetSetting(ctx(t), "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSetting(absent) = %v, want ErrNotFound", err)
	}
	if v := must(s.GetSetting(ctx(t), "k")); string(v) != "first" {
		t.Fatalf("GetSetting = %q, want first", v)
	}
	mustNil(t, s.PutSetting(ctx(t), "k", []byte("replaced")))
	mustNil(t, s.PutSetting(ctx(t), "new", []byte("v")))
	if v := must(s.GetSetting(ctx(t), "k")); string(v) != "replaced" {
		t.Fatalf("GetSetting after PutSetting = %q, want replaced", v)
	}
	if v := must(s.GetSetting(ctx(t), "new")); string(v) != "v" {
		t.Fatalf("GetSetting of a new key = %q, want v", v)
	}
	// PutSettingIfAbsent sees the replaced value.
	v, created, err = s.PutSettingIfAbsent(ctx(t), "k", []byte("third"))
	mustNil(t, err)
	if created || string(v) != "replaced" {
		t.Fatalf("PutSettingIfAbsent after PutSetting = %q %v", v, created)
	}
}

func testWebhookPaging(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	for i := 0; i < 7; i++ {
		// Pairs share a creation time: the cursor must order by uuid within it.
		newHook(t, s, acc, hookOpts{createdAt: t0.Add(time.Duration(i/2) * time.Second)})
	}
	all := must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: acc.ID}))
	var order []string
	for _, w := range all {
		order = append(order, w.UUID)
	}
	var paged []string
	p := &store.ListWebhooksParams{AccountID: acc.ID, Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page := must(s.ListWebhooks(ctx(t), p))
		for _, w := range page {
			paged = append(paged, w.UUID)
		}
		if len(page) < p.Limit {
			break
		}
		last := page[len(page)-1]
		p = &store.ListWebhooksParams{AccountID: acc.ID, Limit: 2, AfterCreated: last.CreatedAt, AfterUUID: last.UUID}
		if pages == 1 {
			// A webhook created meanwhile (newest) shows up on a later page, once.
			w := newHook(t, s, acc, hookOpts{createdAt: t0.Add(time.Hour)})
			order = append(order, w.UUID)
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint(order) || len(paged) != 8 {
		t.Fatalf("paged %v\nwant  %v", paged, order)
	}
}

func testSecretRotation(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{})
	old := w.Secret
	grace := t0.Add(time.Hour)
	rot := must(s.RotateSecret(ctx(t), &store.RotateSecretParams{AccountID: acc.ID, UUID: w.UUID, Secret: "whsec_new", PreviousExpiresAt: grace, Now: t0}))
	if rot.Secret != "whsec_new" || rot.PreviousSecret != old || !rot.PreviousSecretExpiresAt.Equal(grace) {
		t.Fatalf("rotated = %+v", rot)
	}
	e := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e)
	c := findClaim(t, claimAll(t, s, t0), e.ID)
	if len(c.Secrets) != 2 || c.Secrets[0] != "whsec_new" || c.Secrets[1] != old || c.Secret != "whsec_new" {
		t.Fatalf("claim during grace: secrets %v", c.Secrets)
	}
	// After the grace period the old secret no longer signs, and purging erases it.
	e2 := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, grace, e2)
	if c2 := findClaim(t, claimAll(t, s, grace), e2.ID); len(c2.Secrets) != 1 {
		t.Fatalf("claim after grace: secrets %v", c2.Secrets)
	}
	if n := must(s.PurgeExpiredSecrets(ctx(t), grace.Add(-time.Second))); n != 0 {
		t.Fatalf("purged %d secrets before their expiry", n)
	}
	if n := must(s.PurgeExpiredSecrets(ctx(t), grace)); n != 1 {
		t.Fatalf("purged %d expired secrets, want 1", n)
	}
	if g := must(s.GetWebhook(ctx(t), acc.ID, w.UUID)); g.PreviousSecret != "" || !g.PreviousSecretExpiresAt.IsZero() {
		t.Fatalf("old secret still stored after purge: %+v", g)
	}
	// Zero grace keeps nothing.
	rot = must(s.RotateSecret(ctx(t), &store.RotateSecretParams{AccountID: acc.ID, UUID: w.UUID, Secret: "whsec_third", PreviousExpiresAt: t0, Now: t0}))
	if rot.PreviousSecret != "" {
		t.Fatalf("zero grace kept the previous secret")
	}
	other := newAccount(t, s, nil, nil)
	_, err := s.RotateSecret(ctx(t), &store.RotateSecretParams{AccountID: other.ID, UUID: w.UUID, Secret: "x", Now: t0})
	wantErr(t, err, store.ErrNotFound)
}

func testWebhookHealth(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{})
	complete := func(at time.Time, status string, reason string) {
		t.Helper()
		e := newEvent(acc, "outbound.delivered", nil)
		publish(t, s, at, e)
		c := findClaim(t, claimAll(t, s, at), e.ID)
		must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: w.UUID,
			Status: status, NextAttemptAt: at.Add(time.Hour), Attempted: true, At: at, StatusCode: 500, DisableReason: reason}}))
	}
	get := func() *store.Webhook { return must(s.GetWebhook(ctx(t), acc.ID, w.UUID)) }
	complete(t0, store.StatusRetry, "")
	complete(t0.Add(time.Minute), store.StatusFailed, "")
	if g := get(); !g.FailingSince.Equal(t0) || !g.Enabled {
		t.Fatalf("after failures: failing since %v, enabled %v", g.FailingSince, g.Enabled)
	}
	complete(t0.Add(2*time.Minute), store.StatusSuccess, "")
	if g := get(); !g.FailingSince.IsZero() {
		t.Fatalf("a success did not clear FailingSince: %v", g.FailingSince)
	}
	day := 24 * time.Hour
	complete(t0.Add(day), store.StatusRetry, "")
	if ws := must(s.DisableFailingWebhooks(ctx(t), t0.Add(day-time.Second), t0.Add(2*day))); len(ws) != 0 {
		t.Fatalf("disabled %d webhooks failing for less than the window", len(ws))
	}
	ws := must(s.DisableFailingWebhooks(ctx(t), t0.Add(day), t0.Add(6*day)))
	if len(ws) != 1 || ws[0].UUID != w.UUID {
		t.Fatalf("DisableFailingWebhooks = %v", ws)
	}
	if g := get(); g.Enabled || g.DisabledReason == "" || !g.DisabledAt.Equal(t0.Add(6*day)) {
		t.Fatalf("after auto-disable: %+v", g)
	}
	on := true
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Enabled: &on, Now: t0.Add(7 * day)}))
	if g := get(); !g.Enabled || g.DisabledReason != "" || !g.DisabledAt.IsZero() || !g.FailingSince.IsZero() {
		t.Fatalf("re-enabling did not clear the disable state: %+v", g)
	}
	// 410 Gone disables at once.
	complete(t0.Add(8*day), store.StatusFailed, "endpoint answered 410 Gone")
	if g := get(); g.Enabled || g.DisabledReason != "endpoint answered 410 Gone" {
		t.Fatalf("after 410: %+v", g)
	}
}

func testTestDelivery(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{disabled: true})
	e := newEvent(acc, "outbound.delivered", nil)
	c := must(s.CreateTestDelivery(ctx(t), e, w.UUID, t0))
	if c.URL != w.URL || c.Secret != w.Secret || len(c.Secrets) != 1 || c.Enabled || c.EventID != e.ID || string(c.Body) != string(e.Body) {
		t.Fatalf("test claim = %+v", c)
	}
	if cs := claimAll(t, s, t0.Add(24*time.Hour)); hasClaim(cs, e.ID) {
		t.Fatal("the engine could claim a test delivery")
	}
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq,
		Status: store.StatusSuccess, Attempted: true, At: t0, StatusCode: 200}})); n != 1 {
		t.Fatal("test outcome not applied")
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, Limit: 10})
	if len(recs) != 1 || recs[0].Status != store.StatusSuccess || recs[0].Attempts != 1 {
		t.Fatalf("test delivery in history = %+v", recs)
	}
	other := newAccount(t, s, nil, nil)
	_, err := s.CreateTestDelivery(ctx(t), newEvent(other, "outbound.delivered", nil), w.UUID, t0)
	wantErr(t, err, store.ErrNotFound)
}

// reserve reserves (scope, key) for the request holding token at now, with a
// one-minute lease and records kept a day.
func reserve(t *testing.T, s store.Store, scope, key, token string, hash []byte, now time.Time) *store.IdempotencyRecord {
	t.Helper()
	return must(s.ReserveIdempotencyKey(ctx(t), &store.ReserveIdempotencyParams{
		IdempotencyLease: store.IdempotencyLease{Scope: scope, Key: key, Token: token},
		RequestHash:      hash, Now: now, LeaseUntil: now.Add(time.Minute), ExpiredBefore: now.Add(-24 * time.Hour),
	}))
}

func lease(scope, key, token string) store.IdempotencyLease {
	return store.IdempotencyLease{Scope: scope, Key: key, Token: token}
}

func testIdempotency(t *testing.T, s store.Store) {
	h1, h2 := []byte("hash-1"), []byte("hash-2")
	if rec := reserve(t, s, "acc_a", "k1", "tok-1", h1, t0); rec != nil {
		t.Fatalf("first reserve returned %+v", rec)
	}
	rec := reserve(t, s, "acc_a", "k1", "tok-2", h2, t0)
	if rec == nil || rec.Status != 0 || string(rec.RequestHash) != "hash-1" || !rec.LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("second reserve = %+v, want the pending first", rec)
	}
	// Scopes are separate: another account may use the same key.
	if rec := reserve(t, s, "acc_b", "k1", "tok-b", h2, t0); rec != nil {
		t.Fatal("a key of another scope collided")
	}
	// Only the holder of the reservation finishes it.
	wantErr(t, s.FinishIdempotencyKey(ctx(t), lease("acc_a", "k1", "tok-2"), 200, []byte(`{"ok":false}`)), store.ErrLeaseLost)
	mustNil(t, s.FinishIdempotencyKey(ctx(t), lease("acc_a", "k1", "tok-1"), 200, []byte(`{"ok":true}`)))
	wantErr(t, s.FinishIdempotencyKey(ctx(t), lease("acc_a", "k1", "tok-1"), 201, []byte(`{"twice":true}`)), store.ErrLeaseLost)
	rec = reserve(t, s, "acc_a", "k1", "tok-3", h1, t0.Add(time.Hour))
	if rec == nil || rec.Status != 200 || string(rec.Body) != `{"ok":true}` || rec.ResourceUUID != "" {
		t.Fatalf("finished record = %+v", rec)
	}
	// Releasing only forgets pending keys, and only its holder's.
	mustNil(t, s.ReleaseIdempotencyKey(ctx(t), lease("acc_a", "k1", "tok-1")))
	if rec := reserve(t, s, "acc_a", "k1", "tok-4", h1, t0); rec == nil {
		t.Fatal("release removed a finished key")
	}
	mustNil(t, s.ReleaseIdempotencyKey(ctx(t), lease("acc_b", "k1", "someone-else")))
	if rec := reserve(t, s, "acc_b", "k1", "tok-b2", h2, t0); rec == nil {
		t.Fatal("a release by another request forgot the reservation")
	}
	mustNil(t, s.ReleaseIdempotencyKey(ctx(t), lease("acc_b", "k1", "tok-b")))
	if rec := reserve(t, s, "acc_b", "k1", "tok-b3", h1, t0); rec != nil {
		t.Fatal("a released key was still reserved")
	}
	// An expired record is replaced.
	if rec := must(s.ReserveIdempotencyKey(ctx(t), &store.ReserveIdempotencyParams{
		IdempotencyLease: lease("acc_a", "k1", "tok-5"), RequestHash: h2, Now: t0.Add(25 * time.Hour),
		LeaseUntil: t0.Add(25*time.Hour + time.Minute), ExpiredBefore: t0.Add(time.Hour),
	})); rec != nil {
		t.Fatalf("expired record was not replaced: %+v", rec)
	}
	if n := must(s.PurgeIdempotencyKeys(ctx(t), t0.Add(time.Minute))); n != 1 {
		t.Fatalf("purged %d, want 1 (acc_b's)", n)
	}
}

// testIdempotencyLease: a reservation whose request died is taken over by
// the same request once its lease has passed, and the dead request can then
// neither record nor erase anything.
func testIdempotencyLease(t *testing.T, s store.Store) {
	h, other := []byte("hash-1"), []byte("hash-2")
	if rec := reserve(t, s, "acc", "k", "dead", h, t0); rec != nil {
		t.Fatalf("reserve = %+v", rec)
	}
	// Within the lease the key is taken, whatever the request.
	if rec := reserve(t, s, "acc", "k", "early", h, t0.Add(59*time.Second)); rec == nil || rec.Status != 0 {
		t.Fatalf("retry within the lease = %+v, want the running reservation", rec)
	}
	// After it, another request is still another request...
	if rec := reserve(t, s, "acc", "k", "other", other, t0.Add(time.Minute)); rec == nil || string(rec.RequestHash) != "hash-1" {
		t.Fatalf("another request after the lease = %+v, want the record (a mismatch)", rec)
	}
	// ...and the same request takes the reservation over.
	if rec := reserve(t, s, "acc", "k", "retry", h, t0.Add(time.Minute)); rec != nil {
		t.Fatalf("the same request after the lease = %+v, want the key", rec)
	}
	// Only one of two retries gets it.
	if rec := reserve(t, s, "acc", "k", "retry-2", h, t0.Add(time.Minute)); rec == nil {
		t.Fatal("a second retry took a freshly taken-over key")
	}
	wantErr(t, s.FinishIdempotencyKey(ctx(t), lease("acc", "k", "dead"), 200, []byte(`{"dead":true}`)), store.ErrLeaseLost)
	mustNil(t, s.ReleaseIdempotencyKey(ctx(t), lease("acc", "k", "dead")))
	mustNil(t, s.FinishIdempotencyKey(ctx(t), lease("acc", "k", "retry"), 202, []byte(`{"retry":true}`)))
	rec := reserve(t, s, "acc", "k", "later", h, t0.Add(time.Hour))
	if rec == nil || rec.Status != 202 || string(rec.Body) != `{"retry":true}` {
		t.Fatalf("record = %+v, want the retry's answer", rec)
	}
	// A finished record is never taken over, however old its lease.
	if rec := reserve(t, s, "acc", "k", "much-later", h, t0.Add(23*time.Hour)); rec == nil || rec.Status != 202 {
		t.Fatalf("finished record after its lease = %+v", rec)
	}
}

// testIdempotentCreate: a create with a reservation records the webhook with
// the reservation in one transaction, keeps no body (the answer holds the
// secret), and makes nothing when the reservation is no longer held.
func testIdempotentCreate(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	scope := "account:" + acc.ID
	h := []byte("create")
	if rec := reserve(t, s, scope, "k", "dead", h, t0); rec != nil {
		t.Fatal(rec)
	}
	if rec := reserve(t, s, scope, "k", "retry", h, t0.Add(time.Minute)); rec != nil {
		t.Fatal(rec)
	}
	hook := func() *store.Webhook {
		return &store.Webhook{UUID: uuidLike(), AccountID: acc.ID, Name: "once", URL: "https://example.com/once",
			Secret: "whsec_" + uniq("s"), Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: t0, LastModified: t0}
	}
	// The request that lost its lease makes nothing.
	late := hook()
	wantErr(t, s.CreateWebhook(ctx(t), late, &store.IdempotencyLease{Scope: scope, Key: "k", Token: "dead"}), store.ErrLeaseLost)
	_, err := s.GetWebhook(ctx(t), acc.ID, late.UUID)
	wantErr(t, err, store.ErrNotFound)
	w := hook()
	mustNil(t, s.CreateWebhook(ctx(t), w, &store.IdempotencyLease{Scope: scope, Key: "k", Token: "retry"}))
	rec := reserve(t, s, scope, "k", "replay", h, t0.Add(time.Hour))
	if rec == nil || rec.Status != 200 || rec.ResourceUUID != w.UUID || len(rec.Body) != 0 {
		t.Fatalf("record of the create = %+v, want status 200, resource %s, no body", rec, w.UUID)
	}
	list := must(s.ListWebhooks(ctx(t), &store.ListWebhooksParams{AccountID: acc.ID}))
	if len(list) != 1 || list[0].UUID != w.UUID {
		t.Fatalf("webhooks after the creates: %d, want only %s", len(list), w.UUID)
	}
	// A second create under the finished reservation makes nothing either.
	wantErr(t, s.CreateWebhook(ctx(t), hook(), &store.IdempotencyLease{Scope: scope, Key: "k", Token: "retry"}), store.ErrLeaseLost)
}

func testDefer(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	e := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e)
	c := findClaim(t, claimAll(t, s, t0), e.ID)
	if c.Status != store.StatusPending {
		t.Fatalf("claim status = %q, want pending", c.Status)
	}
	later := t0.Add(time.Second)
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq,
		Status: c.Status, NextAttemptAt: later, At: t0}})); n != 1 {
		t.Fatal("deferral not applied")
	}
	if cs := claimAll(t, s, later.Add(-time.Millisecond)); hasClaim(cs, e.ID) {
		t.Fatal("a deferred delivery was claimable before its time")
	}
	c2 := findClaim(t, claimAll(t, s, later), e.ID)
	if c2.Status != store.StatusPending || c2.Attempt != 1 || c2.TakenOver {
		t.Fatalf("after deferral: %+v (want pending, attempt 1, not a takeover)", c2)
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, Limit: 10})
	if recs[0].Attempts != 0 || recs[0].Status != store.StatusPending {
		t.Fatalf("deferral counted as an attempt: %+v", recs[0])
	}
}

// testCompleteBatch completes one batch mixing current, stale and deferred
// outcomes for two webhooks, out of delivery id order: only current claims
// apply; attempts and health follow exactly the applied outcomes.
func testCompleteBatch(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	wa := newHook(t, s, acc, hookOpts{})
	wb := newHook(t, s, acc, hookOpts{})
	evs := []*store.Event{newEvent(acc, "outbound.delivered", nil), newEvent(acc, "outbound.delivered", nil),
		newEvent(acc, "outbound.delivered", nil), newEvent(acc, "outbound.delivered", nil)}
	publish(t, s, t0, evs...)
	cs := claimAll(t, s, t0)
	claim := func(e int, w *store.Webhook) *store.Claim {
		t.Helper()
		for _, c := range cs {
			if c.EventID == evs[e].ID && c.WebhookUUID == w.UUID {
				return c
			}
		}
		t.Fatalf("no claim for event %d and webhook %s", e, w.UUID)
		return nil
	}
	out := func(c *store.Claim, status string, at time.Duration, code int, reason string) *store.Outcome {
		return &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID, Status: status,
			NextAttemptAt: t0.Add(time.Hour), Attempted: true, URL: c.URL, At: t0.Add(at), StatusCode: code, DisableReason: reason}
	}
	// Event 0 first, alone: wa delivered, wb failing since t0.
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{out(claim(0, wa), store.StatusSuccess, 0, 200, ""),
		out(claim(0, wb), store.StatusRetry, 0, 500, "")})); n != 2 {
		t.Fatalf("first batch applied %d, want 2", n)
	}
	deferred := out(claim(2, wb), store.StatusPending, 4*time.Second, 0, "")
	deferred.Attempted = false
	batch := []*store.Outcome{
		out(claim(3, wb), store.StatusSuccess, 3*time.Second, 200, ""),
		out(claim(0, wa), store.StatusFailed, 5*time.Second, 410, "gone"), // stale: already applied
		out(claim(2, wa), store.StatusFailed, 2*time.Second, 400, ""),
		out(claim(1, wb), store.StatusRetry, time.Second, 500, ""),
		deferred,
		out(claim(1, wa), store.StatusSuccess, time.Second, 200, ""),
		out(claim(3, wa), store.StatusRetry, 2*time.Second, 503, ""),
	}
	if n := must(s.CompleteDeliveries(ctx(t), batch)); n != 6 {
		t.Fatalf("mixed batch applied %d outcomes, want 6", n)
	}
	attempts := map[[2]int]int{{0, 0}: 1, {0, 1}: 1, {1, 0}: 1, {1, 1}: 1, {2, 0}: 1, {2, 1}: 0, {3, 0}: 1, {3, 1}: 1}
	for k, want := range attempts {
		c := claim(k[0], []*store.Webhook{wa, wb}[k[1]])
		if got := must(s.ListAttempts(ctx(t), acc.ID, c.DeliveryID)); len(got) != want {
			t.Errorf("event %d, webhook %d: %d attempts, want %d", k[0], k[1], len(got), want)
		}
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: evs[0].ID, WebhookUUID: wa.UUID, Limit: 10})
	if recs[0].Status != store.StatusSuccess || recs[0].Attempts != 1 {
		t.Fatalf("the stale outcome changed the delivery: %+v", recs[0])
	}
	recs, _ = mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: evs[2].ID, WebhookUUID: wb.UUID, Limit: 10})
	if recs[0].Status != store.StatusPending || recs[0].Attempts != 0 {
		t.Fatalf("the deferred delivery: %+v", recs[0])
	}
	// wa: a success at 1s, failures at 2s; the stale 410 counts for nothing.
	if g := must(s.GetWebhook(ctx(t), acc.ID, wa.UUID)); !g.Enabled || g.DisabledReason != "" || !g.FailingSince.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("wa after the batch: enabled %v, reason %q, failing since %v", g.Enabled, g.DisabledReason, g.FailingSince)
	}
	// wb: failing since t0, a failure at 1s, then a success at 3s.
	if g := must(s.GetWebhook(ctx(t), acc.ID, wb.UUID)); !g.FailingSince.IsZero() {
		t.Fatalf("wb after the batch: failing since %v, want healthy", g.FailingSince)
	}

	// A batch that applies in full, with a failure that disables wb and a
	// later success: healthy, yet disabled.
	cs = claimAll(t, s, t0.Add(time.Hour))
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{
		out(claim(2, wb), store.StatusSuccess, time.Hour+time.Second, 200, ""),
		out(claim(1, wb), store.StatusFailed, time.Hour, 410, "gone"),
	})); n != 2 {
		t.Fatalf("last batch applied %d, want 2", n)
	}
	if g := must(s.GetWebhook(ctx(t), acc.ID, wb.UUID)); g.Enabled || g.DisabledReason != "gone" ||
		!g.DisabledAt.Equal(t0.Add(time.Hour)) || !g.FailingSince.IsZero() {
		t.Fatalf("wb after the last batch: %+v", g)
	}
}

// testCompleteSameDeliveryTwice puts two outcomes for one delivery in one
// batch, as a node that retook its own expired lease may: the same outcome
// twice applies once, and of a stale and a current claim only the current
// one applies; either way one attempt is recorded and health follows the
// applied outcome only.
func testCompleteSameDeliveryTwice(t *testing.T, s store.Store) {
	acc := newAccount(t, s, []string{"api-user"}, nil)
	w := newHook(t, s, acc, hookOpts{})
	publish(t, s, t0, newEvent(acc, "outbound.delivered", nil), newEvent(acc, "outbound.delivered", nil))
	claim := func(now time.Time) []*store.Claim {
		t.Helper()
		cs := claimAll(t, s, now)
		if len(cs) != 2 {
			t.Fatalf("claimed %d, want 2", len(cs))
		}
		return cs
	}
	out := func(c *store.Claim, status string, code int, reason string) *store.Outcome {
		return &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: w.UUID, Status: status,
			Attempted: true, At: t0.Add(2 * time.Minute), StatusCode: code, DisableReason: reason}
	}
	stale := claim(t0)
	cur := claim(t0.Add(2 * time.Minute)) // the leases (one minute) expired: taken over
	if stale[0].DeliveryID != cur[0].DeliveryID {
		stale[0], stale[1] = stale[1], stale[0]
	}
	n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{
		out(cur[0], store.StatusSuccess, 200, ""),
		out(stale[0], store.StatusFailed, 410, "gone"), // stale: must neither apply nor disable
		out(cur[0], store.StatusSuccess, 200, ""),
		out(cur[1], store.StatusSuccess, 200, ""),
		out(stale[1], store.StatusFailed, 500, ""),
	}))
	if n != 2 {
		t.Fatalf("CompleteDeliveries applied %d, want 2", n)
	}
	for _, c := range cur {
		atts := must(s.ListAttempts(ctx(t), acc.ID, c.DeliveryID))
		if len(atts) != 1 || atts[0].StatusCode != 200 {
			t.Fatalf("attempts of %d = %+v; want one 200", c.DeliveryID, atts)
		}
	}
	g := must(s.GetWebhook(ctx(t), acc.ID, w.UUID))
	if !g.Enabled || !g.FailingSince.IsZero() {
		t.Fatalf("webhook after the batch: %+v", g)
	}
}

// testAttemptHistory: why each attempt failed is kept (class, message,
// excerpt, duration), the newest attempt comes with each query record, and
// a delivery's attempts page by number, for its own account only.
func testAttemptHistory(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{})
	e1 := newEvent(acc, "outbound.delivered", nil)
	e2 := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, e1, e2)

	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e1.ID, Limit: 10})
	if len(recs) != 1 || recs[0].LastAttempt != nil {
		t.Fatalf("before any attempt: %+v, want no last attempt", recs[0].LastAttempt)
	}
	if got := must(s.ListDeliveryAttempts(ctx(t), &store.ListDeliveryAttemptsParams{AccountID: acc.ID, WebhookUUID: w.UUID, EventID: e1.ID})); len(got) != 0 {
		t.Fatalf("attempts before any attempt = %+v", got)
	}

	// One batch completing both deliveries with different classes: each
	// attempt row must get its own outcome's class.
	body := strings.Repeat("x", 1021) + "é€" // multi-byte text survives as is
	cs := claimAll(t, s, t0)
	c1, c2 := findClaim(t, cs, e1.ID), findClaim(t, cs, e2.ID)
	must(s.CompleteDeliveries(ctx(t), []*store.Outcome{
		{DeliveryID: c1.DeliveryID, ClaimSeq: c1.ClaimSeq, WebhookUUID: w.UUID, Status: store.StatusRetry, NextAttemptAt: t0.Add(time.Minute),
			Attempted: true, URL: w.URL, At: t0, Duration: 42 * time.Millisecond, StatusCode: 503,
			ErrorClass: store.ErrorClassHTTPStatus, Error: "HTTP 503", ResponseBody: body},
		{DeliveryID: c2.DeliveryID, ClaimSeq: c2.ClaimSeq, WebhookUUID: w.UUID, Status: store.StatusRetry, NextAttemptAt: t0.Add(time.Minute),
			Attempted: true, URL: w.URL, At: t0, Duration: 5 * time.Second,
			ErrorClass: store.ErrorClassTimeout, Error: "timed out after 5s"},
	}))
	recs, _ = mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e1.ID, Limit: 10})
	want := store.Attempt{DeliveryID: c1.DeliveryID, Number: 1, At: t0, Duration: 42 * time.Millisecond, StatusCode: 503,
		ErrorClass: store.ErrorClassHTTPStatus, Error: "HTTP 503", ResponseBody: body}
	if la := recs[0].LastAttempt; la == nil || *la != want {
		t.Fatalf("last attempt = %+v, want %+v", la, want)
	}
	recs, _ = mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e2.ID, Limit: 10})
	if la := recs[0].LastAttempt; la == nil || la.ErrorClass != store.ErrorClassTimeout || la.StatusCode != 0 || la.Duration != 5*time.Second {
		t.Fatalf("timed-out last attempt = %+v", la)
	}

	// Two more attempts of e1: a refused connection, then a success.
	c1 = findClaim(t, claimAll(t, s, t0.Add(time.Minute)), e1.ID)
	must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c1.DeliveryID, ClaimSeq: c1.ClaimSeq, WebhookUUID: w.UUID,
		Status: store.StatusRetry, NextAttemptAt: t0.Add(2 * time.Minute), Attempted: true, At: t0.Add(time.Minute),
		ErrorClass: store.ErrorClassConnectionRefused, Error: "connection refused"}}))
	c1 = findClaim(t, claimAll(t, s, t0.Add(2*time.Minute)), e1.ID)
	must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c1.DeliveryID, ClaimSeq: c1.ClaimSeq, WebhookUUID: w.UUID,
		Status: store.StatusSuccess, Attempted: true, At: t0.Add(2 * time.Minute), StatusCode: 200, ResponseBody: "ok"}}))
	recs, _ = mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e1.ID, Limit: 10})
	if la := recs[0].LastAttempt; la == nil || la.Number != 3 || la.StatusCode != 200 || la.ErrorClass != "" || la.Error != "" || la.ResponseBody != "ok" {
		t.Fatalf("last attempt after success = %+v", la)
	}

	list := func(p store.ListDeliveryAttemptsParams) ([]*store.Attempt, error) {
		if p.AccountID == "" {
			p.AccountID = acc.ID
		}
		if p.WebhookUUID == "" {
			p.WebhookUUID = w.UUID
		}
		if p.EventID == "" {
			p.EventID = e1.ID
		}
		return s.ListDeliveryAttempts(ctx(t), &p)
	}
	all := must(list(store.ListDeliveryAttemptsParams{}))
	if len(all) != 3 || *all[0] != want || all[1].Number != 2 || all[1].ErrorClass != store.ErrorClassConnectionRefused ||
		all[1].StatusCode != 0 || all[2].Number != 3 || all[2].StatusCode != 200 {
		t.Fatalf("attempts = %+v %+v %+v", all[0], all[1], all[2])
	}
	page := must(list(store.ListDeliveryAttemptsParams{Limit: 2}))
	if len(page) != 2 || page[0].Number != 1 || page[1].Number != 2 {
		t.Fatalf("first page = %d attempts", len(page))
	}
	page = must(list(store.ListDeliveryAttemptsParams{Limit: 2, AfterNumber: 2}))
	if len(page) != 1 || page[0].Number != 3 {
		t.Fatalf("second page = %+v", page)
	}
	if page = must(list(store.ListDeliveryAttemptsParams{AfterNumber: 3})); len(page) != 0 {
		t.Fatalf("page after the last = %+v", page)
	}
	// ListAttempts numbers the same way.
	if old := must(s.ListAttempts(ctx(t), acc.ID, c1.DeliveryID)); len(old) != 3 || old[2].Number != 3 || old[0].ErrorClass != store.ErrorClassHTTPStatus {
		t.Fatalf("ListAttempts = %+v", old)
	}

	// Another account's delivery, an unknown event or webhook: not found.
	other := newAccount(t, s, nil, nil)
	for name, p := range map[string]store.ListDeliveryAttemptsParams{
		"other account": {AccountID: other.ID},
		"unknown event": {EventID: "evt_nope"},
		"other webhook": {WebhookUUID: uuidLike()},
	} {
		if _, err := list(p); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}

	// The history outlives the webhook.
	mustNil(t, s.DeleteWebhook(ctx(t), acc.ID, w.UUID, t0.Add(time.Hour)))
	if got := must(list(store.ListDeliveryAttemptsParams{})); len(got) != 3 {
		t.Fatalf("after deleting the webhook: %d attempts, want 3", len(got))
	}
}
