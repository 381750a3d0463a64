package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Delivery controls: FIFO ordering and per-webhook rate limits.

func newControlledHook(t *testing.T, s store.Store, acc *store.Account, ordering string, rate int) *store.Webhook {
	t.Helper()
	w := &store.Webhook{UUID: uuidLike(), AccountID: acc.ID, Name: "hook", URL: "https://example.com/" + uniq("h"),
		Secret: "whsec_" + uniq("s"), Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: t0, LastModified: t0,
		Ordering: ordering, RateLimit: rate}
	mustNil(t, s.CreateWebhook(ctx(t), w, nil))
	return w
}

// claimsOf keeps the claims of one webhook.
func claimsOf(cs []*store.Claim, uuid string) []*store.Claim {
	var out []*store.Claim
	for _, c := range cs {
		if c.WebhookUUID == uuid {
			out = append(out, c)
		}
	}
	return out
}

func finish(t *testing.T, s store.Store, c *store.Claim, status string, at, next time.Time) {
	t.Helper()
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
		Gated: c.Gated, Status: status, NextAttemptAt: next, Attempted: true, At: at, StatusCode: 200}})); n != 1 {
		t.Fatalf("outcome for %s not applied", c.EventID)
	}
}

// testFIFO: a FIFO webhook's deliveries are claimable one at a time, in
// publish order; the head blocks the queue while it is leased or retrying,
// and the queue moves on when it succeeds or is dead-lettered. An unordered
// webhook of the same account is not held back.
func testFIFO(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newControlledHook(t, s, acc, store.OrderingFIFO, 0)
	free := newHook(t, s, acc, hookOpts{})
	if got := must(s.GetWebhook(ctx(t), acc.ID, w.UUID)); got.Ordering != store.OrderingFIFO || got.RateLimit != 0 {
		t.Fatalf("stored controls = %q %d", got.Ordering, got.RateLimit)
	}
	if got := must(s.GetWebhook(ctx(t), acc.ID, free.UUID)); got.Ordering != store.OrderingUnordered {
		t.Fatalf("default ordering = %q", got.Ordering)
	}
	var evs []*store.Event
	for i := range 5 {
		evs = append(evs, newEvent(acc, "outbound.delivered", nil))
		if i < 2 {
			publish(t, s, t0, evs[i]) // one by one, then a batch
		}
	}
	publish(t, s, t0, evs[2:]...)
	cs := claimAll(t, s, t0)
	if n := len(claimsOf(cs, free.UUID)); n != 5 {
		t.Fatalf("unordered webhook: %d claims, want 5", n)
	}
	head := claimsOf(cs, w.UUID)
	if len(head) != 1 || head[0].EventID != evs[0].ID || !head[0].Gated || head[0].Replay {
		t.Fatalf("FIFO claims = %+v, want the first event only", head)
	}
	// Leased: nothing else of the webhook is claimable, even much later.
	if got := claimsOf(claimAll(t, s, t0.Add(30*time.Second)), w.UUID); len(got) != 0 {
		t.Fatalf("claimed %d behind a leased head", len(got))
	}
	// Retrying: the head blocks the queue until its retry.
	finish(t, s, head[0], store.StatusRetry, t0.Add(time.Second), t0.Add(2*time.Minute))
	if got := claimsOf(claimAll(t, s, t0.Add(time.Minute)), w.UUID); len(got) != 0 {
		t.Fatalf("claimed %d behind a retrying head", len(got))
	}
	h := claimsOf(claimAll(t, s, t0.Add(2*time.Minute)), w.UUID)
	if len(h) != 1 || h[0].EventID != evs[0].ID || h[0].Attempt != 2 {
		t.Fatalf("retry claims = %+v", h)
	}
	// Dead-lettered: the queue moves on, in order.
	finish(t, s, h[0], store.StatusFailed, t0.Add(2*time.Minute), time.Time{})
	now := t0.Add(3 * time.Minute)
	for _, e := range evs[1:] {
		cs := claimsOf(claimAll(t, s, now), w.UUID)
		if len(cs) != 1 || cs[0].EventID != e.ID {
			t.Fatalf("next claim = %+v, want %s only", cs, e.ID)
		}
		finish(t, s, cs[0], store.StatusSuccess, now, time.Time{})
	}
	if got := claimsOf(claimAll(t, s, now.Add(time.Hour)), w.UUID); len(got) != 0 {
		t.Fatalf("%d claims left", len(got))
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, WebhookUUID: w.UUID, EventID: evs[0].ID, Limit: 10})
	if len(recs) != 1 || recs[0].Status != store.StatusFailed {
		t.Fatalf("dead-lettered head = %+v", recs)
	}
	// Replay of the dead-lettered event goes after what is queued, marked.
	later := now.Add(time.Hour)
	e6 := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, later, e6)
	must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: evs[0].ID, WebhookUUID: w.UUID, Now: later}))
	e7 := newEvent(acc, "outbound.delivered", nil)
	publish(t, s, later, e7)
	for _, want := range []struct {
		id     string
		replay bool
	}{{e6.ID, false}, {evs[0].ID, true}, {e7.ID, false}} {
		cs := claimsOf(claimAll(t, s, later), w.UUID)
		if len(cs) != 1 || cs[0].EventID != want.id || cs[0].Replay != want.replay {
			t.Fatalf("after replay: claims = %+v, want %s (replay %v)", cs, want.id, want.replay)
		}
		finish(t, s, cs[0], store.StatusSuccess, later, time.Time{})
	}
}

