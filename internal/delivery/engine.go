// Package delivery is the engine that sends events to webhooks: it claims due
// deliveries from the store in batches under a lease, POSTs them signed with
// both signature schemes through a bounded pool of HTTP workers, classifies
// each answer, and writes the outcomes back in batches, scheduling retries on
// JetEmail's schedule and dead-lettering after the last attempt.
//
// Durability comes from the store, not from memory: a delivery lives in the
// database from the moment it is published until its outcome is written, so a
// crash at any point loses nothing; a claim whose worker died is taken over by
// another worker when its lease expires (at-least-once). Memory is bounded by
// the number of claims in flight, never by the backlog.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// DefaultSchedule is JetEmail's: attempt 1 at once, then after 30 s, 2 min,
// 10 min, 1 h and 4 h; after the 6th failure the delivery is dead-lettered.
var DefaultSchedule = []time.Duration{0, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, 4 * time.Hour}

// Config tunes the engine. Zero values take the documented defaults.
type Config struct {
	// Owner identifies this node in leases (default "node").
	Owner string
	// Schedule holds the delay before each attempt; its length is the number
	// of attempts. Defaults to DefaultSchedule.
	Schedule []time.Duration
	// Timeout bounds one attempt, connection to last byte (default 10 s).
	Timeout time.Duration
	// Concurrency is the number of attempts in flight at once (default 256:
	// more claims in flight mean fewer, larger transactions, and the claim
	// and completion round trips overlap more attempts; 256 delivered
	// 12-16 % more than 128 end to end on SQLite, see BENCHMARKS.md).
	Concurrency int
	// PerWebhookConcurrency caps the attempts in flight to one webhook, so a
	// slow endpoint cannot take every worker, nor one receiver get every
	// connection (default 64, or Concurrency/2 if that is less; negative: no
	// cap). Deliveries over the cap go back to the queue briefly.
	PerWebhookConcurrency int
	// BatchSize caps one claim or one completion write (default 128).
	BatchSize int
	// Lease is how long a claim is held before another worker may take it
	// over. It must exceed Timeout plus the time to write the outcome
	// (default 2×Timeout + 5 s).
	Lease time.Duration
	// PollInterval is the longest the engine sleeps without checking for due
	// work; wake-ups (local publishes, Waker notifications) cut it short.
	// Default 1 s.
	PollInterval time.Duration
	// Jitter is the largest extra fraction added to each retry delay, so a
	// burst of failures does not retry in lockstep (default 0.1; negative
	// disables).
	Jitter float64
	// MaxResponseBody is how much of a receiver's answer is kept in the
	// history (default 1024 bytes).
	MaxResponseBody int
	// MaxResponseSize is the longest answer read from a receiver (default
	// 64 KiB, at least MaxResponseBody). A 2xx answer longer than that is a
	// failed attempt, class response_too_large.
	MaxResponseSize int
	// Client sends the requests. It must not follow redirects; use
	// egress.Policy.NewClient. Required.
	Client *http.Client
	// UserAgent is sent with every delivery (default "jetwebhooks").
	UserAgent string
	// Now is the clock (default time.Now); Rand draws jitter (default a
	// per-engine random source).
	Now  func() time.Time
	Rand func() float64
	// Logger receives engine failures, and each failed attempt at info
	// (default slog.Default()).
	Logger *slog.Logger
	// Observer, if set, is told about claims and outcomes (metrics).
	Observer Observer
}

// Observer receives the engine's events; implementations must be fast and
// safe for concurrent use.
type Observer interface {
	Claimed(n int, takenOver int)
	Attempted(status string, code int, d time.Duration)
	// PolledUp counts deliveries that only the fallback poll found: the
	// engine slept a whole PollInterval with nothing due that it knew of, so
	// no wake-up reached it for them. It should stay near zero; a steady
	// count means wake-ups are lost and deliveries wait for the poll.
	PolledUp(n int)
}

// Engine delivers. Create it with New, run it with Run.
type Engine struct {
	cfg  Config
	st   store.Store
	wake chan struct{}
	// pacer spaces this node's attempts to rate-limited webhooks.
	pacer pacer
	// workMu guards workClosed, set when Run closes the work channel: the
	// completer sends handed-off claims into it (store.Handoff) only
	// before.
	workMu     sync.Mutex
	workClosed bool
	slots      chan struct{}
	signers    signerCache
	hooks      *hookLimiter
	log        *slog.Logger
}

