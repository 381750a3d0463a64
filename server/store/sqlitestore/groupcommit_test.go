package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gc.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// holdWriter occupies the writer with an operation that waits until the
// returned release is called, so that the operations queued meanwhile run
// together in the next group.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.withTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("holding op: %v", err)
		}
	}
}

// queued waits until n operations are queued behind the writer.
func queued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.gw.mu.Lock()
		got := len(s.gw.queue)
		s.gw.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d operations queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func setting(t *testing.T, s *Store, key string) bool {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM settings WHERE key = ?`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func insertSetting(key string) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, x'00')`, key)
		return err
	}
}

type result struct {
	tx  *sql.Tx
	err error
}

// runAsync runs fn through withTx in the background, reporting the
// transaction fn ran in and withTx's error.
func runAsync(ctx context.Context, s *Store, fn func(ctx context.Context, tx *sql.Tx) error) <-chan result {
	return runAsyncAs(ctx, s, fn, false)
}

// runAsyncAs is runAsync for a rerunnable operation (withRerunnableTx) or
// not.
func runAsyncAs(ctx context.Context, s *Store, fn func(ctx context.Context, tx *sql.Tx) error, rerunnable bool) <-chan result {
	ch := make(chan result, 1)
	go func() {
		var seen *sql.Tx
		err := s.queueTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			seen = tx
			return fn(ctx, tx)
		}, rerunnable)
		ch <- result{seen, err}
	}()
	return ch
}

// A group of rerunnable operations runs without savepoints; when one of them
// fails, the group runs again with them, so the outcome is the same as for
// any group: the failing operation gets its own error and none of its
// writes, the others commit theirs exactly once.
func TestGroupCommitRerunnableFailure(t *testing.T) {
	s := openInternal(t)
	for _, failing := range []string{"own error", "constraint"} {
		t.Run(failing, func(t *testing.T) {
			if _, err := s.w.ExecContext(t.Context(), `DELETE FROM settings`); err != nil {
				t.Fatal(err)
			}
			release := holdWriter(t, s)
			errBad := errors.New("bad op")
			var runs [3]int
			op := func(i int, key string, fail bool) func(ctx context.Context, tx *sql.Tx) error {
				return func(ctx context.Context, tx *sql.Tx) error {
					runs[i]++
					if err := insertSetting(key)(ctx, tx); err != nil {
						return err
					}
					if fail {
						return errBad
					}
					return nil
				}
			}
			var bad func(ctx context.Context, tx *sql.Tx) error
			if failing == "own error" {
				bad = op(1, "bad", true)
			} else {
				bad = op(1, "ok1", false) // a duplicate of the first: SQLite's own error
			}
			r1 := runAsyncAs(t.Context(), s, op(0, "ok1", false), true)
			queued(t, s, 1)
			rb := runAsyncAs(t.Context(), s, bad, true)
			queued(t, s, 2)
			r2 := runAsyncAs(t.Context(), s, op(2, "ok2", false), true)
			queued(t, s, 3)
			release()
			g1, gb, g2 := <-r1, <-rb, <-r2
			if g1.err != nil || g2.err != nil {
				t.Fatalf("good operations failed: %v, %v", g1.err, g2.err)
			}
			if gb.err == nil || (failing == "own error" && !errors.Is(gb.err, errBad)) {
				t.Fatalf("failing operation got %v", gb.err)
			}
			if failing == "constraint" && !errors.Is(interpret(gb.err), store.ErrConflict) {
				t.Fatalf("duplicate insert got %v, want a conflict", gb.err)
			}
			if runs != [3]int{2, 2, 1} {
				t.Fatalf("runs = %v, want the first two run twice (bare, then with savepoints) and the last once", runs)
			}
			if !setting(t, s, "ok1") || !setting(t, s, "ok2") || setting(t, s, "bad") {
				t.Fatal("committed writes are not exactly the good operations'")
			}
			// A group where every operation succeeds runs once.
			release = holdWriter(t, s)
			runs = [3]int{}
			ra := runAsyncAs(t.Context(), s, op(0, "a", false), true)
			queued(t, s, 1)
			rc := runAsyncAs(t.Context(), s, op(2, "c", false), true)
			queued(t, s, 2)
			release()
			if ga, gc := <-ra, <-rc; ga.err != nil || gc.err != nil || ga.tx != gc.tx {
				t.Fatalf("bare group: %v, %v, shared tx %v", ga.err, gc.err, ga.tx == gc.tx)
			}
			if runs != [3]int{1, 0, 1} {
				t.Fatalf("runs = %v, want each once", runs)
			}
		})
	}
}

// One operation failing in a shared transaction rolls back only its own
// writes: the others in the transaction commit.
func TestGroupCommitFailureIsolated(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	errBad := errors.New("bad op")
	ok1 := runAsync(t.Context(), s, insertSetting("ok1"))
	queued(t, s, 1)
	bad := runAsync(t.Context(), s, func(ctx context.Context, tx *sql.Tx) error {
		if err := insertSetting("bad")(ctx, tx); err != nil {
			return err
		}
		return errBad
	})
	queued(t, s, 2)
	dup := runAsync(t.Context(), s, insertSetting("ok1")) // a constraint error from SQLite itself
	queued(t, s, 3)
	ok2 := runAsync(t.Context(), s, insertSetting("ok2"))
	queued(t, s, 4)
	release()

	r1, rb, rd, r2 := <-ok1, <-bad, <-dup, <-ok2
	if r1.tx != rb.tx || r1.tx != rd.tx || r1.tx != r2.tx {
		t.Fatal("the queued operations did not share one transaction")
	}
	if r1.err != nil || r2.err != nil {
		t.Fatalf("good operations failed: %v, %v", r1.err, r2.err)
	}
	if !errors.Is(rb.err, errBad) {
		t.Fatalf("failing operation got %v, want its own error", rb.err)
	}
	if rd.err == nil || !errors.Is(interpret(rd.err), store.ErrConflict) {
		t.Fatalf("duplicate insert got %v, want a conflict", rd.err)
	}
	if !setting(t, s, "ok1") || !setting(t, s, "ok2") {
		t.Fatal("good operations' writes are missing")
	}
	if setting(t, s, "bad") {
		t.Fatal("failed operation's write was committed")
	}
}

