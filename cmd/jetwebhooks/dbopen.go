package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// sqlitePath returns the file path of a SQLite --db value, or "" for a
// PostgreSQL URL.
func sqlitePath(db string) string {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(db, "sqlite://"), "file:")
}

// openExisting opens the database for a command that works on existing data
// (accounts list, rotate-key, ingest-token status, …). Opening a SQLite path
// creates the file, so a missing one is reported instead: a mistyped --db or
// a command run from the wrong directory must not leave an empty database
// behind and print an empty result.
func openExisting(ctx context.Context, db string) (store.Store, error) {
	if p := sqlitePath(db); p != "" {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (start `jetwebhooks serve` first or pass --db)", p)
		} else if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	st, err := server.OpenStore(ctx, db, "")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}
