package storetest

import (
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// settle claims every delivery due at now and completes each with the status
// decide returns for it ("" leaves it claimed, still pending). Attempted
// outcomes record one attempt each.
func settle(t *testing.T, s store.Store, now time.Time, decide func(c *store.Claim) string) {
	t.Helper()
	var outs []*store.Outcome
	for _, c := range claimAll(t, s, now) {
		st := decide(c)
		if st == "" {
			continue
		}
		o := &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID, Status: st,
			Attempted: true, URL: c.URL, At: now, StatusCode: 200}
		if st != store.StatusSuccess {
			o.StatusCode = 500
		}
		if st == store.StatusRetry {
			o.NextAttemptAt = now.Add(time.Minute)
		}
		outs = append(outs, o)
	}
	if len(outs) > 0 {
		must(s.CompleteDeliveries(ctx(t), outs))
	}
}

func eventIDs(t *testing.T, s store.Store, acc *store.Account) map[string]int {
	t.Helper()
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, Limit: 1000})
	out := map[string]int{}
	for _, r := range recs {
		out[r.EventID]++
	}
	return out
}

// testRetention checks exactly what PurgeHistory deletes: events created
// before the horizon all of whose deliveries finished (succeeded, failed or
// dead-lettered) before it, with their deliveries and attempts, in every
// account; and nothing of an event with a pending or retrying delivery, one
// finished (replayed) since the horizon, or one created since.
func testRetention(t *testing.T, s store.Store) {
	a := newAccount(t, s, nil, nil)
	b := newAccount(t, s, nil, nil)
	newHook(t, s, a, hookOpts{events: []string{"outbound.delivered"}})
	w2 := newHook(t, s, a, hookOpts{events: []string{"outbound.delivered"}})
	newHook(t, s, b, hookOpts{events: []string{"outbound.delivered"}})
	horizon := t0.Add(30 * 24 * time.Hour)
	ev := func(acc *store.Account, typ string, created time.Time) *store.Event {
		return newEvent(acc, typ, func(e *store.Event) { e.CreatedAt = created })
	}
	succeeded := ev(a, "outbound.delivered", t0)                  // both deliveries succeed
	deadLettered := ev(a, "outbound.delivered", t0)               // one succeeds, one fails for good
	retrying := ev(a, "outbound.delivered", t0)                   // one succeeds, one retries
	pending := ev(a, "outbound.delivered", t0)                    // never attempted
	recent := ev(a, "outbound.delivered", horizon.Add(time.Hour)) // created after the horizon
	replayed := ev(a, "outbound.delivered", t0)                   // finished again after the horizon
	unmatched := ev(a, "inbound.received", t0)                    // no delivery at all
	otherAccount := ev(b, "outbound.delivered", t0)               // another account's, finished
	publish(t, s, t0, succeeded, deadLettered, retrying, pending, recent, replayed, unmatched, otherAccount)
	finished := t0.Add(time.Minute)
	settle(t, s, finished, func(c *store.Claim) string {
		switch {
		case c.EventID == pending.ID:
			return ""
		case c.EventID == deadLettered.ID && c.WebhookUUID == w2.UUID:
			return store.StatusFailed
		case c.EventID == retrying.ID && c.WebhookUUID == w2.UUID:
			return store.StatusRetry
		}
		return store.StatusSuccess
	})
	// A replay after the horizon puts the event's deliveries back in the
	// queue; once they succeed again, the event's history is new.
	must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: a.ID, EventID: replayed.ID, Now: horizon.Add(time.Minute)}))
	settle(t, s, horizon.Add(time.Minute), func(c *store.Claim) string {
		if c.EventID == replayed.ID {
			return store.StatusSuccess
		}
		return ""
	})
	var purgedDeliveries []int64
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: a.ID, Limit: 1000})
	for _, r := range recs {
		if r.EventID == succeeded.ID || r.EventID == deadLettered.ID {
			purgedDeliveries = append(purgedDeliveries, r.DeliveryID)
		}
	}
	if len(purgedDeliveries) != 4 {
		t.Fatalf("set-up: %d deliveries of the events to purge, want 4", len(purgedDeliveries))
	}
	if at := must(s.PurgedThrough(ctx(t), a.ID)); !at.IsZero() {
		t.Fatalf("PurgedThrough before any purge = %v, want zero", at)
	}

	res := must(s.PurgeHistory(ctx(t), &store.PurgeParams{Before: horizon, Limit: 100}))
	// succeeded (2 deliveries, 2 attempts), deadLettered (2, 2), unmatched
	// (0, 0), otherAccount (1, 1).
	if want := (store.PurgeResult{Events: 4, Deliveries: 5, Attempts: 5}); *res != want {
		t.Fatalf("PurgeHistory = %+v, want %+v", *res, want)
	}
	got := eventIDs(t, s, a)
	want := map[string]int{retrying.ID: 2, pending.ID: 2, recent.ID: 2, replayed.ID: 2}
	if len(got) != len(want) {
		t.Fatalf("account A lists %v after the purge, want %v", got, want)
	}
	for id, n := range want {
		if got[id] != n {
			t.Fatalf("account A lists %v after the purge, want %v", got, want)
		}
	}
	if got := eventIDs(t, s, b); len(got) != 0 {
		t.Fatalf("account B lists %v after the purge, want nothing", got)
	}
	for _, id := range purgedDeliveries {
		if atts := must(s.ListAttempts(ctx(t), a.ID, id)); len(atts) != 0 {
			t.Fatalf("delivery %d still has %d attempts", id, len(atts))
		}
	}
	_, err := s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: a.ID, EventID: succeeded.ID, Now: horizon})
	wantErr(t, err, store.ErrNotFound)
	// The retrying event keeps its finished delivery and its attempts too.
	for _, r := range must2(t, s, &store.QueryParams{AccountID: a.ID, EventID: retrying.ID, Limit: 10}) {
		if atts := must(s.ListAttempts(ctx(t), a.ID, r.DeliveryID)); len(atts) != 1 {
			t.Fatalf("retrying event's delivery %d has %d attempts, want 1", r.DeliveryID, len(atts))
		}
	}
	for _, acc := range []*store.Account{a, b} {
		if at := must(s.PurgedThrough(ctx(t), acc.ID)); !at.Equal(t0) {
			t.Fatalf("PurgedThrough(%s) = %v, want %v", acc.ID, at, t0)
		}
	}
	if oldest, ok := must3(s.OldestEventAt(ctx(t))); !ok || !oldest.Equal(t0) {
		t.Fatalf("OldestEventAt = %v %v, want %v", oldest, ok, t0)
	}
	if again := must(s.PurgeHistory(ctx(t), &store.PurgeParams{Before: horizon, Limit: 100})); *again != (store.PurgeResult{}) {
		t.Fatalf("a second purge deleted %+v", *again)
	}
	// The retry succeeds after the horizon: a later horizon takes it, and the
	// replayed event, but still nothing pending or created since.
	settle(t, s, horizon.Add(2*time.Minute), func(c *store.Claim) string {
		if c.EventID == retrying.ID {
			return store.StatusSuccess
		}
		return ""
	})
	for _, r := range must2(t, s, &store.QueryParams{AccountID: a.ID, EventID: retrying.ID, Limit: 10}) {
		if r.Status != store.StatusSuccess {
			t.Fatalf("set-up: retrying event's delivery is %s", r.Status)
		}
	}
	later := horizon.Add(time.Hour)
	// retrying: 2 deliveries, 3 attempts; replayed: 2 deliveries, 2 attempts
	// before the replay and 2 after.
	res = must(s.PurgeHistory(ctx(t), &store.PurgeParams{Before: later, Limit: 100}))
	if want := (store.PurgeResult{Events: 2, Deliveries: 4, Attempts: 7}); *res != want {
		t.Fatalf("PurgeHistory at a later horizon = %+v, want %+v", *res, want)
	}
	if got := eventIDs(t, s, a); len(got) != 2 || got[pending.ID] != 2 || got[recent.ID] != 2 {
		t.Fatalf("account A lists %v, want the pending and the recent event", got)
	}
	if at := must(s.PurgedThrough(ctx(t), a.ID)); !at.Equal(t0) {
		t.Fatalf("PurgedThrough = %v, want %v", at, t0)
	}
}