// New validates cfg and returns an engine over st.
func New(st store.Store, cfg Config) (*Engine, error) {
	if cfg.Client == nil {
		return nil, errors.New("delivery: Config.Client is required")
	}
	if cfg.Owner == "" {
		cfg.Owner = "node"
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	for i, d := range cfg.Schedule {
		if d < 0 {
			return nil, fmt.Errorf("delivery: retry schedule entry %d is negative", i)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 256
	}
	if cfg.PerWebhookConcurrency == 0 {
		cfg.PerWebhookConcurrency = max(1, min(64, cfg.Concurrency/2))
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 128
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2*cfg.Timeout + 5*time.Second
	}
	if cfg.Lease <= cfg.Timeout {
		return nil, fmt.Errorf("delivery: lease (%s) must exceed the attempt timeout (%s)", cfg.Lease, cfg.Timeout)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.MaxResponseBody <= 0 {
		cfg.MaxResponseBody = 1024
	}
	if cfg.MaxResponseSize <= 0 {
		cfg.MaxResponseSize = 64 << 10
	}
	cfg.MaxResponseSize = max(cfg.MaxResponseSize, cfg.MaxResponseBody)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "jetwebhooks"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{
		cfg:   cfg,
		st:    st,
		wake:  make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.Concurrency),
		log:   cfg.Logger,
	}
	if cfg.PerWebhookConcurrency > 0 && cfg.PerWebhookConcurrency < cfg.Concurrency {
		e.hooks = newHookLimiter(cfg.PerWebhookConcurrency, 100*time.Millisecond)
	}
	return e, nil
}

// Wake tells the engine that deliveries may be due now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then stops claiming, lets attempts in flight
// finish (each is bounded by the timeout), writes their outcomes and returns.
func (e *Engine) Run(ctx context.Context) error {
	work := make(chan *store.Claim, e.cfg.Concurrency)
	outcomes := make(chan *store.Outcome, e.cfg.Concurrency)

	var workers sync.WaitGroup
	for range e.cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for c := range work {
				outcomes <- e.dispatch(c)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		e.complete(outcomes, work)
		close(done)
	}()

	if w, ok := e.st.(store.Waker); ok {
		if ch, err := w.Wakeups(ctx); err != nil {
			e.log.Warn("cross-node wake-ups unavailable; polling only", "err", err)
		} else {
			go func() {
				for range ch {
					e.Wake()
				}
			}()
		}
	}

	e.claimLoop(ctx, work)
	e.workMu.Lock()
	e.workClosed = true
	close(work)
	e.workMu.Unlock()
	workers.Wait()
	close(outcomes)
	<-done
	return nil
}

// dispatch attempts a claim within its webhook's concurrency cap, or defers
// it: back to the queue, unchanged and unattempted, a moment later.
func (e *Engine) dispatch(c *store.Claim) *store.Outcome {
	slot, ok := e.hooks.acquire(c.WebhookUUID)
	if !ok {
		now := e.cfg.Now()
		delay := 250*time.Millisecond + time.Duration(e.cfg.Rand()*float64(250*time.Millisecond))
		return &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, Status: c.Status, NextAttemptAt: now.Add(delay), At: now}
	}
	if c.Pace > 0 || !c.NotBefore.IsZero() {
		// A rate-limited webhook: start at the claim's slot (it may have been
		// claimed a little ahead of it, store.PaceAhead), and not closer to
		// this node's previous attempt to the webhook than its pace. If the
		// receiver has asked for a pause meanwhile (a 429 seen here), the
		// claim goes back unattempted, due when the pause ends, to be paced
		// again at the slowed rate.
		if until, ok := e.pacer.wait(c.WebhookUUID, c.NotBefore, c.Pace, e.cfg.Now); !ok {
			e.hooks.release(c.WebhookUUID, slot, 0)
			return &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, Status: c.Status, NextAttemptAt: until, At: e.cfg.Now()}
		}
	}
	start := time.Now()
	o := e.attempt(c)
	e.hooks.release(c.WebhookUUID, slot, time.Since(start))
	if o.SlowDown {
		e.pacer.pause(c.WebhookUUID, o.PauseUntil)
	}
	return o
}

// maxPaceWait bounds the wait for a claim's slot (store.PaceAhead is at
// most 100 ms, and the pace at its slowest, one per second, doubled by a
// 429, 2 s): a longer wait can only come from a clock that moved back.
const maxPaceWait = 2 * time.Second