// testFIFOUpdate: switching a FIFO webhook to unordered releases its queue;
// disabling it releases the queue too (its deliveries then fail unattempted).
func testFIFOUpdate(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newControlledHook(t, s, acc, store.OrderingFIFO, 0)
	for range 3 {
		publish(t, s, t0, newEvent(acc, "outbound.delivered", nil))
	}
	head := claimAll(t, s, t0)
	if len(head) != 1 {
		t.Fatalf("claimed %d, want the head", len(head))
	}
	unordered := store.OrderingUnordered
	got := must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Ordering: &unordered, Now: t0}))
	if got.Ordering != store.OrderingUnordered {
		t.Fatalf("ordering after update = %q", got.Ordering)
	}
	released := claimAll(t, s, t0)
	if len(released) != 2 {
		t.Fatalf("claimed %d after switching to unordered, want the 2 queued", len(released))
	}
	// Back to FIFO: new events queue again, behind those still in flight.
	fifo := store.OrderingFIFO
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Ordering: &fifo, Now: t0}))
	for range 3 {
		publish(t, s, t0, newEvent(acc, "outbound.delivered", nil))
	}
	if n := len(claimAll(t, s, t0)); n != 0 {
		t.Fatalf("claimed %d after switching back to FIFO with 3 in flight, want 0", n)
	}
	for _, c := range append(released, head...) {
		finish(t, s, c, store.StatusSuccess, t0, time.Time{})
	}
	if n := len(claimAll(t, s, t0)); n != 1 {
		t.Fatalf("claimed %d after switching back to FIFO, want 1", n)
	}
	off := false
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Enabled: &off, Now: t0}))
	cs := claimAll(t, s, t0)
	if len(cs) != 2 || cs[0].Enabled {
		t.Fatalf("after disabling: %d claims (enabled %v), want the 2 queued, disabled", len(cs), len(cs) > 0 && cs[0].Enabled)
	}
}

