package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Group commit. Every write transaction (publish, claim, complete, …) goes
// through one writer goroutine, which takes all the operations queued at that
// moment and runs them in ONE SQLite transaction, each inside its own
// SAVEPOINT, then commits once. With synchronous=FULL that is one fsync, and
// one write of each dirty page to the WAL, for the whole group instead of one
// per operation: the claim, the completion and the publishes that queue up
// behind each other under load touch the same table and index pages. An
// operation's error rolls back only its savepoint; every caller gets its
// answer only once the commit has succeeded, and all of them get the error if
// it fails.
//
// A savepoint is not free: while one is open SQLite copies every page the
// operation first writes into a sub-journal, and truncates it at RELEASE,
// which cost about a sixth of the writer's CPU under fan-out. The operations
// on the delivery path (publish, claim, complete) are rerunnable: they keep no
// state across a run that a second run would not reset. A group made only of
// those runs bare, without savepoints; if one of them fails (rare: a publish
// for a deleted account, a cancelled caller), the whole transaction is rolled
// back and the group runs again the careful way, each op in its savepoint.

// maxGroupOps bounds the operations one group transaction runs, so that one
// commit does not hold back the callers that queue meanwhile for too long.
const maxGroupOps = 64

// The states of a writeOp: the caller and the writer agree on exactly one
// outcome with a compare-and-swap, so that an operation whose caller has
// given up never runs, and one that has started is always waited for.
const (
	opQueued int32 = iota
	opRunning
	opCancelled
)

// writeOp is one withTx call waiting for the writer.
type writeOp struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	// rerunnable says fn may run again after a rolled-back run: it resets
	// whatever it keeps outside the transaction.
	rerunnable bool
	state      atomic.Int32
	err        error      // fn's own error, before the group's commit
	done       chan error // buffered: the writer never blocks on a caller
}

// groupWriter owns the queue of the writer goroutine.
type groupWriter struct {
	mu      sync.Mutex
	queue   []*writeOp
	closed  bool
	kick    chan struct{} // buffered(1): work has been queued
	stopped chan struct{} // closed when the writer goroutine has exited
	// Prepared at Open on the writer: preparing costs modernc far more than
	// executing, and these run once per operation of a shared transaction.
	savepoint, release, rollbackTo *sql.Stmt
}

// errWriterClosed is what operations queued after Close get.
var errWriterClosed = fmt.Errorf("%w: writer stopped", store.ErrClosed)

// startWriter prepares the savepoint statements and starts the writer
// goroutine.
func (s *Store) startWriter(ctx context.Context) error {
	g := &groupWriter{kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&g.savepoint, `SAVEPOINT op`},
		{&g.release, `RELEASE op`},
		{&g.rollbackTo, `ROLLBACK TO op`},
	} {
		st, err := s.w.PrepareContext(ctx, p.query)
		if err != nil {
			g.closeStmts()
			return fmt.Errorf("savepoint statements: %w", err)
		}
		*p.dst = st
	}
	s.gw = g
	go s.writeLoop()
	return nil
}

func (g *groupWriter) closeStmts() {
	for _, st := range []*sql.Stmt{g.savepoint, g.release, g.rollbackTo} {
		if st != nil {
			st.Close()
		}
	}
}

// stopWriter fails every operation still queued, lets the group in progress
// finish and waits for the writer goroutine to exit.
func (s *Store) stopWriter() {
	g := s.gw
	if g == nil {
		return
	}
	g.mu.Lock()
	already := g.closed
	g.closed = true
	g.mu.Unlock()
	if !already {
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
	<-g.stopped
	g.closeStmts()
}

// withTx runs fn in a write transaction, which it may share with other
// operations queued at the same moment (see above). fn gets a context that
// carries ctx's values but not its cancellation: a statement interrupted
// half-way could take the whole shared transaction down with it, so once fn
// has started it runs to the end, and the caller waits for the commit. A
// caller whose ctx ends while its operation is still queued returns at once,
// and the operation never runs. fn must not call withTx (it would wait for
// the writer it runs on).
func (s *Store) withTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.queueTx(ctx, fn, false)
}

// withRerunnableTx is withTx for an fn that can run again after a run whose
// writes were rolled back (see writeOp.rerunnable): groups of these skip the
// savepoints.
func (s *Store) withRerunnableTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.queueTx(ctx, fn, true)
}

func (s *Store) queueTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error, rerunnable bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	op := &writeOp{ctx: ctx, fn: fn, rerunnable: rerunnable, done: make(chan error, 1)}
	g := s.gw
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return fmt.Errorf("begin: %w", errWriterClosed)
	}
	g.queue = append(g.queue, op)
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opCancelled) {
			return fmt.Errorf("begin: %w", ctx.Err())
		}
		// It has started: its writes may be committed, so the answer must
		// say what happened to them.
		return <-op.done
	}
}

