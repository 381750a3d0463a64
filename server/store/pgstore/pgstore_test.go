package pgstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

// waitTimeout bounds every wait on another node or on the server: generous,
// because a loaded CI machine under -race is slow, and a passing test never
// waits for it.
const waitTimeout = 15 * time.Second

var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// openStore opens a store on dsn and closes it when the test ends.
func openStore(t *testing.T, dsn string, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the storage contract's suite. Every opener call gets
// a database of its own, because the suite's tests run in parallel and some
// (QueueStats) count rows store-wide. The pool is large enough for the
// suite's eight concurrent claimers to hold eight connections at once, so
// ConcurrentClaimsExclusive really races SKIP LOCKED.
func TestConformance(t *testing.T) {
	pgtest.ServerURL(t) // one skip for the whole suite, not one per subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := pgstore.Open(t.Context(), pgtest.NewDatabase(t), pgstore.Options{MaxConns: 8})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}

type fixture struct {
	acc   *store.Account
	hooks []*store.Webhook
}

// setup creates an account with n webhooks subscribed to outbound.delivered.
func setup(t *testing.T, s store.Store, n int) fixture {
	t.Helper()
	ctx := t.Context()
	id := fmt.Sprintf("acc_%d", time.Now().UnixNano())
	h := sha256.Sum256([]byte(id))
	acc, err := s.CreateAccount(ctx, &store.CreateAccountParams{ID: id, Name: id, KeyHash: h[:], Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{acc: acc}
	for i := range n {
		w := &store.Webhook{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), AccountID: acc.ID, Name: "h",
			URL: fmt.Sprintf("https://example.com/%d", i), Secret: "whsec_x", Events: []string{"outbound.delivered"},
			Enabled: true, CreatedAt: t0.Add(time.Duration(i) * time.Millisecond), LastModified: t0}
		if err := s.CreateWebhook(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
		f.hooks = append(f.hooks, w)
	}
	return f
}

func events(acc *store.Account, n int, prefix string) []*store.Event {
	evs := make([]*store.Event, n)
	for i := range evs {
		id := fmt.Sprintf("evt_%s_%d", prefix, i)
		evs[i] = &store.Event{ID: id, AccountID: acc.ID, Type: "outbound.delivered", Service: "outbound",
			SourceUID: "msg-" + id, Data: []byte(`{}`), Body: []byte(`{"id":"` + id + `"}`), CreatedAt: t0}
	}
	return evs
}

// TestTwoNodesClaimExclusive runs claimers on two stores, two pools as two
// nodes would have, against one database: every delivery is claimed exactly
// once and every completion applies.
func TestTwoNodesClaimExclusive(t *testing.T) {
	dsn := pgtest.Database(t)
	nodes := []*pgstore.Store{openStore(t, dsn, pgstore.Options{MaxConns: 4}), openStore(t, dsn, pgstore.Options{MaxConns: 4})}
	f := setup(t, nodes[0], 2)
	const nEvents = 300
	if _, err := nodes[0].PublishEvents(t.Context(), events(f.acc, nEvents, "x"), t0); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		seen    = map[int64]int{}
		applied int
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for n, node := range nodes {
		for w := range 4 {
			wg.Go(func() {
				<-start
				owner := fmt.Sprintf("node%d-w%d", n, w)
				for {
					cs, err := node.ClaimDeliveries(context.Background(), &store.ClaimParams{Owner: owner, Limit: 5, Now: t0, Lease: time.Hour})
					if err != nil {
						t.Error(err)
						return
					}
					if len(cs) == 0 {
						return
					}
					outs := make([]*store.Outcome, len(cs))
					for i, c := range cs {
						outs[i] = &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, Status: store.StatusSuccess,
							Attempted: true, At: t0, StatusCode: 200}
					}
					k, err := node.CompleteDeliveries(context.Background(), outs)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, c := range cs {
						seen[c.DeliveryID]++
					}
					applied += k
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(seen) != 2*nEvents || applied != 2*nEvents {
		t.Fatalf("claimed %d distinct deliveries and applied %d completions, want %d each", len(seen), applied, 2*nEvents)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %d claimed %d times", id, n)
		}
	}
	if _, ok, err := nodes[1].NextDueAt(t.Context()); err != nil || ok {
		t.Fatalf("after completing everything, NextDueAt reports work (ok=%v, err=%v)", ok, err)
	}
}

// waitWake waits for one wake-up on ch.
func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: wake-up channel closed", what)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("%s: no wake-up within %v", what, waitTimeout)
	}
}

// waitClosed waits for ch to be closed, discarding wake-ups.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("%s: channel not closed within %v", what, waitTimeout)
		}
	}
}

// TestWakeupsAcrossNodes publishes and replays on one store and expects the
// other store's Wakeups channel to fire each time.
func TestWakeupsAcrossNodes(t *testing.T) {
	dsn := pgtest.Database(t)
	pub, sub := openStore(t, dsn, pgstore.Options{}), openStore(t, dsn, pgstore.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := sub.Wakeups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, pub, 1)
	evs := events(f.acc, 1, "w")
	if _, err := pub.PublishEvents(t.Context(), evs, t0); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "after PublishEvents")
	if _, err := pub.ReplayDeliveries(t.Context(), &store.ReplayParams{AccountID: f.acc.ID, EventID: evs[0].ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "after ReplayDeliveries")
	cancel()
	waitClosed(t, ch, "after ctx ended")
}

// TestWakeupsReconnect kills the listener's backend, as a server restart or
// a failover would: the listener reconnects, sends the wake-up that covers
// notifications it may have missed, and hears later publishes again.
func TestWakeupsReconnect(t *testing.T) {
	dsn := pgtest.Database(t)
	s := openStore(t, dsn, pgstore.Options{})
	ch, err := s.Wakeups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'jetwebhooks-listener'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener backends, want 1", killed)
	}
	waitWake(t, ch, "after reconnecting")
	f := setup(t, s, 1)
	if _, err := s.PublishEvents(t.Context(), events(f.acc, 1, "r"), t0); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "after PublishEvents on the new connection")
}

