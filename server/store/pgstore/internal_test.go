package pgstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func TestInterpret(t *testing.T) {
	unique := &pgconn.PgError{Code: codeUniqueViolation, ConstraintName: "accounts_pkey"}
	fk := &pgconn.PgError{Code: codeForeignKeyViolation}
	other := errors.New("boom")
	cases := []struct {
		in   error
		want error
	}{
		{pgx.ErrNoRows, store.ErrNotFound},
		{fmt.Errorf("scan: %w", pgx.ErrNoRows), store.ErrNotFound},
		{unique, store.ErrConflict},
		{fmt.Errorf("exec: %w", unique), store.ErrConflict},
		{fk, store.ErrNotFound},
		{puddle.ErrClosedPool, store.ErrClosed},
		{other, other},
	}
	for _, c := range cases {
		if got := interpret(c.in); !errors.Is(got, c.want) {
			t.Errorf("interpret(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if interpret(nil) != nil {
		t.Error("interpret(nil) != nil")
	}
	// The driver's error stays reachable for logs and callers that need the detail.
	var pgErr *pgconn.PgError
	if !errors.As(interpret(unique), &pgErr) || pgErr.ConstraintName != "accounts_pkey" {
		t.Error("interpret lost the *pgconn.PgError")
	}
	if !retryable(fmt.Errorf("x: %w", interpret(&pgconn.PgError{Code: codeDeadlockDetected}))) || retryable(unique) {
		t.Error("retryable misclassifies")
	}
}

// TestListenerHealthCheck shortens the health interval so the listener times
// out and pings several times, then checks that it still hears a publish:
// the timeout must leave the connection usable.
func TestListenerHealthCheck(t *testing.T) {
	dsn := pgtest.Database(t)
	old := listenHealthInterval
	listenHealthInterval = 20 * time.Millisecond
	t.Cleanup(func() { listenHealthInterval = old })

	s, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch, err := s.Wakeups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the listener has pinged at least once (its last statement in
	// pg_stat_activity is pgx's ping), polling the server, not sleeping blind.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var pinged bool
		if err := s.pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND query = '-- ping')`, listenerAppName).Scan(&pinged); err != nil {
			t.Fatal(err)
		}
		if pinged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener never pinged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.pool.Exec(t.Context(), notifySQL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(15 * time.Second):
		t.Fatal("no wake-up after health checks")
	}
	select {
	case <-ch: // a reconnect would have sent one more; none is expected
		t.Fatal("unexpected extra wake-up: the listener reconnected")
	default:
	}
}

func TestWakeCoalesces(t *testing.T) {
	ch := make(chan struct{}, 1)
	wake(ch)
	wake(ch) // must not block
	<-ch
	select {
	case <-ch:
		t.Fatal("two wake-ups delivered; want them coalesced into one")
	default:
	}
}

// TestReconnectStopsWithContext: reconnect gives up when ctx ends.
func TestReconnectStopsWithContext(t *testing.T) {
	oldMin := listenMinBackoff
	listenMinBackoff = time.Millisecond
	t.Cleanup(func() { listenMinBackoff = oldMin })
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	conn := reconnect(ctx, func(context.Context) (*pgx.Conn, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		return nil, errors.New("refused")
	})
	if conn != nil || calls != 3 {
		t.Fatalf("reconnect = %v after %d calls, want nil after 3", conn, calls)
	}
}

// TestPurgeOneNodeAtATime holds the purge lock as another node's purge
// would, and checks that this node's purge steps aside (Busy, nothing
// deleted) and purges once the lock is free.
func TestPurgeOneNodeAtATime(t *testing.T) {
	dsn := pgtest.Database(t)
	other, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	if _, err := s.CreateAccount(t.Context(), &store.CreateAccountParams{ID: "acc_1", Name: "a", KeyHash: []byte("k"), Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishEvents(t.Context(), []*store.Event{{ID: "evt_1", AccountID: "acc_1", Type: "outbound.delivered",
		Service: "outbound", Data: []byte(`{}`), Body: []byte(`{}`), CreatedAt: now}}, now); err != nil {
		t.Fatal(err)
	}
	tx, err := other.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT pg_advisory_xact_lock($1)`, purgeLockID); err != nil {
		t.Fatal(err)
	}
	p := &store.PurgeParams{Before: now.Add(time.Hour), Limit: 10}
	res, err := s.PurgeHistory(t.Context(), p)
	if err != nil || !res.Busy || res.Events != 0 {
		t.Fatalf("purge while another node purges = %+v, %v; want Busy and nothing deleted", res, err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err = s.PurgeHistory(t.Context(), p)
	if err != nil || res.Busy || res.Events != 1 {
		t.Fatalf("purge after the other node finished = %+v, %v; want the event purged", res, err)
	}
}
