// Package sqlitestore implements store.Store on SQLite through modernc.org/sqlite
// (pure Go, no cgo): the zero-dependency default backend for one machine.
//
// SQLite allows one writer at a time, so the store keeps two pools: a single
// writer connection, through which every write transaction is serialised (no
// SQLITE_BUSY storms, and claims cannot race because there is only one
// claimer at a time), and a pool of read-only connections that WAL lets run
// beside the writer. The write transactions queued at the same moment share
// one SQLite transaction and one commit (group commit, groupcommit.go).
//
// Open creates the database if needed and applies the embedded migrations;
// hand the store to server.New (server.Open does all of this for a file
// path in Config.DB) and close it after the server:
//
//	st, err := sqlitestore.Open(ctx, "./data/jetwebhooks.db", sqlitestore.Options{})
//	if err != nil { ... }
//	defer st.Close()
//	srv, err := server.New(ctx, server.Config{SecretKey: key}, st)
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store. The zero value is the durable default.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "FULL" (default) makes every
	// commit survive power loss; "NORMAL" survives process crashes only.
	Synchronous string
	// ReadConns is the size of the read pool (default: number of CPUs, at least 2).
	ReadConns int
}

// Store is the SQLite backend. Create it with Open.
type Store struct {
	w    *sql.DB // single writer connection
	r    *sql.DB // read-only pool
	path string
	// Prepared hot reads: preparing a statement costs SQLite far more than
	// running a point lookup, and the API runs these on every request.
	getWebhook, accountByKey, getAccount *sql.Stmt
	// Prepared on the writer: the claim path runs them many times a second.
	claimDue, claimMark *sql.Stmt
	// Multi-row statements, prepared at Open for every row count.
	stmts map[string]*sql.Stmt
	// gw runs every write transaction, several at a time (groupcommit.go).
	gw *groupWriter
}

// stmt returns the writer's prepared statement for query, bound to tx. Every
// text it is asked for is prepared at Open (preparing on the writer while a
// transaction holds its only connection would deadlock); an unexpected text
// is a bug, reported as an error.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	st, ok := s.stmts[query]
	if !ok {
		return nil, fmt.Errorf("sqlite: statement not prepared: %.80s", query)
	}
	return tx.StmtContext(ctx, st), nil
}

// prepareMultiRow prepares the multi-row statements for every row count.
func (s *Store) prepareMultiRow(ctx context.Context) error {
	s.stmts = map[string]*sql.Stmt{}
	for n := 1; n <= publishChunk; n++ {
		for _, q := range []string{insertEventsSQL(n), insertDeliveriesSQL(n), completeSQL(n), insertAttemptsSQL(n)} {
			st, err := s.w.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("sqlite: prepare: %w", err)
			}
			s.stmts[q] = st
		}
	}
	return s.prepareControls(ctx)
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Handoff = (*Store)(nil)
)

// Open opens (creating if needed) the database at path, applies the embedded
// migrations and returns the store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	path = strings.TrimPrefix(path, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" && sync != "EXTRA" && sync != "OFF" {
		return nil, fmt.Errorf("sqlite: synchronous must be FULL, NORMAL, EXTRA or OFF, not %q", opts.Synchronous)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")"
	// temp_store(MEMORY) on the writer only: group commit runs operations in
	// savepoints, whose sub-journals (the pages' prior contents, bounded by
	// one group's writes) otherwise go to a temporary file, a write system
	// call per page. The readers' sorts keep spilling to disk.
	w, err := sql.Open("sqlite", base+"?"+pragmas+"&_pragma=temp_store(2)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	// One writer: SQLite serialises writers anyway, and doing it in the pool
	// turns lock contention into queueing instead of SQLITE_BUSY errors.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
		w.Close()
		return nil, fmt.Errorf("sqlite: restrict permissions: %w", err)
	}
	r, err := sql.Open("sqlite", base+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = max(runtime.NumCPU(), 2)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	st := &Store{w: w, r: r, path: path}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.getWebhook, `SELECT ` + webhookCols + ` FROM webhooks WHERE uuid = ? AND account_id = ?`},
		{&st.accountByKey, `SELECT k.key_hash, ` + accountCols + ` FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?`},
		{&st.getAccount, `SELECT ` + accountCols + ` FROM accounts a WHERE a.id = ?`},
	} {
		if *p.dst, err = r.PrepareContext(ctx, p.query); err != nil {
			st.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	if st.claimDue, err = w.PrepareContext(ctx, claimDueSQL); err == nil {
		st.claimMark, err = w.PrepareContext(ctx, claimMarkSQL)
	}
	if err == nil {
		err = st.prepareMultiRow(ctx)
	}
	if err == nil {
		err = st.startWriter(ctx)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return st, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fsSub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close stops the writer (operations still queued fail with
// store.ErrClosed) and closes both pools.
func (s *Store) Close() error {
	s.stopWriter()
	for _, st := range []*sql.Stmt{s.getWebhook, s.accountByKey, s.getAccount, s.claimDue, s.claimMark} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range s.stmts {
		st.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return interpret(err)
	}
	return interpret(s.r.PingContext(ctx))
}

// interpret maps driver errors to the store's sentinels.
func interpret(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed"):
		return fmt.Errorf("%w: %v", store.ErrClosed, err)
	case strings.Contains(err.Error(), "UNIQUE constraint failed"):
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func encodeList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// encodeNullableList keeps nil (all) apart from an empty list.
func encodeNullableList(v []string) sql.NullString {
	if v == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: encodeList(v), Valid: true}
}

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

func decodeNullableList(s sql.NullString) ([]string, error) {
	if !s.Valid {
		return nil, nil
	}
	return decodeList(s.String)
}
