package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

func fifo() hookOpt { return func(w *store.Webhook) { w.Ordering = store.OrderingFIFO } }

func rateLimit(n int) hookOpt { return func(w *store.Webhook) { w.RateLimit = n } }

// fifoReceiver records, per webhook path, the event ids in arrival order and
// the most requests it ever had in flight at once.
type fifoReceiver struct {
	*receiver
	mu       sync.Mutex
	inflight map[string]int
	maxIn    map[string]int
	seen     map[string][]string
	fail     func(path, id string, n int) int // status to answer (0: 200)
	tries    map[string]int
	delay    time.Duration
}

func newFIFOReceiver(t *testing.T, delay time.Duration, fail func(path, id string, n int) int) *fifoReceiver {
	f := &fifoReceiver{inflight: map[string]int{}, maxIn: map[string]int{}, seen: map[string][]string{}, tries: map[string]int{}, fail: fail, delay: delay}
	f.receiver = newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		path, id := r.URL.Path, r.Header.Get(signature.HeaderID)
		f.mu.Lock()
		f.inflight[path]++
		f.maxIn[path] = max(f.maxIn[path], f.inflight[path])
		f.tries[path+" "+id]++
		n := f.tries[path+" "+id]
		f.seen[path] = append(f.seen[path], id)
		f.mu.Unlock()
		time.Sleep(f.delay)
		code := 0
		if f.fail != nil {
			code = f.fail(path, id, n)
		}
		f.mu.Lock()
		f.inflight[path]--
		f.mu.Unlock()
		if code != 0 {
			w.WriteHeader(code)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return f
}

// checkOrder checks that path saw want in order: every event, in order, and
// a repeat only of the event just before (a retry or a duplicate of the last
// unacknowledged one).
func (f *fifoReceiver) checkOrder(t *testing.T, path string, want []string) {
	t.Helper()
	f.mu.Lock()
	got := append([]string(nil), f.seen[path]...)
	maxIn := f.maxIn[path]
	f.mu.Unlock()
	if maxIn != 1 {
		t.Errorf("%s: %d requests in flight at once, want 1", path, maxIn)
	}
	var distinct []string
	for i, id := range got {
		if i > 0 && got[i-1] == id {
			continue
		}
		distinct = append(distinct, id)
	}
	if strings.Join(distinct, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: received (repeats folded)\n%v\nwant\n%v", path, distinct, want)
	}
}

// TestFIFODeliversInOrder: a FIFO webhook gets its events one at a time in
// publish order; a failing head is retried while the ones behind it wait,
// and a dead-lettered head lets the queue move on. A replay of the dead
// event goes after what is queued, marked as a replay.
func TestFIFODeliversInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var dead atomic.Value
	dead.Store("")
	rc := newFIFOReceiver(t, time.Millisecond, func(path, id string, n int) int {
		if path == "/fifo" && id == dead.Load().(string) && n <= 3 {
			return 500 // dead-lettered after the 3 attempts of fastSchedule
		}
		if strings.ContainsAny(id[len(id)-1:], "0123") && n == 1 {
			return 503 // some fail once
		}
		return 0
	})
	hook := e.addWebhook(rc.srv.URL+"/fifo", fifo())
	free := e.addWebhook(rc.srv.URL + "/free")
	e.start(baseConfig())
	var want []string
	for i := range 8 {
		var evs []ingest.Event
		for range i%3 + 1 {
			evs = append(evs, ingest.Event{User: "alice"})
		}
		for _, r := range e.publish(evs...) {
			want = append(want, r.EventID)
		}
		if i == 2 {
			dead.Store(want[len(want)-1])
		}
	}
	deadID := dead.Load().(string)
	e.waitStatus(deadID, hook.UUID, store.StatusFailed, 3)
	for _, id := range want {
		if id != deadID {
			e.waitStatus(id, hook.UUID, store.StatusSuccess, 1)
		}
		e.waitStatus(id, free.UUID, store.StatusSuccess, 1)
	}
	rc.checkOrder(t, "/fifo", want)

	// Replay the dead event behind newly queued ones.
	later := e.publish(ingest.Event{User: "alice"}, ingest.Event{User: "alice"})
	if _, err := e.st.ReplayDeliveries(context.Background(), &store.ReplayParams{AccountID: e.acc.ID, EventID: deadID, WebhookUUID: hook.UUID, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	last := e.publish(ingest.Event{User: "alice"})[0].EventID
	e.waitStatus(last, hook.UUID, store.StatusSuccess, 1)
	e.waitStatus(deadID, hook.UUID, store.StatusSuccess, 4)
	rc.checkOrder(t, "/fifo", append(want, later[0].EventID, later[1].EventID, deadID, last))
	replays := 0
	for _, r := range rc.requests() {
		if r.header.Get("X-Webhook-Replay") != "" {
			if r.header.Get(signature.HeaderID) != deadID {
				t.Fatalf("replay header on %s", r.header.Get(signature.HeaderID))
			}
			replays++
		}
	}
	if replays != 1 {
		t.Fatalf("%d requests marked as a replay, want 1", replays)
	}
}

// TestFIFOTwoEngines: two engines (nodes) on one database deliver three
// FIFO webhooks with failures: never two requests to one webhook at once,
// and every event in order.
func TestFIFOTwoEngines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var calls atomic.Int64
	rc := newFIFOReceiver(t, 2*time.Millisecond, func(_, _ string, n int) int {
		if n == 1 && calls.Add(1)%7 == 0 {
			return 500
		}
		return 0
	})
	var hooks []*store.Webhook
	for i := range 3 {
		hooks = append(hooks, e.addWebhook(fmt.Sprintf("%s/q%d", rc.srv.URL, i), fifo()))
	}
	for _, owner := range []string{"node-a", "node-b"} {
		cfg := baseConfig()
		cfg.Owner = owner
		e.start(cfg)
	}
	var want []string
	for range 10 {
		for _, r := range e.publish(ingest.Event{User: "alice"}, ingest.Event{User: "bob"}, ingest.Event{User: "alice"}) {
			want = append(want, r.EventID)
		}
	}
	for _, id := range want {
		for _, h := range hooks {
			e.waitStatus(id, h.UUID, store.StatusSuccess, 1)
		}
	}
	for i := range hooks {
		rc.checkOrder(t, fmt.Sprintf("/q%d", i), want)
	}
}

// TestRateLimitAtReceiver: a rate-limited webhook's attempts reach the
// receiver under its limit, none dropped and none counted as failed, while
// an unthrottled webhook of the same account and one of another account
// are not slowed down.
func TestRateLimitAtReceiver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const rate, n = 20, 30
	var mu sync.Mutex
	var times []time.Time
	throttled := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	})
	fast := newReceiver(t, nil)
	hook := e.addWebhook(throttled.url(), rateLimit(rate))
	freeHook := e.addWebhook(fast.url())
	other, _, err := accounts.Create(context.Background(), e.st, "other", []string{"carol"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherRC := newReceiver(t, nil)
	now := time.Now()
	otherHook := &store.Webhook{UUID: newUUID(), AccountID: other.ID, Name: "o", URL: otherRC.url(), Secret: hook.Secret,
		Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: now, LastModified: now}
	if err := e.st.CreateWebhook(context.Background(), otherHook, nil); err != nil {
		t.Fatal(err)
	}
	e.start(baseConfig())
	start := time.Now()
	var evs []ingest.Event
	for range n {
		evs = append(evs, ingest.Event{User: "alice"})
	}
	res := e.publish(evs...)
	otherRes, err := e.pub.Publish(context.Background(), []ingest.Event{{AccountID: other.ID, Type: "outbound.delivered", User: "carol"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		e.waitStatus(r.EventID, freeHook.UUID, store.StatusSuccess, 1)
	}
	waitFor(t, "the other account's delivery", func() (bool, string) { return otherRC.count() == 1, "" })
	unthrottled := time.Since(start)
	for _, r := range res {
		if rec := e.waitStatus(r.EventID, hook.UUID, store.StatusSuccess, 1); rec.Attempts != 1 {
			t.Fatalf("a throttled delivery took %d attempts, want 1 (waiting is not an attempt)", rec.Attempts)
		}
	}
	_ = otherRes
	mu.Lock()
	defer mu.Unlock()
	if len(times) != n {
		t.Fatalf("receiver got %d requests, want %d", len(times), n)
	}
	// At the receiver: in any window of one second at most rate requests,
	// give or take one for the jitter between claim and arrival.
	for i := range times {
		in := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			in++
		}
		if in > rate+1 {
			var gaps []time.Duration
			for k := 1; k < len(times); k++ {
				gaps = append(gaps, times[k].Sub(times[k-1]).Round(time.Millisecond))
			}
			t.Fatalf("%d requests within one second, limit %d; gaps %v", in, rate, gaps)
		}
	}
	took := times[len(times)-1].Sub(times[0])
	if min := time.Duration(n-1) * time.Second / rate * 9 / 10; took < min {
		t.Fatalf("%d requests at %d/s took %v, want at least %v", n, rate, took, min)
	}
	if unthrottled > took {
		t.Fatalf("the unthrottled webhooks took %v, longer than the throttled one (%v): slowed by it", unthrottled, took)
	}
}

// TestRateLimit429SlowsDown: a 429 with Retry-After from a rate-limited
// receiver stops every attempt to it until then, and the pace halves.
func TestRateLimit429SlowsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	var times []time.Time
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n == 3 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	hook := e.addWebhook(rc.url(), rateLimit(10)) // 100 ms apart; 200 ms slowed
	cfg := baseConfig()
	cfg.Schedule = []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond}
	e.start(cfg)
	var evs []ingest.Event
	for range 8 {
		evs = append(evs, ingest.Event{User: "alice"})
	}
	for _, r := range e.publish(evs...) {
		e.waitStatus(r.EventID, hook.UUID, store.StatusSuccess, 1)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 9 {
		t.Fatalf("%d requests, want 9", len(times))
	}
	// An attempt admitted before the 429 was recorded may still arrive
	// (a pace interval later; a busy node records the 429 later);
	// nothing else before Retry-After.
	k := 3
	for k < len(times) && times[k].Sub(times[2]) < 990*time.Millisecond {
		k++
	}
	if k > 5 || k == len(times) {
		t.Fatalf("%d attempts within the 429's Retry-After: 1", k-3)
	}
	// The pace is kept at claim time; arrival adds the node's scheduling
	// jitter, so the gaps are checked on average.
	if avg := times[len(times)-1].Sub(times[k]) / time.Duration(len(times)-1-k); avg < 190*time.Millisecond {
		t.Fatalf("attempts %v apart on average while slowed down, want 200 ms (unslowed: 100 ms)", avg)
	}
}
