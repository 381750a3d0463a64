// Package ratelimit keeps one token bucket per caller (an API key, the ingest
// token, a client address) so that one caller's burst cannot crowd out the
// others. Buckets that have refilled are dropped, so memory follows the number
// of callers that recently spent tokens; a limiter may also be capped (see
// NewBounded).
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter hands out per-key token buckets. The zero value is not usable; use
// New or NewBounded.
type Limiter struct {
	rate    rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	// overflow is the one bucket shared by every key that finds a bounded
	// limiter full (see NewBounded).
	overflow *bucket
	swept    time.Time
}

type bucket struct {
	lim *rate.Limiter
}

// sweepEvery is how often full buckets are dropped. A full bucket is exactly
// what a caller without one would get, so dropping it changes nothing for
// its caller.
const sweepEvery = 10 * time.Minute

// fullSweepEvery spaces the extra sweeps a bounded limiter makes when it is
// full, so that a flood of new keys costs one scan per second, not one per
// request.
const fullSweepEvery = time.Second

// New returns a limiter allowing perSecond requests per second per key with
// bursts of burst. perSecond <= 0 disables limiting.
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, now: now, buckets: map[string]*bucket{}}
}

// NewBounded is New with at most maxKeys buckets held at once (maxKeys <= 0:
// no cap). Only buckets that have refilled are ever dropped, so a caller
// cannot empty his own bucket and then get a fresh one by making the limiter
// forget him (say, by spending tokens under many other keys). When every
// held bucket is still in use, keys without a bucket share one overflow
// bucket until room is made: under a flood of distinct keys those keys are
// limited together, which keeps memory bounded and fails closed.
func NewBounded(perSecond float64, burst, maxKeys int, now func() time.Time) *Limiter {
	l := New(perSecond, burst, now)
	l.maxKeys = max(0, maxKeys)
	return l
}

// Allow takes a token from key's bucket. When none is left it returns false
// and how long until one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l.disabled() {
		return true, 0
	}
	now := l.now()
	b := l.get(key, now, true)
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Blocked reports, without taking anything, whether key's bucket is empty,
// and if so how long until it holds a token again.
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	if l.disabled() {
		return false, 0
	}
	now := l.now()
	b := l.get(key, now, false)
	if b == nil {
		return false, 0
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / float64(l.rate) * float64(time.Second))
}

// Charge takes a token from key's bucket whether or not one is left: an
// empty bucket goes into debt, so that callers who race past Blocked pay for
// it. It reports whether the bucket is now empty.
func (l *Limiter) Charge(key string) (empty bool) {
	if l.disabled() {
		return false
	}
	now := l.now()
	b := l.get(key, now, true)
	b.lim.ReserveN(now, 1)
	return b.lim.TokensAt(now) < 1
}

func (l *Limiter) disabled() bool { return l == nil || l.rate <= 0 }

// get returns key's bucket, creating it if create is set; without create a
// key that has none gets nil (or the overflow bucket when a bounded limiter
// is full, since that is where the key would be charged).
func (l *Limiter) get(key string, now time.Time, create bool) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > sweepEvery {
		l.sweep(now)
	}
	if b := l.buckets[key]; b != nil {
		return b
	}
	if l.maxKeys > 0 && len(l.buckets) >= l.maxKeys {
		if now.Sub(l.swept) >= fullSweepEvery {
			l.sweep(now)
		}
		if len(l.buckets) >= l.maxKeys {
			if l.overflow == nil {
				l.overflow = l.newBucket()
			}
			return l.overflow
		}
	}
	if !create {
		return nil
	}
	b := l.newBucket()
	l.buckets[key] = b
	return b
}

func (l *Limiter) newBucket() *bucket { return &bucket{lim: rate.NewLimiter(l.rate, l.burst)} }

// sweep drops the buckets that have refilled. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// Len reports how many buckets are held, the overflow bucket not counted
// (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