// testFIFOConcurrentClaims: claims racing from many workers never hold two
// deliveries of one FIFO webhook at once.
func testFIFOConcurrentClaims(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	var hooks []*store.Webhook
	for range 4 {
		hooks = append(hooks, newControlledHook(t, s, acc, store.OrderingFIFO, 0))
	}
	var evs []*store.Event
	for range 30 {
		evs = append(evs, newEvent(acc, "outbound.delivered", nil))
	}
	publish(t, s, t0, evs...)
	order := map[string]int{}
	for i, e := range evs {
		order[e.ID] = i
	}
	var mu sync.Mutex
	inflight := map[string]bool{}
	last := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for empty := 0; empty < 50; {
				cs, err := s.ClaimDeliveries(ctx(t), &store.ClaimParams{Owner: "w", Limit: 3, Now: t0, Lease: time.Hour})
				if err != nil {
					errs <- err.Error()
					return
				}
				if len(cs) == 0 {
					empty++
					time.Sleep(time.Millisecond)
					continue
				}
				for _, c := range cs {
					mu.Lock()
					if inflight[c.WebhookUUID] {
						errs <- "two deliveries of one FIFO webhook in flight"
					}
					if p, ok := last[c.WebhookUUID]; ok && order[c.EventID] <= p {
						errs <- "out of order: " + c.EventID
					}
					inflight[c.WebhookUUID], last[c.WebhookUUID] = true, order[c.EventID]
					mu.Unlock()
				}
				for _, c := range cs {
					mu.Lock()
					inflight[c.WebhookUUID] = false
					mu.Unlock()
					if _, err := s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq,
						WebhookUUID: c.WebhookUUID, Gated: c.Gated, Status: store.StatusSuccess, Attempted: true, At: t0, StatusCode: 200}}); err != nil {
						errs <- err.Error()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	for _, w := range hooks {
		if last[w.UUID] != len(evs)-1 {
			t.Fatalf("webhook %s: last delivered %d, want all %d", w.UUID, last[w.UUID], len(evs))
		}
	}
}

// testRateLimit: a rate-limited webhook's attempts are admitted no closer
// than its interval, however many are due; the others wait without an
// attempt counted and nothing is dropped; other webhooks are not slowed.
func testRateLimit(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newControlledHook(t, s, acc, "", 4) // 250 ms apart
	free := newHook(t, s, acc, hookOpts{})
	other := newAccount(t, s, nil, nil)
	otherHook := newHook(t, s, other, hookOpts{})
	var evs []*store.Event
	for range 10 {
		evs = append(evs, newEvent(acc, "outbound.delivered", nil))
	}
	publish(t, s, t0, evs...)
	publish(t, s, t0, newEvent(other, "outbound.delivered", nil), newEvent(other, "outbound.delivered", nil))
	cs := claimAll(t, s, t0)
	if n := len(claimsOf(cs, free.UUID)); n != 10 {
		t.Fatalf("unthrottled webhook of the same account: %d claims, want 10", n)
	}
	if n := len(claimsOf(cs, otherHook.UUID)); n != 2 {
		t.Fatalf("webhook of another account: %d claims, want 2", n)
	}
	var got []*store.Claim
	got = append(got, claimsOf(cs, w.UUID)...)
	if len(got) != 1 {
		t.Fatalf("throttled webhook: %d claims at once, want 1", len(got))
	}
	var admitted []time.Time
	admitted = append(admitted, startOf(t, got[0], t0))
	// Step a clock through 3 s in 50 ms steps, completing at once.
	for now := t0; now.Before(t0.Add(3 * time.Second)); now = now.Add(50 * time.Millisecond) {
		if now != t0 {
			cs := claimsOf(claimAll(t, s, now), w.UUID)
			if len(cs) > 1 {
				t.Fatalf("%d claims at %v", len(cs), now.Sub(t0))
			}
			if len(cs) == 1 {
				got = append(got, cs[0])
				admitted = append(admitted, startOf(t, cs[0], now))
			}
		}
		for _, c := range got {
			if c != nil && c.ClaimSeq > 0 {
				finish(t, s, c, store.StatusSuccess, now, time.Time{})
				c.ClaimSeq = -1
			}
		}
	}
	for i := 1; i < len(admitted); i++ {
		if d := admitted[i].Sub(admitted[i-1]); d < 250*time.Millisecond {
			t.Fatalf("attempts %d and %d only %v apart", i-1, i, d)
		}
	}
	// Claimed a little ahead of their slots, the attempts keep the pace
	// exactly: nothing of the claimer's timing is lost.
	if last := admitted[len(admitted)-1]; !last.Equal(t0.Add(9 * 250 * time.Millisecond)) {
		t.Fatalf("10th attempt starts at %v, want 2.25 s", last.Sub(t0))
	}
	if len(got) != 10 {
		t.Fatalf("delivered %d in 3 s at 4/s, want all 10", len(got))
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, WebhookUUID: w.UUID, Limit: 100})
	for _, r := range recs {
		if r.Attempts != 1 || r.Status != store.StatusSuccess {
			t.Fatalf("a throttled wait counted as an attempt: %+v", r)
		}
	}
}