// A caller whose context ends while its operation is queued gets the
// context's error at once, and the operation never runs.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{}, 1)
	res := runAsync(ctx, s, func(ctx context.Context, tx *sql.Tx) error {
		ran <- struct{}{}
		return insertSetting("cancelled")(ctx, tx)
	})
	queued(t, s, 1)
	other := runAsync(t.Context(), s, insertSetting("other"))
	queued(t, s, 2)
	cancel()
	select {
	case r := <-res:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want context.Canceled", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled caller still waiting for the writer")
	}
	release()
	if r := <-other; r.err != nil {
		t.Fatal(r.err)
	}
	select {
	case <-ran:
		t.Fatal("a cancelled operation ran")
	default:
	}
	if setting(t, s, "cancelled") || !setting(t, s, "other") {
		t.Fatal("wrong writes committed")
	}
	// An operation started with an already cancelled context is refused.
	if err := s.withTx(ctx, insertSetting("late")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// No caller hears back before the transaction it shares has committed: an
// operation that finished early waits for the slowest one and the commit,
// and its writes are visible to readers as soon as it returns.
func TestGroupCommitResultsAfterCommit(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	fast := runAsync(t.Context(), s, insertSetting("fast"))
	queued(t, s, 1)
	slowStarted, slowUnblock := make(chan struct{}), make(chan struct{})
	slow := runAsync(t.Context(), s, func(ctx context.Context, tx *sql.Tx) error {
		close(slowStarted)
		<-slowUnblock
		return insertSetting("slow")(ctx, tx)
	})
	queued(t, s, 2)
	go release()
	<-slowStarted
	select {
	case r := <-fast:
		t.Fatalf("an operation returned (%v) before its transaction committed", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	if setting(t, s, "fast") {
		t.Fatal("uncommitted write visible")
	}
	close(slowUnblock)
	rf := <-fast
	if rf.err != nil {
		t.Fatal(rf.err)
	}
	if !setting(t, s, "fast") {
		t.Fatal("write not visible after its caller returned")
	}
	rs := <-slow
	if rs.err != nil || rs.tx != rf.tx {
		t.Fatalf("slow op: %v, shared transaction %v", rs.err, rs.tx == rf.tx)
	}
}

// When the shared commit fails, every operation of the group gets the error
// and none of their writes is kept.
func TestGroupCommitCommitFailureFailsAll(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	good := runAsync(t.Context(), s, insertSetting("good"))
	queued(t, s, 1)
	// A deferred foreign key violation passes the statement and its savepoint
	// and fails the COMMIT.
	breaker := runAsync(t.Context(), s, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (key_hash, account_id, created_at) VALUES (x'01', 'no such account', 0)`)
		return err
	})
	queued(t, s, 2)
	release()
	rg, rb := <-good, <-breaker
	if rg.tx != rb.tx {
		t.Fatal("the operations did not share one transaction")
	}
	if rg.err == nil || rb.err == nil {
		t.Fatalf("commit failure not reported to all: %v, %v", rg.err, rb.err)
	}
	if setting(t, s, "good") {
		t.Fatal("a write of a failed commit is visible")
	}
	// The writer carries on.
	if err := s.withTx(t.Context(), insertSetting("after")); err != nil {
		t.Fatal(err)
	}
	if !setting(t, s, "after") {
		t.Fatal("write after a failed commit missing")
	}
}

// A panicking operation fails its group instead of leaving callers waiting,
// and the writer carries on.
func TestGroupCommitPanic(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	good := runAsync(t.Context(), s, insertSetting("good"))
	queued(t, s, 1)
	bad := runAsync(t.Context(), s, func(ctx context.Context, tx *sql.Tx) error { panic("boom") })
	queued(t, s, 2)
	release()
	if r := <-good; r.err == nil {
		t.Fatal("group with a panic committed")
	}
	if r := <-bad; r.err == nil {
		t.Fatal("panicking op reported success")
	}
	if err := s.withTx(t.Context(), insertSetting("after")); err != nil {
		t.Fatal(err)
	}
}

// Operations queued when the store closes fail with store.ErrClosed, and so
// does every later one.
func TestGroupCommitClose(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gc.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	waiting := runAsync(t.Context(), s, insertSetting("x"))
	queued(t, s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for { // let Close mark the writer closed
		s.gw.mu.Lock()
		c := s.gw.closed
		s.gw.mu.Unlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if r := <-waiting; !errors.Is(r.err, store.ErrClosed) {
		t.Fatalf("queued op got %v, want store.ErrClosed", r.err)
	}
	if err := s.withTx(t.Context(), insertSetting("y")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("op after Close got %v, want store.ErrClosed", err)
	}
}
