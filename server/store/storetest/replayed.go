package storetest

import (
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// testReplayedMark: a replay marks every delivery it re-queues, to an
// unordered webhook as to a FIFO one: the history record says Replayed and
// the claims (first and retries) carry Replay. Deliveries never replayed
// stay unmarked, and the mark outlives the replayed delivery's outcome.
func testReplayedMark(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	free := newHook(t, s, acc, hookOpts{events: []string{"outbound.delivered"}})
	fifo := newControlledHook(t, s, acc, store.OrderingFIFO, 0)
	e := newEvent(acc, "outbound.delivered", func(e *store.Event) { e.SourceUID = "msg-mark" })
	other := newEvent(acc, "outbound.delivered", func(e *store.Event) { e.CreatedAt = t0.Add(time.Second) })
	publish(t, s, t0, e, other)

	// Deliver everything (the FIFO webhook one at a time).
	for now := t0; ; now = now.Add(time.Second) {
		cs := claimAll(t, s, now)
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			if c.Replay {
				t.Fatalf("claim of %s to %s marked as a replay before any replay", c.EventID, c.WebhookUUID)
			}
			finish(t, s, c, store.StatusSuccess, now, time.Time{})
		}
	}
	recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, Limit: 10})
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for _, r := range recs {
		if r.Replayed {
			t.Fatalf("record of %s to %s replayed before any replay", r.EventID, r.WebhookUUID)
		}
	}

	// Replay e to both webhooks: both deliveries are marked, other's are not.
	later := t0.Add(time.Hour)
	if res := must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, EventID: e.ID, Now: later})); res.Deliveries != 2 {
		t.Fatalf("replay re-queued %d deliveries, want 2", res.Deliveries)
	}
	marked := func(when string, want map[string]bool) {
		t.Helper()
		recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, Limit: 10})
		for _, r := range recs {
			key := r.EventID + "/" + r.WebhookUUID
			if r.Replayed != want[key] {
				t.Fatalf("%s: record %s Replayed = %v, want %v", when, key, r.Replayed, want[key])
			}
		}
	}
	want := map[string]bool{e.ID + "/" + free.UUID: true, e.ID + "/" + fifo.UUID: true}
	marked("queued again", want)
	cs := claimAll(t, s, later)
	if len(cs) != 2 {
		t.Fatalf("claimed %d after the replay, want 2", len(cs))
	}
	for _, c := range cs {
		if c.EventID != e.ID || !c.Replay {
			t.Fatalf("claim after the replay = %+v, want %s marked as a replay", c, e.ID)
		}
		if c.WebhookUUID == free.UUID {
			// A retry of the replayed delivery is still a replay.
			finish(t, s, c, store.StatusRetry, later, later.Add(time.Minute))
		} else {
			finish(t, s, c, store.StatusSuccess, later, time.Time{})
		}
	}
	retry := claimAll(t, s, later.Add(time.Minute))
	if len(retry) != 1 || retry[0].WebhookUUID != free.UUID || !retry[0].Replay {
		t.Fatalf("retry of the replayed delivery = %+v, want one claim marked as a replay", retry)
	}
	finish(t, s, retry[0], store.StatusSuccess, later.Add(time.Minute), time.Time{})
	marked("delivered again", want)
	if recs, _ := mustQuery(t, s, &store.QueryParams{AccountID: acc.ID, EventID: e.ID, WebhookUUID: free.UUID, Limit: 1}); len(recs) != 1 || recs[0].Attempts != 3 {
		t.Fatalf("replayed record = %+v, want its 3 attempts", recs)
	}

	// A replay by source uid, to one webhook, marks only that delivery of
	// the newly replayed event.
	other2 := newEvent(acc, "outbound.delivered", func(e *store.Event) { e.SourceUID = "msg-mark2"; e.CreatedAt = t0.Add(2 * time.Second) })
	publish(t, s, later, other2)
	must(s.ReplayDeliveries(ctx(t), &store.ReplayParams{AccountID: acc.ID, SourceUID: "msg-mark2", WebhookUUID: fifo.UUID, Now: later.Add(2 * time.Minute)}))
	want[other2.ID+"/"+fifo.UUID] = true
	marked("replayed by source uid", want)
}