// startOf is when a claim made at now may start its attempt: at once, or at
// the slot it was claimed ahead of (never more than store.PaceAhead later).
func startOf(t *testing.T, c *store.Claim, now time.Time) time.Time {
	t.Helper()
	if c.NotBefore.IsZero() {
		return now
	}
	if !c.NotBefore.After(now) || c.NotBefore.Sub(now) > store.PaceAhead(c.Pace) || c.Pace <= 0 {
		t.Fatalf("claim at %v: NotBefore %v, pace %v", now, c.NotBefore, c.Pace)
	}
	return c.NotBefore
}

// testRateLimitSlowDown: a 429 with Retry-After stops attempts to the
// webhook until then, and halves its pace for a while.
func testRateLimitSlowDown(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newControlledHook(t, s, acc, "", 1) // 1 s apart
	for range 5 {
		publish(t, s, t0, newEvent(acc, "outbound.delivered", nil))
	}
	cs := claimsOf(claimAll(t, s, t0), w.UUID)
	if len(cs) != 1 || !startOf(t, cs[0], t0).Equal(t0) {
		t.Fatalf("claims = %+v", cs)
	}
	pause := t0.Add(10 * time.Second)
	must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: cs[0].DeliveryID, ClaimSeq: cs[0].ClaimSeq, WebhookUUID: w.UUID,
		Gated: true, Status: store.StatusRetry, NextAttemptAt: pause, Attempted: true, At: t0, StatusCode: 429,
		SlowDown: true, PauseUntil: pause}}))
	if got := claimsOf(claimAll(t, s, pause.Add(-200*time.Millisecond)), w.UUID); len(got) != 0 {
		t.Fatalf("claimed %d during the receiver's Retry-After", len(got))
	}
	if got := claimsOf(claimAll(t, s, pause.Add(-time.Millisecond)), w.UUID); len(got) != 0 {
		t.Fatalf("claimed %d just before Retry-After ends", len(got))
	}
	first := claimsOf(claimAll(t, s, pause), w.UUID)
	if len(first) != 1 || first[0].DeliveryID != cs[0].DeliveryID || !startOf(t, first[0], pause).Equal(pause) {
		t.Fatalf("claims at Retry-After = %+v, want the retry, at once", first)
	}
	finish(t, s, first[0], store.StatusSuccess, pause, time.Time{})
	// Slowed: 2 s apart, not 1. The next is claimed a little ahead of its slot.
	if got := claimsOf(claimAll(t, s, pause.Add(1500*time.Millisecond)), w.UUID); len(got) != 0 {
		t.Fatalf("claimed %d 1.5 s later while slowed down", len(got))
	}
	now := pause.Add(1950 * time.Millisecond)
	next := claimsOf(claimAll(t, s, now), w.UUID)
	if len(next) != 1 || !startOf(t, next[0], now).Equal(pause.Add(2*time.Second)) {
		t.Fatalf("claims 1.95 s later while slowed down = %+v, want one starting 2 s after the first", next)
	}
}
