// Package pgstore implements store.Store on PostgreSQL through
// github.com/jackc/pgx/v5: the backend for several `jetwebhooks serve` nodes
// sharing one database.
//
// It keeps the SQLite backend's tables, columns and semantics (times are unix
// milliseconds in BIGINT columns in both), so the two pass the same
// conformance suite. What PostgreSQL adds is real concurrency between nodes:
//
//   - Claims select due rows FOR UPDATE SKIP LOCKED and lease them in the same
//     statement, so nodes claiming at once never receive the same delivery and
//     never wait for each other.
//   - Publishing and replaying NOTIFY the jetwebhooks_due channel inside their
//     transaction; every node's Wakeups channel (LISTEN on a dedicated
//     connection) fires when the transaction commits, so an event published on
//     one node is picked up at once by whichever node is free.
//   - Migrations run under a PostgreSQL advisory lock, so nodes starting
//     together apply them exactly once.
//   - Statements touching many delivery rows lock them in id order, and a
//     transaction that still loses a deadlock is retried, so concurrent
//     completions, deletions and replays do not fail each other.
//
// Only standard SQL parameters carry values; the few statements built at run
// time (QueryDeliveries' optional filters) concatenate fixed SQL fragments and
// numbered placeholders, never values.
//
// Open connects and applies the embedded migrations; hand the store to
// server.New (server.Open does all of this for a postgres:// URL in
// Config.DB) and close it after the server. Every node needs the same
// Config.SecretKey:
//
//	st, err := pgstore.Open(ctx, "postgres://jetwebhooks@db.internal/jetwebhooks", pgstore.Options{})
//	if err != nil { ... }
//	defer st.Close()
//	srv, err := server.New(ctx, server.Config{SecretKey: key}, st)
package pgstore

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/pressly/goose/v3"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store. The zero value is a sensible default.
type Options struct {
	// MaxConns is the size of the connection pool. Zero keeps the DSN's
	// pool_max_conns parameter if it has one, else pgxpool's default: the
	// greater of 4 and runtime.NumCPU(). The Wakeups listener uses one more
	// connection of its own per Wakeups call, outside the pool.
	MaxConns int32
}

// Store is the PostgreSQL backend. Create it with Open; it is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool

	// listenConfig is the configuration of the dedicated LISTEN connections.
	listenConfig *pgx.ConnConfig

	// closeCtx ends when Close is called; it stops the Wakeups listeners, which
	// would otherwise outlive the store and keep reconnecting.
	closeCtx    context.Context
	closeCancel context.CancelFunc
	mu          sync.Mutex // guards closed and listeners.Add against Close
	closed      bool
	listeners   sync.WaitGroup
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Waker   = (*Store)(nil)
	_ store.Handoff = (*Store)(nil)
)

const (
	// appName identifies the store's connections in pg_stat_activity when the
	// DSN does not set application_name.
	appName = "jetwebhooks"
	// listenerAppName identifies the Wakeups connections the same way.
	listenerAppName = "jetwebhooks-listener"
	// migrationTable keeps goose's version table apart from any other
	// goose-migrated application sharing the database.
	migrationTable = "jetwebhooks_goose_db_version"
	// migrationLockID is the advisory lock key serialising migrations across
	// nodes (the bytes "jetwhmig" read as a big-endian int64). It is distinct
	// from goose's default key for the same reason as migrationTable.
	migrationLockID int64 = 0x6a6574_77686d6967
)

