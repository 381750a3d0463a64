//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDatabase makes `serve` the only server on a SQLite file. Two servers
// on one file would both run the delivery engine and maintenance against it,
// competing for its single writer. It takes an exclusive advisory lock
// (flock) on DB.lock beside the file, held until the process exits (the
// kernel releases it even after SIGKILL), and returns a function releasing
// it. Other commands (accounts list, accounts rotate-key, ingest-token …)
// do not take it: they may run beside a server. PostgreSQL is meant for
// several nodes and takes no lock.
func lockDatabase(db string) (func(), error) {
	p := sqlitePath(db)
	if p == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	lockPath := p + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n]))); perr == nil {
				holder = fmt.Sprintf("another jetwebhooks serve (pid %d)", pid)
			}
			return nil, fmt.Errorf("%s is already serving the database %s (lock %s): stop it first, or give this server another --db; for several nodes use PostgreSQL", holder, p, lockPath)
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	// The holder's pid, for the message a second server prints.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