// testRetentionBatches checks that one call deletes at most Limit events,
// oldest first, and that repeated calls drain the history.
func testRetentionBatches(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	var evs []*store.Event
	for i := range 25 {
		evs = append(evs, newEvent(acc, "outbound.delivered", func(e *store.Event) { e.CreatedAt = t0.Add(time.Duration(i) * time.Second) }))
	}
	publish(t, s, t0, evs...)
	settle(t, s, t0.Add(time.Minute), func(*store.Claim) string { return store.StatusSuccess })
	horizon := t0.Add(time.Hour)
	for i, want := range []int{10, 10, 5, 0} {
		res := must(s.PurgeHistory(ctx(t), &store.PurgeParams{Before: horizon, Limit: 10}))
		if res.Events != want || res.Deliveries != want || res.Attempts != want {
			t.Fatalf("batch %d = %+v, want %d of each", i, *res, want)
		}
		if i == 0 {
			oldest, ok := must3(s.OldestEventAt(ctx(t)))
			if !ok || !oldest.Equal(t0.Add(10*time.Second)) {
				t.Fatalf("after the first batch OldestEventAt = %v %v, want the 11th event's time", oldest, ok)
			}
			if at := must(s.PurgedThrough(ctx(t), acc.ID)); !at.Equal(t0.Add(9 * time.Second)) {
				t.Fatalf("after the first batch PurgedThrough = %v, want the 10th event's time", at)
			}
		}
	}
	if _, ok := must3(s.OldestEventAt(ctx(t))); ok {
		t.Fatal("OldestEventAt reports an event after everything was purged")
	}
	if res := must(s.PurgeHistory(ctx(t), &store.PurgeParams{Before: horizon})); *res != (store.PurgeResult{}) {
		t.Fatalf("a purge without a limit deleted %+v", *res)
	}
}