// pacer holds each attempt to a rate-limited webhook on this node until its
// start: not before the claim's slot, and at least the webhook's pace after
// this node's previous attempt to it actually started. The store's pace
// spaces the slots across nodes; this keeps a late wake-up on this node
// from bunching two attempts at the receiver. Attempts to one webhook pass
// it one at a time; other webhooks are not held up.
type pacer struct {
	mu    sync.Mutex
	hooks map[string]*paceState
}

type paceState struct {
	mu   sync.Mutex
	last time.Time // when this node's last attempt to the webhook started
	// pausedUntil is the end of the receiver's last pause (429 Retry-After)
	// seen by this node; guarded by pacer.mu, so that pause never waits for
	// a sleeping attempt.
	pausedUntil time.Time
}

// state returns webhook uuid's state; p.mu must be held.
func (p *pacer) state(uuid string) *paceState {
	if p.hooks == nil {
		p.hooks = map[string]*paceState{}
	}
	st := p.hooks[uuid]
	if st == nil {
		st = &paceState{}
		p.hooks[uuid] = st
	}
	return st
}

// pause records that the receiver asked for no attempt to webhook uuid
// before until.
func (p *pacer) pause(uuid string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.state(uuid); until.After(st.pausedUntil) {
		st.pausedUntil = until
	}
}

// paused reports the end of a pause of st still running at now.
func (p *pacer) paused(st *paceState, now time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return st.pausedUntil, now.Before(st.pausedUntil)
}

// wait holds the caller until its attempt may start and reports true; or,
// if the webhook is paused (before or during the wait), reports false and
// when the pause ends, without starting.
func (p *pacer) wait(uuid string, notBefore time.Time, pace time.Duration, now func() time.Time) (time.Time, bool) {
	p.mu.Lock()
	st := p.state(uuid)
	if len(p.hooks) > 4096 {
		// Starts a few seconds old constrain nothing any more.
		for u, h := range p.hooks {
			if h != st && h.mu.TryLock() {
				if h.last.Before(now().Add(-2*maxPaceWait)) && !now().Before(h.pausedUntil) {
					delete(p.hooks, u)
				}
				h.mu.Unlock()
			}
		}
	}
	p.mu.Unlock()

	st.mu.Lock()
	defer st.mu.Unlock()
	t := now()
	if until, ok := p.paused(st, t); ok {
		return until, false
	}
	start := t
	if notBefore.After(start) {
		start = notBefore
	}
	if !st.last.IsZero() && st.last.Add(pace).After(start) {
		start = st.last.Add(pace)
	}
	if d := start.Sub(t); d > 0 {
		time.Sleep(min(d, maxPaceWait))
	}
	t = now()
	if until, ok := p.paused(st, t); ok {
		return until, false
	}
	st.last = t
	return time.Time{}, true
}

