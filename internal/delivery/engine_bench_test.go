package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// BenchmarkEngineThroughput measures the engine end to end: b.N deliveries
// are queued in SQLite beforehand, then the timer runs from starting the
// engine to the last delivery's 2xx at a loopback receiver — claims, signing,
// HTTP, completion writes. One op is one delivery, so ns/op is the engine's
// cost per delivery at that concurrency; deliveries/s is the same number
// inverted.
func BenchmarkEngineThroughput(b *testing.B) {
	for _, bc := range []struct {
		sync  string
		conc  int
		hooks int
	}{
		{"FULL", 64, 1},
		{"FULL", 64, 10},
		{"NORMAL", 64, 1},
		{"FULL", 16, 1},
	} {
		b.Run(fmt.Sprintf("sqlite-%s/c%d/hooks%d", bc.sync, bc.conc, bc.hooks), func(b *testing.B) {
			benchEngine(b, bc.sync, bc.conc, bc.hooks)
		})
	}
}

func benchEngine(b *testing.B, sync string, conc, hooks int) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{Synchronous: sync})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	acc, _, err := accounts.Create(ctx, st, "bench", []string{"api-user"}, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	want := int64(b.N)
	done := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		if got.Add(1) == want {
			close(done)
		}
	}))
	defer rcv.Close()
	hookUUIDs := make([]string, hooks)
	for k := range hooks {
		secret, err := signature.NewSecret()
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		// Every webhook subscribes to its own event type, so that one event
		// is one delivery whatever the number of webhooks.
		w := &store.Webhook{UUID: benchEngineUUID(k), AccountID: acc.ID, Name: "bench", URL: fmt.Sprintf("%s/h/%d", rcv.URL, k),
			Secret: secret, Events: []string{benchTypes[k%len(benchTypes)]}, Enabled: true, CreatedAt: now, LastModified: now}
		if err := st.CreateWebhook(ctx, w, nil); err != nil {
			b.Fatal(err)
		}
		hookUUIDs[k] = w.UUID
	}
	if hooks > len(benchTypes) {
		b.Fatalf("at most %d webhooks", len(benchTypes))
	}
	pub := &ingest.Publisher{Store: st}
	data, _ := json.Marshal(map[string]any{"to": "user@example.com", "subject": "Your order has shipped", "smtp_response": "250 2.0.0 OK"})
	for first := 0; first < b.N; first += 1000 {
		evs := make([]ingest.Event, min(1000, b.N-first))
		for i := range evs {
			evs[i] = ingest.Event{AccountID: acc.ID, Type: benchTypes[(first+i)%hooks], User: "api-user", RawData: data}
		}
		if _, err := pub.Publish(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	eng, err := delivery.New(st, delivery.Config{
		Client: egress.NewPolicy(loopback).NewClient(10 * time.Second), Concurrency: conc, PerWebhookConcurrency: conc,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() { _ = eng.Run(runCtx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d in 5 minutes", got.Load(), want)
	}
	b.StopTimer()
	stop()
	<-stopped
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// benchTypes are subscribable types, one per webhook.
var benchTypes = []string{"outbound.delivered", "outbound.bounced", "outbound.rejected", "outbound.deferred", "outbound.spam",
	"outbound.dropped", "outbound.virus", "outbound.opened", "outbound.clicked", "outbound.complaint"}

func benchEngineUUID(k int) string { return fmt.Sprintf("00000000-0000-4000-a000-%012d", k) }