// TestConcurrentOpen opens one fresh database from four goroutines at once,
// as nodes starting together do: the migration lock lets exactly one apply
// the migrations and the others proceed.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Database(t)
	const n = 4
	stores := make([]*pgstore.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = pgstore.Open(t.Context(), dsn, pgstore.Options{MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	for i, s := range stores {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var applied int
	if err := conn.QueryRow(t.Context(),
		`SELECT count(*) FROM jetwebhooks_goose_db_version WHERE version_id = 1 AND is_applied`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Fatalf("migration 1 recorded %d times, want 1", applied)
	}
}

// TestLargePublish publishes 1000 events to 3 webhooks in one call: the
// batch must go through in a handful of round trips, not thousands.
func TestLargePublish(t *testing.T) {
	s := openStore(t, pgtest.Database(t), pgstore.Options{})
	f := setup(t, s, 3)
	evs := events(f.acc, 1000, "big")
	evs = append(evs, evs[10]) // an in-batch duplicate
	began := time.Now()
	res, err := s.PublishEvents(t.Context(), evs, t0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("published %d events (%d deliveries) in %v", len(evs), 3000, time.Since(began))
	for i, r := range res[:1000] {
		if r.Deliveries != 3 || r.Duplicate || r.EventID != evs[i].ID {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	if r := res[1000]; !r.Duplicate || r.Deliveries != 0 {
		t.Fatalf("in-batch duplicate = %+v", r)
	}
	st, err := s.QueueStats(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Due != 3000 || !st.OldestDue.Equal(t0) {
		t.Fatalf("stats = %+v", st)
	}
	// Publishing the same batch again writes nothing.
	res, err = s.PublishEvents(t.Context(), evs[:1000], t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Duplicate {
			t.Fatalf("republished event %d not reported as duplicate: %+v", i, r)
		}
	}
}

// TestClosed checks that a closed store reports store.ErrClosed, closes its
// Wakeups channels, and tolerates a second Close.
func TestClosed(t *testing.T) {
	s, err := pgstore.Open(t.Context(), pgtest.Database(t), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Wakeups(context.Background()) // only Close can end this one
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ch, "after Close")
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Ping after Close = %v, want ErrClosed", err)
	}
	if _, err := s.ClaimDeliveries(t.Context(), &store.ClaimParams{Owner: "x", Limit: 1, Now: t0, Lease: time.Minute}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("ClaimDeliveries after Close = %v, want ErrClosed", err)
	}
	if _, err := s.PublishEvents(t.Context(), []*store.Event{{ID: "e", AccountID: "a"}}, t0); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("PublishEvents after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Wakeups(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Wakeups after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCreateWebhookUnknownAccount: the foreign key failure is reported as
// not found, like every other reference to a missing account.
func TestCreateWebhookUnknownAccount(t *testing.T) {
	s := openStore(t, pgtest.Database(t), pgstore.Options{})
	err := s.CreateWebhook(t.Context(), &store.Webhook{UUID: "00000000-0000-4000-8000-000000000001", AccountID: "acc_missing",
		Name: "h", URL: "https://example.com", Secret: "s", Events: []string{"outbound.delivered"}, CreatedAt: t0, LastModified: t0}, nil)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateWebhook for a missing account = %v, want ErrNotFound", err)
	}
}

// TestOpenRejects needs no server: bad DSNs and options fail before any
// connection, and an unreachable server fails Open instead of hanging it.
func TestOpenRejects(t *testing.T) {
	for _, dsn := range []string{"", "sqlite:///tmp/x.db", "host=localhost dbname=x", "mysql://localhost/x"} {
		if _, err := pgstore.Open(t.Context(), dsn, pgstore.Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
	if _, err := pgstore.Open(t.Context(), "postgres://localhost/x", pgstore.Options{MaxConns: -1}); err == nil {
		t.Error("negative MaxConns accepted")
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if _, err := pgstore.Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", pgstore.Options{}); err == nil {
		t.Error("Open of an unreachable server succeeded")
	}
}

// TestConcurrentOverlappingCompletions has two nodes complete the same
// outcomes at once, in opposite orders: neither fails (rows are locked in id
// order, so they cannot deadlock), and each outcome applies exactly once.
func TestConcurrentOverlappingCompletions(t *testing.T) {
	dsn := pgtest.Database(t)
	nodes := []*pgstore.Store{openStore(t, dsn, pgstore.Options{}), openStore(t, dsn, pgstore.Options{})}
	f := setup(t, nodes[0], 2)
	const rounds, batch = 20, 50
	if _, err := nodes[0].PublishEvents(t.Context(), events(f.acc, rounds*batch/2, "ov"), t0); err != nil {
		t.Fatal(err)
	}
	total := 0
	for range rounds {
		cs, err := nodes[0].ClaimDeliveries(t.Context(), &store.ClaimParams{Owner: "n", Limit: batch, Now: t0, Lease: time.Hour})
		if err != nil || len(cs) != batch {
			t.Fatalf("claimed %d (%v), want %d", len(cs), err, batch)
		}
		outs := make([]*store.Outcome, len(cs))
		for i, c := range cs {
			outs[i] = &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
				Status: store.StatusRetry, NextAttemptAt: t0.Add(time.Hour), Attempted: true, At: t0, StatusCode: 500}
		}
		rev := make([]*store.Outcome, len(outs))
		for i, o := range outs {
			rev[len(outs)-1-i] = o
		}
		var wg sync.WaitGroup
		applied := make([]int, 2)
		for i, b := range [][]*store.Outcome{outs, rev} {
			wg.Go(func() {
				n, err := nodes[i].CompleteDeliveries(context.Background(), b)
				if err != nil {
					t.Error(err)
				}
				applied[i] = n
			})
		}
		wg.Wait()
		if applied[0]+applied[1] != batch {
			t.Fatalf("applied %v, want %d in all", applied, batch)
		}
		total += batch
	}
	recs, n, err := nodes[1].QueryDeliveries(t.Context(), &store.QueryParams{AccountID: f.acc.ID, Status: store.StatusRetry, Limit: -1})
	if err != nil || n != total {
		t.Fatalf("%d deliveries in retry (%v), want %d", n, err, total)
	}
	for _, r := range recs {
		if r.Attempts != 1 {
			t.Fatalf("delivery %d has %d attempts, want 1", r.DeliveryID, r.Attempts)
		}
	}
}
