package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// BenchOpener returns a fresh, empty, migrated store for one benchmark; Bench
// closes it.
type BenchOpener = func(b *testing.B) store.Store

// Bench runs the storage benchmarks against the backend open creates, each
// sub-benchmark on a fresh store. They are the delivery engine's and the
// ingest's hot paths, written against store.Store only so that every backend
// runs them unchanged:
//
//   - ClaimComplete128: one op claims 128 due deliveries and completes them
//     as delivered, in two transactions — the engine's batch cycle.
//   - PublishFanOut10: one op publishes one event that matches 10 webhooks.
//   - PublishBatch100: one op publishes 100 events to one webhook — a
//     POST /events/batch.
//
// Each reports deliveries/s besides ns/op.
func Bench(b *testing.B, open BenchOpener) {
	b.Run("ClaimComplete128", func(b *testing.B) { benchClaimComplete(b, open, 128) })
	b.Run("PublishFanOut10", func(b *testing.B) { benchPublish(b, open, 1, 10) })
	b.Run("PublishBatch100", func(b *testing.B) { benchPublish(b, open, 100, 1) })
}

var benchSeq atomic.Int64

func benchID(prefix string) string { return fmt.Sprintf("%s%d", prefix, benchSeq.Add(1)) }

func benchUUID() string { return fmt.Sprintf("00000000-0000-4000-9000-%012d", benchSeq.Add(1)) }

func benchOpen(b *testing.B, open BenchOpener) store.Store {
	b.Helper()
	s := open(b)
	b.Cleanup(func() { s.Close() })
	return s
}

// benchSetup creates an account with n webhooks subscribed to
// outbound.delivered.
func benchSetup(b *testing.B, s store.Store, n int) *store.Account {
	b.Helper()
	ctx := context.Background()
	id := benchID("acc_bench")
	h := sha256.Sum256([]byte("key-" + id))
	now := time.Now()
	acc, err := s.CreateAccount(ctx, &store.CreateAccountParams{ID: id, Name: "bench", Users: []string{"api-user"}, KeyHash: h[:], Now: now})
	if err != nil {
		b.Fatal(err)
	}
	for k := range n {
		w := &store.Webhook{UUID: benchUUID(), AccountID: acc.ID, Name: fmt.Sprintf("bench %d", k),
			URL: fmt.Sprintf("https://example.com/hook/%d", k), Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: now, LastModified: now}
		if err := s.CreateWebhook(ctx, w, nil); err != nil {
			b.Fatal(err)
		}
	}
	return acc
}

// benchEvents builds n events of the account, about 400-byte envelopes.
func benchEvents(acc *store.Account, n int, now time.Time) []*store.Event {
	evs := make([]*store.Event, n)
	for i := range evs {
		id := benchID("evt_bench")
		data := []byte(`{"to":"user@example.com","message_id":"<1234567890@example.com>","subject":"Your order has shipped","smtp_response":"250 2.0.0 OK 1704825600 x1si123456abc.1 - gsmtp","attempt":1}`)
		body := fmt.Appendf(nil, `{"id":%q,"service":"outbound","type":"outbound.delivered","created_at":%d,"data":%s}`, id, now.Unix(), data)
		evs[i] = &store.Event{ID: id, AccountID: acc.ID, Type: "outbound.delivered", Service: "outbound", User: "api-user",
			SourceUID: id, Data: data, Body: body, CreatedAt: now.Truncate(time.Second)}
	}
	return evs
}

func benchClaimComplete(b *testing.B, open BenchOpener, batch int) {
	s := benchOpen(b, open)
	acc := benchSetup(b, s, 1)
	ctx := context.Background()
	// The backlog: b.N × batch due deliveries.
	total := b.N * batch
	for done := 0; done < total; {
		n := min(1000, total-done)
		if _, err := s.PublishEvents(ctx, benchEvents(acc, n, time.Now()), time.Now()); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	outcomes := make([]*store.Outcome, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now := time.Now()
		claims, err := s.ClaimDeliveries(ctx, &store.ClaimParams{Owner: "bench", Limit: batch, Now: now, Lease: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if len(claims) != batch {
			b.Fatalf("claimed %d, want %d", len(claims), batch)
		}
		outcomes = outcomes[:0]
		for _, c := range claims {
			outcomes = append(outcomes, &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
				Status: store.StatusSuccess, Attempted: true, URL: c.URL, At: now, Duration: 3 * time.Millisecond,
				StatusCode: 200, ResponseBody: "ok"})
		}
		n, err := s.CompleteDeliveries(ctx, outcomes)
		if err != nil {
			b.Fatal(err)
		}
		if n != batch {
			b.Fatalf("completed %d, want %d", n, batch)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
}

func benchPublish(b *testing.B, open BenchOpener, events, hooks int) {
	s := benchOpen(b, open)
	acc := benchSetup(b, s, hooks)
	ctx := context.Background()
	// Events are built outside the timer; publishing is what is measured.
	const chunk = 256
	b.ReportAllocs()
	b.ResetTimer()
	var pending [][]*store.Event
	for i := range b.N {
		if len(pending) == 0 {
			b.StopTimer()
			for range min(chunk, b.N-i) {
				pending = append(pending, benchEvents(acc, events, time.Now()))
			}
			b.StartTimer()
		}
		evs := pending[0]
		pending = pending[1:]
		res, err := s.PublishEvents(ctx, evs, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if res[0].Deliveries != hooks {
			b.Fatalf("event queued for %d webhooks, want %d", res[0].Deliveries, hooks)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*events*hooks)/b.Elapsed().Seconds(), "deliveries/s")
}
