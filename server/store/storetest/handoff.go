package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// testHandoff: a store.Handoff completion that finishes the head of FIFO
// queues claims their next deliveries, in order, for the caller: leased
// (invisible to ClaimDeliveries until the lease runs out, then taken over),
// with what an attempt needs, and completable like any claim. Past its limit
// it releases the others instead, and a retrying head hands nothing off.
func testHandoff(t *testing.T, s store.Store) {
	h, ok := s.(store.Handoff)
	if !ok {
		t.Skip("backend does not implement store.Handoff")
	}
	acc := newAccount(t, s, nil, nil)
	a := newControlledHook(t, s, acc, store.OrderingFIFO, 0)
	b := newControlledHook(t, s, acc, store.OrderingFIFO, 0)
	var evs []*store.Event
	for range 4 {
		evs = append(evs, newEvent(acc, "outbound.delivered", nil))
	}
	publish(t, s, t0, evs...)
	heads := claimAll(t, s, t0)
	if len(heads) != 2 {
		t.Fatalf("claims = %+v, want the two heads", heads)
	}
	outcome := func(c *store.Claim, status string, at time.Time) *store.Outcome {
		return &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID, Gated: c.Gated,
			Status: status, NextAttemptAt: at.Add(time.Minute), Attempted: true, At: at, StatusCode: 200}
	}
	params := func(limit int, now time.Time) *store.ClaimParams {
		return &store.ClaimParams{Owner: "handoff", Limit: limit, Now: now, Lease: time.Minute}
	}

	// Both heads succeed; a limit of 1 hands off one queue's next and
	// releases the other's.
	at := t0.Add(time.Second)
	n, next := mustPair(h.CompleteAndClaim(ctx(t), []*store.Outcome{outcome(heads[0], store.StatusSuccess, at), outcome(heads[1], store.StatusSuccess, at)}, params(1, at)))
	if n != 2 || len(next) != 1 {
		t.Fatalf("applied %d, handed off %+v; want 2 and one claim", n, next)
	}
	c := next[0]
	if c.EventID != evs[1].ID || !c.Gated || c.Attempt != 1 || c.TakenOver || len(c.Body) == 0 || c.URL == "" || len(c.Secrets) == 0 || !c.Enabled {
		t.Fatalf("handed-off claim = %+v, want event %s's first attempt with what it needs", c, evs[1].ID)
	}
	other := b
	if c.WebhookUUID == b.UUID {
		other = a
	}
	released := claimAll(t, s, at)
	if len(released) != 1 || released[0].WebhookUUID != other.UUID || released[0].EventID != evs[1].ID {
		t.Fatalf("claimable after the handoff = %+v, want only the other queue's next", released)
	}
	// Leased: the handed-off delivery is not claimable, nor is anything behind it.
	if got := claimsOf(claimAll(t, s, at.Add(30*time.Second)), c.WebhookUUID); len(got) != 0 {
		t.Fatalf("claimed %+v behind a handed-off head", got)
	}

	// A retry hands nothing off; its later success hands off the next.
	at = at.Add(time.Second)
	n, next = mustPair(h.CompleteAndClaim(ctx(t), []*store.Outcome{outcome(c, store.StatusRetry, at)}, params(5, at)))
	if n != 1 || len(next) != 0 {
		t.Fatalf("retry: applied %d, handed off %+v", n, next)
	}
	retry := claimsOf(claimAll(t, s, at.Add(time.Minute)), c.WebhookUUID)
	if len(retry) != 1 || retry[0].EventID != evs[1].ID || retry[0].Attempt != 2 {
		t.Fatalf("retry claims = %+v", retry)
	}
	at = at.Add(time.Minute)
	n, next = mustPair(h.CompleteAndClaim(ctx(t), []*store.Outcome{outcome(retry[0], store.StatusSuccess, at)}, params(5, at)))
	if n != 1 || len(next) != 1 || next[0].EventID != evs[2].ID {
		t.Fatalf("after the retry's success: applied %d, handed off %+v; want event %s", n, next, evs[2].ID)
	}

	// A handed-off claim never completed is taken over when its lease runs out.
	abandoned := next[0]
	over := claimsOf(claimAll(t, s, at.Add(2*time.Minute)), abandoned.WebhookUUID)
	if len(over) != 1 || over[0].DeliveryID != abandoned.DeliveryID || !over[0].TakenOver || over[0].ClaimSeq == abandoned.ClaimSeq {
		t.Fatalf("after the lease: claims = %+v, want %s taken over", over, abandoned.EventID)
	}
	// The old claim's outcome no longer applies; the new one's does.
	at = at.Add(2 * time.Minute)
	if n, next = mustPair(h.CompleteAndClaim(ctx(t), []*store.Outcome{outcome(abandoned, store.StatusSuccess, at)}, params(5, at))); n != 0 || len(next) != 0 {
		t.Fatalf("stale outcome: applied %d, handed off %+v", n, next)
	}
	if n, next = mustPair(h.CompleteAndClaim(ctx(t), []*store.Outcome{outcome(over[0], store.StatusSuccess, at)}, params(5, at))); n != 1 || len(next) != 1 || next[0].EventID != evs[3].ID {
		t.Fatalf("taken-over outcome: applied %d, handed off %+v; want event %s", n, next, evs[3].ID)
	}
	// The end of the queue: nothing to hand off.
	if n, next = mustPair(h.CompleteAndClaim(ctx(t), []*store.Outcome{outcome(next[0], store.StatusSuccess, at)}, params(5, at))); n != 1 || len(next) != 0 {
		t.Fatalf("last: applied %d, handed off %+v", n, next)
	}
	if got := claimsOf(claimAll(t, s, at.Add(time.Hour)), c.WebhookUUID); len(got) != 0 {
		t.Fatalf("%d claims left", len(got))
	}
}

// mustPair is must for a call returning two values and an error.
func mustPair[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return a, b
}
