package delivery

import (
	"sync"
	"time"
)

// hookLimiter caps the attempts in flight to one webhook, so that one slow
// endpoint cannot occupy every worker while other webhooks' deliveries wait.
// A worker that finds the webhook at its cap waits briefly — about two of that
// endpoint's recent attempt times, so a fast endpoint barely notices the cap —
// and otherwise hands the delivery back to the store for a little later.
type hookLimiter struct {
	cap     int
	maxWait time.Duration
	mu      sync.Mutex
	hooks   map[string]*hookSlot
}

type hookSlot struct {
	sem   chan struct{}
	users int
	avg   time.Duration // moving average of attempt durations
}

func newHookLimiter(capacity int, maxWait time.Duration) *hookLimiter {
	return &hookLimiter{cap: capacity, maxWait: maxWait, hooks: map[string]*hookSlot{}}
}

// acquire takes a slot of webhook uuid, or reports false if none freed up in
// time. The caller must call release after a successful acquire.
func (l *hookLimiter) acquire(uuid string) (*hookSlot, bool) {
	if l == nil {
		return nil, true
	}
	l.mu.Lock()
	s := l.hooks[uuid]
	if s == nil {
		s = &hookSlot{sem: make(chan struct{}, l.cap)}
		l.hooks[uuid] = s
	}
	s.users++
	wait := min(max(2*s.avg, time.Millisecond), l.maxWait)
	l.mu.Unlock()
	select {
	case s.sem <- struct{}{}:
		return s, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return s, true
	case <-t.C:
		l.leave(uuid, s, 0)
		return nil, false
	}
}

// release frees the slot and folds the attempt's duration into the average.
func (l *hookLimiter) release(uuid string, s *hookSlot, took time.Duration) {
	if l == nil {
		return
	}
	<-s.sem
	l.leave(uuid, s, took)
}

func (l *hookLimiter) leave(uuid string, s *hookSlot, took time.Duration) {
	l.mu.Lock()
	if took > 0 {
		if s.avg == 0 {
			s.avg = took
		} else {
			s.avg = (7*s.avg + took) / 8
		}
	}
	s.users--
	if s.users == 0 {
		delete(l.hooks, uuid) // bounded by webhooks with work in flight
	}
	l.mu.Unlock()
}