func must2(t *testing.T, s store.Store, p *store.QueryParams) []*store.DeliveryRecord {
	t.Helper()
	recs, _ := mustQuery(t, s, p)
	return recs
}

func must3[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic("unexpected error: " + err.Error())
	}
	return a, b
}

// testDataInEnvelope checks an event stored with its data only inside its
// envelope (what ingest stores): the history returns the envelope's data
// member, exactly, and an event stored with its own data keeps it.
func testDataInEnvelope(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	newHook(t, s, acc, hookOpts{})
	data := `{"note":"\u003cb\u003e,\"data\":1 \u0026","n":[1,{"data":2}]}`
	once := newEvent(acc, "outbound.delivered", nil)
	once.Data = []byte{}
	once.Body = []byte(`{"id":"` + once.ID + `","service":"outbound","type":"outbound.delivered","created_at":1,"data":` + data + `}`)
	own := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, t0, once, own)
	for _, c := range []struct {
		e    *store.Event
		want string
	}{{once, data}, {own, string(own.Data)}} {
		recs := must2(t, s, &store.QueryParams{AccountID: acc.ID, EventID: c.e.ID, Limit: 10})
		if len(recs) != 1 || string(recs[0].Data) != c.want {
			t.Fatalf("history data of %s = %q, want %q", c.e.ID, recs[0].Data, c.want)
		}
	}
	if c := findClaim(t, claimAll(t, s, t0), once.ID); string(c.Body) != string(once.Body) {
		t.Fatalf("claim body = %q, want the envelope as stored", c.Body)
	}
}
