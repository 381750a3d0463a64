//go:build !unix

package main

// lockDatabase takes no lock where flock is unavailable; SQLite's own
// locking still keeps the file consistent.
func lockDatabase(string) (func(), error) { return func() {}, nil }
