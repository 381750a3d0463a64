package sqlitestore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "sub", "test.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func TestFilePermissionsAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jw.db")
	s, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("database file mode %o, want 600", perm)
	}
	// Migrations are idempotent: a second open of the same file works.
	s, err = sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}

func TestRejectsBadOptions(t *testing.T) {
	if _, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlitestore.Options{Synchronous: "sometimes"}); err == nil {
		t.Fatal("bad synchronous mode accepted")
	}
	if _, err := sqlitestore.Open(t.Context(), "", sqlitestore.Options{}); err == nil {
		t.Fatal("empty path accepted")
	}
}