// writeLoop is the writer goroutine: it runs the queue in groups until Close.
func (s *Store) writeLoop() {
	g := s.gw
	defer close(g.stopped)
	for range g.kick {
		for {
			// Let the callers just woken by the last commit run first: the
			// claimer and the completer tend to come back together, and
			// taking the queue a moment later puts them in one transaction
			// instead of two.
			runtime.Gosched()
			g.mu.Lock()
			n := min(len(g.queue), maxGroupOps)
			group := g.queue[:n:n]
			g.queue = g.queue[n:]
			if n == 0 {
				g.queue = nil // let the old backing array go
			}
			closed := g.closed
			g.mu.Unlock()
			if closed {
				for _, op := range group {
					op.done <- fmt.Errorf("begin: %w", errWriterClosed)
				}
				g.mu.Lock()
				rest := g.queue
				g.queue = nil
				g.mu.Unlock()
				for _, op := range rest {
					op.done <- fmt.Errorf("begin: %w", errWriterClosed)
				}
				return
			}
			if n == 0 {
				break
			}
			s.runGroup(group)
		}
	}
}

// runGroup runs the operations of group that are still wanted in one
// transaction and answers every one of them.
func (s *Store) runGroup(group []*writeOp) {
	live := group[:0:0]
	for _, op := range group {
		if op.state.CompareAndSwap(opQueued, opRunning) {
			live = append(live, op)
		}
	}
	if len(live) == 0 {
		return
	}
	ran, err := false, error(nil)
	if len(live) > 1 && allRerunnable(live) {
		ran, err = s.runBare(live)
	}
	if !ran {
		err = s.runLive(live)
	}
	for _, op := range live {
		switch {
		case op.err != nil:
			op.done <- op.err // rolled back on its own, whatever the commit did
		default:
			op.done <- err
		}
	}
}

func allRerunnable(ops []*writeOp) bool {
	for _, op := range ops {
		if !op.rerunnable {
			return false
		}
	}
	return true
}

// runBare runs ops in one transaction without savepoints. If every op
// succeeds it returns the commit's outcome and ran = true. If one fails, it
// rolls the transaction back (undoing the others too) and returns ran =
// false, so that the caller runs the group again with savepoints; the ops
// are rerunnable, and none of their writes was committed.
func (s *Store) runBare(ops []*writeOp) (ran bool, err error) {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		return true, fmt.Errorf("begin: %w", interpret(err))
	}
	defer func() {
		if rec := recover(); rec != nil {
			ran, err = true, fmt.Errorf("write transaction panicked: %v", rec)
		}
		if err != nil || !ran {
			_ = tx.Rollback()
		}
	}()
	for _, op := range ops {
		if runOp(op, tx) != nil {
			return false, nil
		}
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("commit: %w", interpret(err))
	}
	return true, nil
}

// runLive runs ops in one transaction and returns the commit's outcome; each
// op's own failure is left in op.err (and its writes rolled back), and the
// others get the commit's outcome. A panic in an operation fails the whole
// group rather than leaving its callers waiting forever.
func (s *Store) runLive(ops []*writeOp) (err error) {
	g := s.gw
	// The transaction serves several callers, so it follows none of their
	// contexts.
	bg := context.Background()
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", interpret(err))
	}
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("write transaction panicked: %v", rec)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if len(ops) == 1 {
		// Alone in the transaction: rolling it back is rolling back the op,
		// so it needs no savepoint.
		op := ops[0]
		if op.err = runOp(op, tx); op.err != nil {
			_ = tx.Rollback()
			return nil
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", interpret(err))
		}
		return nil
	}
	savepoint, release, rollbackTo := tx.Stmt(g.savepoint), tx.Stmt(g.release), tx.Stmt(g.rollbackTo)
	for _, op := range ops {
		if err := op.ctx.Err(); err != nil {
			op.err = fmt.Errorf("begin: %w", err)
			continue
		}
		if _, err := savepoint.ExecContext(bg); err != nil {
			return fmt.Errorf("savepoint: %w", interpret(err))
		}
		if op.err = runOp(op, tx); op.err != nil {
			// ROLLBACK TO keeps the savepoint open; RELEASE closes it. If
			// either fails, SQLite has rolled back the whole transaction
			// (an I/O error, a full disk): the group fails.
			if _, err := rollbackTo.ExecContext(bg); err != nil {
				return fmt.Errorf("rollback to savepoint: %w (after %w)", interpret(err), op.err)
			}
		}
		if _, err := release.ExecContext(bg); err != nil {
			return fmt.Errorf("release savepoint: %w", interpret(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", interpret(err))
	}
	return nil
}

// runOp runs one operation's function with its caller's values but without
// its cancellation (see withTx), unless the caller has given up meanwhile.
func runOp(op *writeOp, tx *sql.Tx) error {
	if err := op.ctx.Err(); err != nil {
		// Its caller has given up but has not noticed yet: do not write on
		// its behalf.
		return fmt.Errorf("begin: %w", err)
	}
	return op.fn(context.WithoutCancel(op.ctx), tx)
}
