package ratelimit_test

import (
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/ratelimit"
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

// TestBlockedAndCharge: Charge spends a token even from an empty bucket (a
// debt), Blocked only looks, and the wait is until a whole token is back.
func TestBlockedAndCharge(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New(1, 3, func() time.Time { return now }) // 3 at once, then one a second
	if blocked, _ := l.Blocked("a"); blocked {
		t.Fatal("a key never charged is blocked")
	}
	if l.Len() != 0 {
		t.Fatal("Blocked created a bucket")
	}
	for i := range 3 {
		empty := l.Charge("a")
		if empty != (i == 2) {
			t.Fatalf("charge %d: empty = %v", i+1, empty)
		}
	}
	blocked, wait := l.Blocked("a")
	if !blocked || wait != time.Second {
		t.Fatalf("after the budget: blocked %v, wait %v; want blocked for 1s", blocked, wait)
	}
	if blocked, _ := l.Blocked("b"); blocked {
		t.Fatal("b is blocked by a's charges")
	}
	l.Charge("a") // racing past Blocked: a debt
	if _, wait := l.Blocked("a"); wait != 2*time.Second {
		t.Fatalf("with a debt: wait %v, want 2s", wait)
	}
	now = now.Add(2 * time.Second)
	if blocked, _ := l.Blocked("a"); blocked {
		t.Fatal("still blocked once the debt is paid and a token is back")
	}
}

// TestBoundedNeverForgetsASpentBucket: a bounded limiter drops only
// refilled buckets; when every bucket is in use, new keys share the overflow
// bucket, so spending under many keys neither grows memory past the cap nor
// gives back a key's own budget.
func TestBoundedNeverForgetsASpentBucket(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ratelimit.NewBounded(1, 2, 3, func() time.Time { return now })
	l.Charge("attacker")
	l.Charge("attacker")
	if blocked, _ := l.Blocked("attacker"); !blocked {
		t.Fatal("attacker not blocked after his budget")
	}
	for i := range 100 {
		l.Charge("other-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		now = now.Add(time.Millisecond)
	}
	if n := l.Len(); n > 3 {
		t.Fatalf("%d buckets held, cap 3", n)
	}
	if blocked, _ := l.Blocked("attacker"); !blocked {
		t.Fatal("charging under 100 other keys gave the attacker his budget back")
	}
	// Keys without a bucket now share the overflow, which those 100
	// charges emptied.
	if blocked, _ := l.Blocked("newcomer"); !blocked {
		t.Fatal("the overflow bucket is not shared by keys that found the limiter full")
	}
	// Once buckets have refilled they make room again.
	now = now.Add(time.Minute)
	if blocked, _ := l.Blocked("newcomer"); blocked {
		t.Fatal("newcomer blocked after every bucket refilled")
	}
	l.Charge("newcomer")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets held after the refilled ones were dropped, want 1", n)
	}
}
