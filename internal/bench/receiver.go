package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// chunkBits sizes the table's chunks (4096 events each).
const chunkBits = 12

// table holds, per event, its scheduled send time and whether the ingest
// acknowledged it, and per event × webhook the first arrival. It grows in
// chunks as the generator publishes, so a --duration run at full speed needs
// no size up front; the receiver reads it without locks. Times are unix
// nanoseconds, 0 meaning "not yet".
type table struct {
	fanout int
	mu     sync.Mutex // serialises growth
	dir    atomic.Pointer[[]*chunk]
}

type chunk struct {
	t0      [1 << chunkBits]atomic.Int64
	acked   [1 << chunkBits]atomic.Bool
	arrival []atomic.Int64 // (1<<chunkBits) * fanout
}

func newTable(fanout int) *table {
	t := &table{fanout: fanout}
	t.dir.Store(&[]*chunk{})
	return t
}

// grow makes sure events [0, n) have room.
func (t *table) grow(n int64) {
	need := int((n + (1 << chunkBits) - 1) >> chunkBits)
	if len(*t.dir.Load()) >= need {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.dir.Load()
	if len(old) >= need {
		return
	}
	dir := make([]*chunk, need)
	copy(dir, old)
	for i := len(old); i < need; i++ {
		dir[i] = &chunk{arrival: make([]atomic.Int64, (1<<chunkBits)*t.fanout)}
	}
	t.dir.Store(&dir)
}

// capacity is the number of events there is room for.
func (t *table) capacity() int64 { return int64(len(*t.dir.Load())) << chunkBits }

func (t *table) chunk(seq int64) (*chunk, int) {
	if seq < 0 {
		return nil, 0
	}
	dir := *t.dir.Load()
	c := seq >> chunkBits
	if c >= int64(len(dir)) {
		return nil, 0
	}
	return dir[c], int(seq & (1<<chunkBits - 1))
}

func (t *table) setT0(seq, t0 int64) {
	if c, i := t.chunk(seq); c != nil {
		c.t0[i].Store(t0)
	}
}

func (t *table) t0(seq int64) int64 {
	if c, i := t.chunk(seq); c != nil {
		return c.t0[i].Load()
	}
	return 0
}

func (t *table) ack(seq int64) {
	if c, i := t.chunk(seq); c != nil {
		c.acked[i].Store(true)
	}
}

func (t *table) acked(seq int64) bool {
	if c, i := t.chunk(seq); c != nil {
		return c.acked[i].Load()
	}
	return false
}

// arrive records the first arrival of (seq, hook) at ns; it reports false
// for a repeat, and ok=false when the pair is outside the table.
func (t *table) arrive(seq int64, hook int, ns int64) (first, ok bool) {
	if hook < 0 || hook >= t.fanout {
		return false, false
	}
	c, i := t.chunk(seq)
	if c == nil {
		return false, false
	}
	return c.arrival[i*t.fanout+hook].CompareAndSwap(0, ns), true
}

func (t *table) arrival(seq int64, hook int) int64 {
	if c, i := t.chunk(seq); c != nil {
		return c.arrival[i*t.fanout+hook].Load()
	}
	return 0
}

// envelope is the part of a delivery the receiver reads.
type envelope struct {
	ID   string `json:"id"`
	Data struct {
		Run string `json:"bench_run"`
		Seq int64  `json:"seq"`
		T0  int64  `json:"t0"`
	} `json:"data"`
}

// receiver is the webhook endpoint of a run: an HTTP server that parses each
// delivery's envelope, answers after Latency, fails a fraction ErrorRate of
// requests with 500, and records the first 2xx arrival of every event ×
// webhook. Webhook k is the path /h/k; /raw is the physical reference path
// (same parsing and latency, no errors, nothing recorded but a count).
type receiver struct {
	Latency   time.Duration
	ErrorRate float64

	run string
	tab *table
	srv *http.Server
	ln  net.Listener

	distinct   atomic.Int64 // first arrivals of known pairs
	duplicates atomic.Int64
	unexpected atomic.Int64 // arrivals of this run that match no known pair
	foreign    atomic.Int64 // deliveries of other runs or other events (target mode)
	failed     atomic.Int64 // answered 500 on purpose
	requests   atomic.Int64
	raw        atomic.Int64
	lastNS     atomic.Int64 // latest first arrival
	// window, in a soak run, collects first arrivals' latencies.
	window *window
	// attempts, in a rate-limited run, times every request of the run per
	// webhook (retries and duplicates too: the limit counts attempts).
	attempts *attemptLog

	bufs sync.Pool
}

func newReceiver(run string, tab *table, latency time.Duration, errorRate float64) *receiver {
	r := &receiver{Latency: latency, ErrorRate: errorRate, run: run, tab: tab}
	r.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return r
}

// Start listens on addr (host:port; port 0 picks one) and serves.
func (r *receiver) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	r.ln = ln
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() { _ = r.srv.Serve(ln) }()
	return nil
}

// Addr is the listening address.
func (r *receiver) Addr() string { return r.ln.Addr().String() }

// Close stops the server.
func (r *receiver) Close() error {
	if r.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = r.srv.Close()
	}
	return err
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now().UnixNano()
	r.requests.Add(1)
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	body, err := readAll(req.Body, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var env envelope
	parseErr := json.Unmarshal(body, &env)
	if r.Latency > 0 {
		time.Sleep(r.Latency)
	}
	if req.URL.Path == "/raw" {
		r.raw.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	if parseErr != nil || env.Data.Run != r.run {
		// Someone else's delivery (another event of the account, in target
		// mode): accept it so the service does not retry it at us.
		r.foreign.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	hook := -1
	if rest, ok := strings.CutPrefix(req.URL.Path, "/h/"); ok {
		if k, err := strconv.Atoi(rest); err == nil {
			hook = k
		}
	}
	if r.attempts != nil {
		r.attempts.add(hook, now)
	}
	if r.ErrorRate > 0 && rand.Float64() < r.ErrorRate {
		r.failed.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	first, ok := r.tab.arrive(env.Data.Seq, hook, now)
	switch {
	case !ok || !r.tab.acked(env.Data.Seq) && r.tab.t0(env.Data.Seq) == 0:
		r.unexpected.Add(1)
	case first:
		r.distinct.Add(1)
		if r.window != nil {
			r.window.add(time.Duration(now - env.Data.T0))
		}
		for {
			last := r.lastNS.Load()
			if now <= last || r.lastNS.CompareAndSwap(last, now) {
				break
			}
		}
	default:
		r.duplicates.Add(1)
	}
	w.WriteHeader(http.StatusOK)
}

// readAll reads r into buf, growing it as needed (bounded at 16 MiB).
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= 16<<20 {
				return buf, errors.New("body too large")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
