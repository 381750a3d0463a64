// Package pgtest gives tests throwaway PostgreSQL databases. It lives in a
// regular (non-_test) file so that any package's tests can use it: pgstore's
// own, and those of the delivery engine or the API running on PostgreSQL.
//
// Tests reach PostgreSQL only through the JETWEBHOOKS_TEST_POSTGRES variable,
// a URL with rights to create databases, for example
//
//	JETWEBHOOKS_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' go test ./...
//
// Unset, every test asking for a database is skipped, so `go test ./...` works
// without a server. Set but unreachable, those tests fail: CI sets the variable
// precisely so that a broken database cannot pass as skipped tests.
//
// Each database is created empty with a unique name (jwtest_<package>_<random>)
// and dropped, WITH (FORCE) on PostgreSQL 13 and later, when the test that
// asked for it ends. A whole database rather than a schema per test, because
// LISTEN/NOTIFY channels and advisory locks are per database: tests of
// wake-ups and of concurrent migrations must not hear each other.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the server URL.
const EnvVar = "JETWEBHOOKS_TEST_POSTGRES"

// timeout bounds each administrative step (connect, create, drop): a server
// that does not answer fails the test instead of hanging it.
const timeout = 30 * time.Second

var skipOnce sync.Once

// ServerURL returns the URL in JETWEBHOOKS_TEST_POSTGRES. When the variable is
// unset it skips the test, and says so once per test binary on stderr, so a
// plain `go test ./...` shows why the PostgreSQL tests did not run.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		skipOnce.Do(func() {
			// make test says it once for the whole run and sets the quiet flag.
			if os.Getenv("JETWEBHOOKS_PGTEST_QUIET") == "" {
				fmt.Fprintf(os.Stderr, "PostgreSQL tests skipped: %s is not set\n", EnvVar)
			}
		})
		tb.Skipf("PostgreSQL tests skipped: %s is not set", EnvVar)
	}
	return u
}

var (
	perTestMu sync.Mutex
	perTest   = map[testing.TB]string{}
)

// Database returns the URL of a fresh, empty database for tb, created by
// NewDatabase on the first call and returned again on later calls with the
// same tb, so a test and its helpers can open several stores ("nodes") on one
// database without passing the URL around. It skips when the variable is
// unset and fails when the server cannot be reached.
func Database(tb testing.TB) string {
	tb.Helper()
	perTestMu.Lock()
	u, ok := perTest[tb]
	perTestMu.Unlock()
	if ok {
		return u
	}
	u = NewDatabase(tb)
	perTestMu.Lock()
	perTest[tb] = u
	perTestMu.Unlock()
	tb.Cleanup(func() {
		perTestMu.Lock()
		delete(perTest, tb)
		perTestMu.Unlock()
	})
	return u
}

// NewDatabase creates a new, empty database on every call, drops it when tb
// ends (after any cleanup registered later, such as closing a store on it),
// and returns its URL: the server URL with the database name replaced, other
// parameters kept. It skips when the variable is unset and fails when the
// server cannot be reached.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := ServerURL(tb)
	base, err := url.Parse(admin)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		tb.Fatalf("pgtest: %s must be a postgres:// URL", EnvVar)
	}
	name := dbName()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s (from %s): %v", base.Redacted(), EnvVar, err)
	}
	defer conn.Close(context.Background())
	// CREATE DATABASE takes no parameters; the name is generated here from
	// [a-z0-9_] only, and quoted anyway.
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() { drop(tb, admin, name) })

	u := *base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func drop(tb testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Errorf("pgtest: drop database %s: connect: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	// FORCE (PostgreSQL 13+) ends sessions a test left open, such as a
	// listener whose context outlived the test; before 13, end them by hand.
	var version int
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		tb.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	stmt := `DROP DATABASE IF EXISTS ` + ident + ` WITH (FORCE)`
	if version < 130000 {
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		stmt = `DROP DATABASE IF EXISTS ` + ident
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		tb.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

// dbName returns jwtest_<package>_<random>: the package (from the test
// binary's name, pgstore.test → pgstore) tells whose database a leftover is,
// should a test binary be killed before its cleanups ran.
func dbName() string {
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	pkg = strings.TrimSuffix(pkg, ".exe")
	var b strings.Builder
	for _, r := range strings.ToLower(pkg) {
		if b.Len() == 24 {
			break
		}
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	return "jwtest_" + b.String() + "_" + hex.EncodeToString(rnd[:])
}