// Open connects to the PostgreSQL database at dsn (a postgres:// or
// postgresql:// URL; pgx's parameters such as sslmode or pool_max_conns
// apply), applies the embedded migrations and returns the store. Several
// nodes may Open the same database at once: migrations are serialised by an
// advisory lock and applied once.
//
// Statements are prepared and cached per connection (pgx's default). Behind
// a transaction-pooling PgBouncer older than 1.21 (or with
// max_prepared_statements = 0) add default_query_exec_mode=exec to the DSN.
// Wakeups needs a real session for LISTEN: point the store at PostgreSQL or
// at a session-pooling proxy.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, errors.New("postgres: the DSN must be a postgres:// or postgresql:// URL")
	}
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("postgres: MaxConns must not be negative, got %d", opts.MaxConns)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors already redact the password.
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = appName
	}
	listenConfig := cfg.ConnConfig.Copy()
	if listenConfig.RuntimeParams["application_name"] == appName {
		listenConfig.RuntimeParams["application_name"] = listenerAppName
	}

	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	// NewWithConfig connects lazily; check the pool's own settings now rather
	// than at the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	closeCtx, closeCancel := context.WithCancel(context.Background())
	return &Store{pool: pool, listenConfig: listenConfig, closeCtx: closeCtx, closeCancel: closeCancel}, nil
}

// migrate applies the embedded migrations through goose on a short-lived
// database/sql handle. A blocking pg_advisory_lock on a pinned connection
// serialises concurrent Opens: the first node migrates, the others wait and
// then find nothing left to do. (goose's own session locker polls every few
// seconds; the blocking lock hands over as soon as the first node is done.)
// The lock is session-level, so a node that dies mid-migration releases it
// with its connection.
func migrate(ctx context.Context, connConfig *pgx.ConnConfig) (err error) {
	db := stdlib.OpenDB(*connConfig.Copy())
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithTableName(migrationTable))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	lockConn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer lockConn.Close()
	if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer func() {
		// Unlock even if ctx has ended; closing lockConn would release the
		// lock anyway, but only once the server notices.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := lockConn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockID); uerr != nil && err == nil {
			err = fmt.Errorf("postgres: migration unlock: %w", uerr)
		}
	}()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Close stops the Wakeups listeners, closing their channels, and closes the
// pool, waiting for connections in use to be released. Later calls return
// errors wrapping store.ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	s.closeCancel()
	s.listeners.Wait()
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", interpret(err))
	}
	return nil
}

// PostgreSQL error codes the store reacts to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeSerializationFail   = "40001"
	codeDeadlockDetected    = "40P01"
)

// interpret maps driver errors to the store's sentinels, keeping the driver
// error in the chain (errors.As still finds a *pgconn.PgError) so logs show
// the constraint that failed. Callers add the operation's name.
func interpret(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, puddle.ErrClosedPool):
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	case errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case errors.As(err, &pgErr) && pgErr.Code == codeForeignKeyViolation:
		// A row referring to a missing one: the account a webhook or an event
		// names does not exist, which the caller sees as not found.
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// retryable reports errors after which the whole transaction may simply be
// run again: PostgreSQL aborted it to break a deadlock or a serialization
// conflict, and nothing it did was kept.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == codeDeadlockDetected || pgErr.Code == codeSerializationFail)
}

// maxTxTries bounds withTx's retries of deadlocked transactions.
const maxTxTries = 3

// withTx runs fn in a read-committed transaction, committing if fn succeeds.
// A transaction PostgreSQL aborts as a deadlock victim is run again (fn must
// therefore reset any state it accumulates outside the database).
func (s *Store) withTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for try := 1; try <= maxTxTries; try++ {
		err = s.tryTx(ctx, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", interpret(err))
	}
	defer func() {
		if err == nil {
			return
		}
		// Roll back even when ctx has ended, so the connection goes back to
		// the pool clean instead of being torn down mid-transaction.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", interpret(err))
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// encodeList encodes a list for a NOT NULL JSONB column: nil is stored as [].
func encodeList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// encodeNullableList keeps nil ("all", SQL NULL) apart from an empty list.
func encodeNullableList(v []string) *string {
	if v == nil {
		return nil
	}
	s := encodeList(v)
	return &s
}

// decodeList decodes a NOT NULL list column; lists are never nil once read.
func decodeList(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if v == nil {
		v = []string{}
	}
	return v, nil
}

func decodeNullableList(s *string) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	return decodeList(*s)
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
