package storetest

import (
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// testFIFODisableFailing: when the maintenance loop disables a failing FIFO
// webhook, its held deliveries become claimable at once (to fail without an
// attempt), while its head is still in flight; a healthy FIFO webhook's
// queue is left alone.
func testFIFODisableFailing(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newControlledHook(t, s, acc, store.OrderingFIFO, 0)
	healthyAcc := newAccount(t, s, nil, nil)
	healthy := newControlledHook(t, s, healthyAcc, store.OrderingFIFO, 0)
	var evs []*store.Event
	for range 4 {
		evs = append(evs, newEvent(acc, "outbound.delivered", nil), newEvent(healthyAcc, "outbound.delivered", nil))
	}
	publish(t, s, t0, evs...)
	cs := claimAll(t, s, t0)
	head, other := claimsOf(cs, w.UUID), claimsOf(cs, healthy.UUID)
	if len(head) != 1 || len(other) != 1 {
		t.Fatalf("claims = %+v, want each webhook's head", cs)
	}
	// The head fails (the webhook is failing from t0) and is retried; the
	// retry is in flight under a lease until t0+2m.
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: head[0].DeliveryID, ClaimSeq: head[0].ClaimSeq,
		WebhookUUID: w.UUID, Gated: true, Status: store.StatusRetry, NextAttemptAt: t0.Add(time.Minute), Attempted: true,
		At: t0, StatusCode: 500, ErrorClass: store.ErrorClassHTTPStatus, Error: "HTTP 500"}})); n != 1 {
		t.Fatal("failed attempt not applied")
	}
	retry := claimsOf(claimAll(t, s, t0.Add(time.Minute)), w.UUID)
	if len(retry) != 1 || retry[0].DeliveryID != head[0].DeliveryID {
		t.Fatalf("retry claims = %+v, want the head", retry)
	}
	inFlight := t0.Add(90 * time.Second)
	if got := claimsOf(claimAll(t, s, inFlight), w.UUID); len(got) != 0 {
		t.Fatalf("claimed %d behind the FIFO head in flight", len(got))
	}

	disabled := must(s.DisableFailingWebhooks(ctx(t), t0.Add(30*time.Second), inFlight))
	if len(disabled) != 1 || disabled[0].UUID != w.UUID {
		t.Fatalf("DisableFailingWebhooks = %+v, want %s", disabled, w.UUID)
	}
	cs = claimAll(t, s, inFlight)
	released := claimsOf(cs, w.UUID)
	if len(released) != 3 {
		t.Fatalf("claimed %d of the disabled webhook while its head is in flight, want the 3 held", len(released))
	}
	for _, c := range released {
		if c.Enabled || c.DeliveryID == head[0].DeliveryID {
			t.Fatalf("released claim %+v, want a held delivery of a disabled webhook", c)
		}
	}
	if n := len(claimsOf(cs, healthy.UUID)); n != 0 {
		t.Fatalf("claimed %d of the healthy FIFO webhook behind its head", n)
	}
}

// testFIFOGoneUngated: a 410 Gone on a delivery queued before its webhook
// became FIFO (so not gated) disables the webhook and releases the held
// deliveries in the same completion, while the FIFO head is in flight.
func testFIFOGoneUngated(t *testing.T, s store.Store) {
	acc := newAccount(t, s, nil, nil)
	w := newHook(t, s, acc, hookOpts{events: []string{"outbound.delivered"}})
	publish(t, s, t0, newEvent(acc, "outbound.delivered", nil))
	old := claimAll(t, s, t0)
	if len(old) != 1 || old[0].Gated {
		t.Fatalf("claims before the switch = %+v, want one ungated", old)
	}
	fifo := store.OrderingFIFO
	must(s.UpdateWebhook(ctx(t), &store.UpdateWebhookParams{AccountID: acc.ID, UUID: w.UUID, Ordering: &fifo, Now: t0}))
	for range 3 {
		publish(t, s, t0, newEvent(acc, "outbound.delivered", nil))
	}
	head := claimAll(t, s, t0)
	if len(head) != 1 || !head[0].Gated {
		t.Fatalf("claims after the switch = %+v, want the FIFO head", head)
	}
	if n := len(claimAll(t, s, t0)); n != 0 {
		t.Fatalf("claimed %d behind the FIFO head in flight", n)
	}
	if n := must(s.CompleteDeliveries(ctx(t), []*store.Outcome{{DeliveryID: old[0].DeliveryID, ClaimSeq: old[0].ClaimSeq,
		WebhookUUID: w.UUID, DisableReason: "endpoint answered 410 Gone", Status: store.StatusFailed, Attempted: true,
		At: t0, StatusCode: 410, ErrorClass: store.ErrorClassHTTPStatus, Error: "HTTP 410"}})); n != 1 {
		t.Fatal("410 outcome not applied")
	}
	if got := must(s.GetWebhook(ctx(t), acc.ID, w.UUID)); got.Enabled {
		t.Fatal("webhook still enabled after a 410")
	}
	released := claimAll(t, s, t0)
	if len(released) != 2 {
		t.Fatalf("claimed %d after the 410 with the head in flight, want the 2 held", len(released))
	}
	for _, c := range released {
		if c.Enabled || c.DeliveryID == head[0].DeliveryID {
			t.Fatalf("released claim %+v, want a held delivery of a disabled webhook", c)
		}
	}
}
