package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Tuning of the Wakeups listener. Variables, not constants, so the package's
// own tests can shorten them.
var (
	// listenHealthInterval is how long the listener waits for a notification
	// before pinging its connection. A LISTEN connection only ever reads, so
	// without the ping a connection silently lost (a NAT or proxy timing it
	// out, a failover) would go unnoticed until TCP keepalive gave up, minutes
	// later, and the node would miss every wake-up meanwhile.
	listenHealthInterval = 30 * time.Second
	// listenMinBackoff and listenMaxBackoff bound the delay between
	// reconnection attempts, doubled after each failure and jittered so that
	// nodes do not all reconnect to a restarted server at the same instant.
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Wakeups implements store.Waker. Each call opens a dedicated connection
// (outside the pool, so it never competes with queries for a pooled
// connection nor holds one forever) that LISTENs on the jetwebhooks_due
// channel. LISTEN is in effect before Wakeups returns: anything published
// afterwards, on any node, wakes the channel.
//
// Wake-ups are coalesced in a one-slot buffer and never block the listener.
// If the connection drops, the listener reconnects with backoff and then sends
// one wake-up, since notifications sent meanwhile were lost. The channel is
// closed when ctx ends or the store is closed.
func (s *Store) Wakeups(ctx context.Context) (<-chan struct{}, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("wakeups: %w", store.ErrClosed)
	}
	s.listeners.Add(1) // under mu, so Close cannot be waiting already
	s.mu.Unlock()

	lctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closeCtx, cancel)
	conn, err := s.listen(lctx)
	if err != nil {
		stop()
		cancel()
		s.listeners.Done()
		if s.closeCtx.Err() != nil {
			return nil, fmt.Errorf("wakeups: %w", store.ErrClosed)
		}
		return nil, fmt.Errorf("wakeups: %w", interpret(err))
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer s.listeners.Done()
		defer close(ch)
		defer cancel()
		defer stop()
		listenLoop(lctx, conn, ch, s.listen)
	}()
	return ch, nil
}

// listen opens a connection and subscribes it to the wake channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return nil, err
	}
	// The channel name is a fixed identifier: LISTEN takes no parameters.
	if _, err := conn.Exec(ctx, `LISTEN `+wakeChannel); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// listenLoop forwards notifications from conn to ch until ctx ends,
// replacing the connection through connect whenever it fails. It owns conn.
func listenLoop(ctx context.Context, conn *pgx.Conn, ch chan<- struct{}, connect func(context.Context) (*pgx.Conn, error)) {
	for {
		err := waitHealthy(ctx, conn)
		if err == nil {
			wake(ch)
			continue
		}
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		if conn = reconnect(ctx, connect); conn == nil {
			return // ctx ended while reconnecting
		}
		wake(ch)
	}
}

// waitHealthy waits for one notification. It returns nil when one arrived and
// an error when the connection failed or ctx ended; while no notification
// comes it checks the connection every listenHealthInterval.
func waitHealthy(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHealthInterval)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed() {
			return err
		}
		// Only our own timeout fired: pgx leaves the connection usable after a
		// deadline, so make sure the server is still there.
		pctx, cancel := context.WithTimeout(ctx, listenHealthInterval)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
	}
}

// reconnect retries connect with jittered exponential backoff until it
// succeeds or ctx ends (then it returns nil).
func reconnect(ctx context.Context, connect func(context.Context) (*pgx.Conn, error)) *pgx.Conn {
	backoff := listenMinBackoff
	for {
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if conn, err := connect(ctx); err == nil {
			return conn
		}
		backoff = min(backoff*2, listenMaxBackoff)
	}
}

// wake sends a coalesced wake-up: if one is already pending, the consumer
// has not looked yet and one is as good as two.
func wake(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// closeConn closes a listener connection, bounded in time: it may be the
// connection that just failed.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
