package ratelimit_test

import (
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/ratelimit"
)

func TestBucketsPerKey(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New(10, 5, func() time.Time { return now })
	for i := 0; i < 5; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("past the burst: ok=%v wait=%v, want refused with ~100ms", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is limited by a's burst")
	}
	now = now.Add(100 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("a token did not refill after 1/rate")
	}
	// Idle buckets are dropped.
	now = now.Add(time.Hour)
	l.Allow("c")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets kept after an hour idle, want 1", n)
	}
}

func TestDisabled(t *testing.T) {
	l := ratelimit.New(0, 0, nil)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}
