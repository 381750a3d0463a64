package sqlitestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

func benchOpener(sync string) storetest.BenchOpener {
	return func(b *testing.B) store.Store {
		b.Helper()
		s, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{Synchronous: sync})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
}

// BenchmarkStore runs the storage benchmarks with the service's default,
// synchronous=FULL (every commit survives power loss: one fsync each).
func BenchmarkStore(b *testing.B) { storetest.Bench(b, benchOpener("FULL")) }

// BenchmarkStoreSyncNormal runs them with synchronous=NORMAL (commits survive
// a process crash, not power loss), to show what the fsync costs.
func BenchmarkStoreSyncNormal(b *testing.B) { storetest.Bench(b, benchOpener("NORMAL")) }

// BenchmarkPipeline runs the service's write mix at once, as `jetwebhooks
// bench` does but without HTTP: 4 publishers insert batches of 100 events
// (one webhook each) while an engine-like loop claims into 128 slots, a
// simulated attempt takes 1 ms, and a completer writes whatever outcomes
// have accumulated. One op is one event published and delivered; the
// writer's transactions are what it measures.
func BenchmarkPipeline(b *testing.B) {
	s := benchOpener("FULL")(b)
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	acc, err := s.CreateAccount(ctx, &store.CreateAccountParams{ID: "acc_pipe", Name: "pipe", Users: []string{"u"}, KeyHash: []byte("k"), Now: now})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, &store.Webhook{UUID: "00000000-0000-4000-9000-000000000001", AccountID: acc.ID, Name: "h",
		URL: "https://example.com/h", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Events: []string{"outbound.delivered"},
		Enabled: true, CreatedAt: now, LastModified: now}, nil); err != nil {
		b.Fatal(err)
	}
	const publishers, batch, slots = 4, 100, 128
	var next atomic.Int64
	events := func(n int) []*store.Event {
		evs := make([]*store.Event, n)
		for i := range evs {
			id := fmt.Sprintf("evt_%d", next.Add(1))
			body := fmt.Appendf(nil, `{"id":%q,"service":"outbound","type":"outbound.delivered","data":{"to":"user@example.com","subject":"Your order has shipped","smtp_response":"250 2.0.0 OK 1704825600 x1si123456abc.1 - gsmtp"}}`, id)
			evs[i] = &store.Event{ID: id, AccountID: acc.ID, Type: "outbound.delivered", Service: "outbound", User: "u",
				SourceUID: id, Data: body[60:], Body: body, CreatedAt: now}
		}
		return evs
	}
	b.ResetTimer()
	var pub sync.WaitGroup
	var published atomic.Int64
	for range publishers {
		pub.Go(func() {
			for {
				n := int(min(batch, int64(b.N)-published.Add(batch)+batch))
				if n <= 0 {
					return
				}
				if _, err := s.PublishEvents(ctx, events(n), time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	sem := make(chan struct{}, slots)
	outcomes := make(chan *store.Outcome, slots)
	delivered := make(chan struct{})
	go func() { // the completer
		left := b.N
		buf := make([]*store.Outcome, 0, slots)
		for o := range outcomes {
			buf = append(buf[:0], o)
		more:
			for len(buf) < slots {
				select {
				case o := <-outcomes:
					buf = append(buf, o)
				default:
					break more
				}
			}
			if _, err := s.CompleteDeliveries(ctx, buf); err != nil {
				b.Error(err)
			}
			for range buf {
				<-sem
			}
			if left -= len(buf); left <= 0 {
				close(delivered)
				return
			}
		}
	}()
	claimed := 0
	for claimed < b.N {
		sem <- struct{}{}
		free := 1
	fill:
		for free < slots {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		cs, err := s.ClaimDeliveries(ctx, &store.ClaimParams{Owner: "bench", Limit: free, Now: time.Now(), Lease: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		for range free - len(cs) {
			<-sem
		}
		claimed += len(cs)
		for _, c := range cs {
			go func() { // the attempt
				time.Sleep(time.Millisecond)
				outcomes <- &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
					Status: store.StatusSuccess, Attempted: true, URL: c.URL, At: time.Now(), Duration: time.Millisecond,
					StatusCode: 200, ResponseBody: "ok"}
			}()
		}
		if len(cs) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	<-delivered
	b.StopTimer()
	pub.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
