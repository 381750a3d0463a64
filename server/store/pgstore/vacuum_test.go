package pgstore_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
)

// TestVacuumQueue: after a churn of claims and completions, VacuumQueue
// cleans the deliveries table's dead row versions (whatever autovacuum is
// set to) and, with nothing left to clean, does nothing.
func TestVacuumQueue(t *testing.T) {
	dsn := pgtest.Database(t)
	s := openStore(t, dsn, pgstore.Options{})
	f := setup(t, s, 2)
	if _, err := s.PublishEvents(t.Context(), events(f.acc, 3000, "churn"), t0); err != nil {
		t.Fatal(err)
	}
	for {
		cs, err := s.ClaimDeliveries(t.Context(), &store.ClaimParams{Owner: "test", Limit: 500, Now: t0, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		outs := make([]*store.Outcome, len(cs))
		for i, c := range cs {
			outs[i] = &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID,
				Status: store.StatusSuccess, Attempted: true, At: t0, StatusCode: 200}
		}
		if _, err := s.CompleteDeliveries(t.Context(), outs); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	dead := func() int64 {
		var n int64
		if err := conn.QueryRow(t.Context(), `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'deliveries'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The statistics the decision reads reach the collector within a second
	// or so of the transactions that made them.
	deadline := time.Now().Add(30 * time.Second)
	var vacuumed bool
	for !vacuumed && time.Now().Before(deadline) {
		if vacuumed, err = s.VacuumQueue(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !vacuumed {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !vacuumed {
		t.Fatalf("no vacuum after churning 6000 deliveries (%d dead versions counted)", dead())
	}
	if n := dead(); n > 1000 {
		t.Errorf("%d dead versions left after the vacuum", n)
	}
	if again, err := s.VacuumQueue(t.Context()); err != nil || again {
		t.Errorf("second VacuumQueue = %v, %v; want nothing to do", again, err)
	}
}