// claimLoop claims as much due work as there are free worker slots and sleeps
// until the next delivery is due, a wake-up, or the poll interval.
func (e *Engine) claimLoop(ctx context.Context, work chan<- *store.Claim) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// polled: the last sleep was a whole PollInterval with nothing known to
	// be due, and it ended on the timer, not a wake-up.
	polled := false
	for {
		// Wait for at least one free slot before claiming: claims held in
		// memory without a worker would only age their leases.
		select {
		case e.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1
	fill:
		for free < e.cfg.BatchSize {
			select {
			case e.slots <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		claims, err := e.st.ClaimDeliveries(ctx, &store.ClaimParams{Owner: e.cfg.Owner, Limit: free, Now: e.cfg.Now(), Lease: e.cfg.Lease})
		if err != nil && ctx.Err() == nil {
			e.log.Error("claim deliveries", "err", err)
		}
		for range free - len(claims) {
			<-e.slots
		}
		if e.cfg.Observer != nil && len(claims) > 0 {
			taken := 0
			for _, c := range claims {
				if c.TakenOver {
					taken++
				}
			}
			e.cfg.Observer.Claimed(len(claims), taken)
			if polled {
				e.cfg.Observer.PolledUp(len(claims))
			}
		}
		polled = false
		for _, c := range claims {
			work <- c
		}
		if ctx.Err() != nil {
			return
		}
		if len(claims) == free && err == nil {
			continue // there may be more due right now
		}
		wait, full := e.cfg.PollInterval, true
		if err == nil {
			if next, ok, nerr := e.st.NextDueAt(ctx); nerr == nil && ok {
				if d := next.Sub(e.cfg.Now()); d < wait {
					wait, full = max(d, time.Millisecond), false
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
			polled = full
		}
	}
}

// complete writes outcomes in batches: whatever has accumulated while the
// previous write ran goes in the next one, so batches grow with load and a
// lone outcome is written at once. With a store.Handoff backend, finishing
// the head of a FIFO queue claims the next one in the same transaction; it
// goes to work at once, in the finished one's slot.
func (e *Engine) complete(outcomes <-chan *store.Outcome, work chan<- *store.Claim) {
	batch := make([]*store.Outcome, 0, e.cfg.BatchSize)
	for o := range outcomes {
		batch = append(batch[:0], o)
	more:
		for len(batch) < e.cfg.BatchSize {
			select {
			case o, ok := <-outcomes:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		// Finished gated deliveries move their queues on: the next of each
		// is handed to this node (store.Handoff) or released, due now.
		finished := 0
		for _, o := range batch {
			if o.Gated && (o.Status == store.StatusSuccess || o.Status == store.StatusFailed) {
				finished++
			}
		}
		next := e.write(batch, finished)
		// A retry due before the claimer's next look would wait a whole poll
		// interval, and so would a released (not handed-off) delivery: wake
		// the claimer so it looks again.
		soon := e.cfg.Now().Add(e.cfg.PollInterval)
		wake := finished > len(next)
		for _, o := range batch {
			wake = wake || (o.Status == store.StatusRetry && o.NextAttemptAt.Before(soon))
		}
		if wake {
			e.Wake()
		}
		if e.cfg.Observer != nil && len(next) > 0 {
			e.cfg.Observer.Claimed(len(next), 0)
		}
		// Each handed-off claim keeps the slot of the outcome that freed it:
		// claims in the buffered work channel never outnumber the slots, so
		// these sends never block. After Run has closed the channel (it is
		// stopping), a claim made meanwhile is dropped: its lease expires and
		// it is attempted again.
		e.workMu.Lock()
		if e.workClosed {
			next = nil
		}
		for _, c := range next {
			work <- c
		}
		e.workMu.Unlock()
		for range len(batch) - len(next) {
			<-e.slots
		}
	}
}

// write persists a batch, retrying briefly: an outcome that cannot be written
// is not lost (the lease expires and the delivery is attempted again), but
// retrying avoids a needless duplicate on a transient database error. It
// returns the claims a store.Handoff backend handed over with it: at most
// one for each of the batch's finished gated deliveries (finished).
func (e *Engine) write(batch []*store.Outcome, finished int) []*store.Claim {
	h, handoff := e.st.(store.Handoff)
	e.workMu.Lock()
	handoff = handoff && !e.workClosed // stopping: release, do not claim
	e.workMu.Unlock()
	limit := 0
	if handoff {
		limit = finished
	}
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var claims []*store.Claim
		var err error
		if limit > 0 {
			_, claims, err = h.CompleteAndClaim(ctx, batch, &store.ClaimParams{Owner: e.cfg.Owner, Limit: limit, Now: e.cfg.Now(), Lease: e.cfg.Lease})
		} else {
			_, err = e.st.CompleteDeliveries(ctx, batch)
		}
		cancel()
		if err == nil {
			return claims
		}
		if try == 4 {
			e.log.Error("complete deliveries: giving up; leases will expire and the deliveries will be retried", "n", len(batch), "err", err)
			return nil
		}
		e.log.Warn("complete deliveries", "err", err, "try", try+1)
		time.Sleep(time.Duration(100<<try) * time.Millisecond)
	}
}

// nextDelay returns the delay before the attempt after `attempt` (1-based),
// or ok=false when the schedule is exhausted. retryAfter, when positive, is
// honoured within the schedule's bounds.
func (e *Engine) nextDelay(attempt int, retryAfter time.Duration) (time.Duration, bool) {
	if attempt >= len(e.cfg.Schedule) {
		return 0, false
	}
	d := e.cfg.Schedule[attempt]
	if retryAfter > d {
		d = min(retryAfter, maxDuration(e.cfg.Schedule))
	}
	if e.cfg.Jitter > 0 && d > 0 {
		d += time.Duration(float64(d) * e.cfg.Jitter * e.cfg.Rand())
	}
	return d, true
}

func maxDuration(ds []time.Duration) time.Duration {
	m := time.Duration(0)
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
