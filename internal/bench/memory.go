package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// MemoryConfig describes a memory run: a backlog of Backlog deliveries is
// written straight into the store with the engine stopped, then the engine
// drains it while RSS is sampled. The claim is that the engine's memory is
// bounded by the work in flight, not by the backlog.
type MemoryConfig struct {
	// Backlog is the number of pending deliveries (default 1,000,000):
	// Backlog/Fanout events, each to Fanout webhooks.
	Backlog int
	Fanout  int
	// PayloadBytes pads every event's data.
	PayloadBytes int
	// ReceiverLatency delays every answer of the receiver.
	ReceiverLatency time.Duration
	// Concurrency is the engine's worker count (and per-webhook cap).
	Concurrency     int
	DeliveryTimeout time.Duration
	// Drain bounds the drain (default 1 h).
	Drain time.Duration
	// RawRequests sizes the physical reference, run after the preload with
	// the engine stopped (0: as many as deliveries, 2,000 to 100,000;
	// negative skips it).
	RawRequests int
	// SampleEvery is the RSS sampling period (default 100 ms).
	SampleEvery time.Duration
	// DB and SQLiteSynchronous: as in Config.
	DB                string
	SQLiteSynchronous string
	CPUProfile        io.Writer
	Progress          io.Writer
	Logger            *slog.Logger
}

// MemoryResult is what a memory run measured. Its JSON is the result line.
type MemoryResult struct {
	Mode       string `json:"mode"`
	Backend    string `json:"backend"`
	Void       bool   `json:"void"`
	VoidReason string `json:"void_reason,omitempty"`

	Backlog    int64 `json:"backlog"`
	Events     int64 `json:"events"`
	Deliveries int64 `json:"deliveries"`

	PreloadS    float64 `json:"preload_s"`
	PreloadPerS float64 `json:"preload_deliveries_per_s"`
	DrainS      float64 `json:"drain_s"`
	// DeliveriesPerS is the drain throughput: backlog delivered / drain time.
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// RawHTTPPerS is the physical reference (as in a throughput run) and
	// Ratio the drain's deliveries/s over it.
	RawHTTPPerS float64 `json:"raw_http_per_s,omitempty"`
	RawRequests int64   `json:"raw_requests,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	// The drain's CPU time per delivery, the reference's per request and
	// their quotient, as in a throughput run (Result.CPUPerDelivery).
	CPUPerDelivery   float64 `json:"cpu_us_per_delivery,omitempty"`
	RawCPUPerRequest float64 `json:"raw_cpu_us_per_request,omitempty"`
	CPURatio         float64 `json:"cpu_ratio,omitempty"`

	// RSS before the engine starts (after a GC that returns the preload's
	// garbage), the peak during the drain (VmHWM reset at the start, or the
	// sampled maximum where the reset is unavailable), and at 10/50/90 % of
	// the backlog delivered.
	RSSStartMB float64 `json:"rss_start_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	PeakMethod string  `json:"peak_rss_method"`
	RSSAt10MB  float64 `json:"rss_at_10pct_mb"`
	RSSAt50MB  float64 `json:"rss_at_50pct_mb"`
	RSSAt90MB  float64 `json:"rss_at_90pct_mb"`
	RSSEndMB   float64 `json:"rss_end_mb"`
	HeapAt10MB float64 `json:"heap_at_10pct_mb"`
	HeapAt50MB float64 `json:"heap_at_50pct_mb"`
	HeapAt90MB float64 `json:"heap_at_90pct_mb"`
	Samples    int     `json:"samples"`
	HarnessMB  float64 `json:"harness_tracking_mb"`
	RSSScope   string  `json:"rss_scope"`
	Lost       int64   `json:"lost"`
	Duplicates int64   `json:"duplicates"`
	Requests   int64   `json:"receiver_requests"`
	EngineCounters
	Ledger
	Fanout          int     `json:"fanout"`
	Concurrency     int     `json:"concurrency"`
	PayloadBytes    int     `json:"payload_bytes"`
	ReceiverLatency float64 `json:"receiver_latency_ms"`
	SQLiteSync      string  `json:"sqlite_synchronous,omitempty"`
	WallS           float64 `json:"wall_s"`
	Machine
	Date string `json:"date"`
}

// sample is one RSS sample of a memory run.
type sample struct {
	At        time.Duration
	RSS, Heap int64
	Delivered int64
}

// RunMemory performs a memory run. A void run returns its result with an
// error wrapping ErrVoid.
func RunMemory(ctx context.Context, cfg MemoryConfig) (*MemoryResult, error) {
	if cfg.Backlog == 0 {
		cfg.Backlog = 1_000_000
	}
	if cfg.Fanout == 0 {
		cfg.Fanout = 1
	}
	if cfg.Backlog < 1 || cfg.Fanout < 1 || cfg.Fanout > 1000 || cfg.PayloadBytes < 0 {
		return nil, &ConfigError{fmt.Errorf("backlog must be positive and fanout between 1 and 1000")}
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 64
	}
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = 10 * time.Second
	}
	if cfg.Drain == 0 {
		cfg.Drain = time.Hour
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = 100 * time.Millisecond
	}
	if cfg.SQLiteSynchronous == "" {
		cfg.SQLiteSynchronous = "FULL"
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(cfg.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	wallStart := time.Now()
	events := int64((cfg.Backlog + cfg.Fanout - 1) / cfg.Fanout)
	runID := newRunID()
	tab := newTable(cfg.Fanout)
	tab.grow(events)
	rcv := newReceiver(runID, tab, cfg.ReceiverLatency, 0)
	if err := rcv.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	defer rcv.Close()

	sys := &system{}
	defer sys.close()
	st, backend, err := openBackend(ctx, cfg.DB, cfg.SQLiteSynchronous, sys)
	if err != nil {
		return nil, err
	}
	tcfg := Config{Concurrency: cfg.Concurrency, DeliveryTimeout: cfg.DeliveryTimeout, Logger: cfg.Logger}
	srv, _, err := newServer(ctx, &tcfg, st)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	res := &MemoryResult{Mode: "memory", Backend: backend, Backlog: events * int64(cfg.Fanout), Events: events,
		Fanout: cfg.Fanout, Concurrency: cfg.Concurrency, PayloadBytes: cfg.PayloadBytes, ReceiverLatency: ms(cfg.ReceiverLatency),
		Machine: ThisMachine(), Date: time.Now().UTC().Format(time.RFC3339),
		RSSScope:  "in-process: server + receiver + the harness's tracking table (harness_tracking_mb)",
		HarnessMB: mb(events * (8 + 1 + 8*int64(cfg.Fanout)))}
	if backend == "sqlite" {
		res.SQLiteSync = strings.ToUpper(cfg.SQLiteSynchronous)
	}

	// Webhooks and the backlog, straight through the store.
	s := srv.Store()
	account := srv.Bootstrap.AccountID
	base := "http://" + rcv.Addr()
	for k := range cfg.Fanout {
		secret, err := signature.NewSecret()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		w := &store.Webhook{UUID: newUUID(), AccountID: account, Name: fmt.Sprintf("bench %d", k),
			URL: fmt.Sprintf("%s/h/%d", base, k), Secret: secret, Events: []string{"outbound.delivered"},
			Enabled: true, CreatedAt: now, LastModified: now}
		if err := s.CreateWebhook(ctx, w, nil); err != nil {
			return nil, fmt.Errorf("create webhook: %w", err)
		}
	}
	fmt.Fprintf(cfg.Progress, "preloading %d deliveries (%d events × %d webhooks) into %s, engine stopped\n", res.Backlog, events, cfg.Fanout, backend)
	pub := &ingest.Publisher{Store: s}
	preStart := time.Now()
	lastReport := preStart
	const chunk = 1000
	batch := make([]*store.Event, 0, chunk)
	for first := int64(0); first < events; first += chunk {
		batch = batch[:0]
		t0 := time.Now().UnixNano()
		for seq := first; seq < min(first+chunk, events); seq++ {
			tab.setT0(seq, t0)
			e, err := pub.Prepare(ctx, ingest.Event{ID: fmt.Sprintf("evt_b%s_%d", runID, seq), AccountID: account,
				Type: "outbound.delivered", User: "api-user", RawData: json.RawMessage(eventData(runID, seq, t0, cfg.PayloadBytes))})
			if err != nil {
				return nil, err
			}
			batch = append(batch, e)
		}
		rs, err := s.PublishEvents(ctx, batch, time.Now())
		if err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
		for i, r := range rs {
			if r.Deliveries != cfg.Fanout || r.Duplicate {
				res.Ledger.ShortFanout++
			}
			res.Ledger.Published += int64(r.Deliveries)
			tab.ack(first + int64(i))
		}
		if time.Since(lastReport) > 5*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(cfg.Progress, "  preloaded %d of %d events\n", first+chunk, events)
		}
	}
	preload := time.Since(preStart)
	res.PreloadS = round(preload.Seconds(), 2)
	res.PreloadPerS = round(float64(res.Ledger.Published)/preload.Seconds(), 1)

	// The physical reference, with the engine stopped and the database idle:
	// the same receiver and client type, deliveries' body size, the engine's
	// concurrency.
	if cfg.RawRequests >= 0 && len(batch) > 0 {
		runtime.GC() // not the preload's garbage: the drain starts clean too
		n := cfg.RawRequests
		if n == 0 {
			n = int(min(max(res.Backlog, 2000), 100000))
		}
		fmt.Fprintf(cfg.Progress, "physical reference: %d loopback POSTs of %d bytes, %d at a time\n", n, len(batch[0].Body), cfg.Concurrency)
		cpu0 := cpuTime()
		perS, err := rawReference(ctx, base+"/raw", batch[0].Body, n, cfg.Concurrency, cfg.DeliveryTimeout)
		if err != nil {
			return nil, fmt.Errorf("physical reference: %w", err)
		}
		res.RawHTTPPerS, res.RawRequests = round(perS, 1), int64(n)
		res.RawCPUPerRequest = cpuMicrosPer(cpu0, cpuTime(), int64(n))
	}

	// A clean baseline: return the preload's garbage, restart the peak.
	runtime.GC()
	debug.FreeOSMemory()
	res.PeakMethod = "VmHWM reset at drain start"
	if !resetPeakRSS() {
		res.PeakMethod = "sampled VmRSS maximum (VmHWM reset unavailable)"
	}
	res.RSSStartMB = mb(RSS())

	fmt.Fprintf(cfg.Progress, "draining with %d workers; sampling RSS every %s\n", cfg.Concurrency, cfg.SampleEvery)
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	engCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	engDone := make(chan error, 1)
	drainStart, cpu0 := time.Now(), cpuTime()
	go func() { engDone <- srv.RunBackground(engCtx) }()

	want := res.Ledger.Published
	var samples []sample
	tick := time.NewTicker(cfg.SampleEvery)
	deadline := drainStart.Add(cfg.Drain)
	var lastCount int64 = -1
	lastChange := time.Now()
	var lastProgress time.Time
	var drained time.Duration
	for {
		got := rcv.distinct.Load() + rcv.unexpected.Load()
		samples = append(samples, sample{At: time.Since(drainStart), RSS: RSS(), Heap: heapBytes(), Delivered: got})
		if got >= want {
			drained = time.Duration(rcv.lastNS.Load() - drainStart.UnixNano())
			break
		}
		if got != lastCount {
			lastCount, lastChange = got, time.Now()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if time.Since(lastChange) > 2*time.Second && sysIdle(ctx, s) {
			break
		}
		if time.Since(lastProgress) > 5*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(cfg.Progress, "  delivered %d of %d, RSS %.1f MB\n", got, want, mb(RSS()))
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	tick.Stop()
	cpu1 := cpuTime()
	if drained <= 0 {
		drained = time.Since(drainStart)
	}
	stopEngine()
	<-engDone
	res.EngineCounters = scrapeEngine(srv.MetricsHandler())
	res.Requests = rcv.requests.Load() - rcv.raw.Load()
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}

	res.Samples = len(samples)
	var peak int64
	for _, sm := range samples {
		peak = max(peak, sm.RSS)
	}
	if res.PeakMethod == "VmHWM reset at drain start" {
		peak = max(peak, PeakRSS())
	}
	res.PeakRSSMB = mb(peak)
	res.RSSEndMB = mb(samples[len(samples)-1].RSS)
	at := func(frac float64) (float64, float64) {
		for _, sm := range samples {
			if float64(sm.Delivered) >= frac*float64(want) {
				return mb(sm.RSS), mb(sm.Heap)
			}
		}
		return -1, -1
	}
	res.RSSAt10MB, res.HeapAt10MB = at(0.10)
	res.RSSAt50MB, res.HeapAt50MB = at(0.50)
	res.RSSAt90MB, res.HeapAt90MB = at(0.90)
	res.DrainS = round(drained.Seconds(), 2)

	// The ledger, as in a throughput run.
	var stray int64
	for seq := range events {
		acked := tab.acked(seq)
		for k := range cfg.Fanout {
			a := tab.arrival(seq, k)
			switch {
			case !acked && a != 0:
				stray++
			case acked && a == 0:
				res.Ledger.Missing++
			}
		}
	}
	res.Ledger.Delivered = rcv.distinct.Load() - stray
	res.Ledger.Duplicates = rcv.duplicates.Load()
	res.Ledger.Unexpected = rcv.unexpected.Load() + stray
	res.Deliveries, res.Lost, res.Duplicates = res.Ledger.Delivered, res.Ledger.Missing, res.Ledger.Duplicates
	if drained > 0 {
		res.DeliveriesPerS = round(float64(res.Ledger.Delivered)/drained.Seconds(), 1)
		if res.RawHTTPPerS > 0 {
			res.Ratio = round(res.DeliveriesPerS/res.RawHTTPPerS, 3)
		}
	}
	res.CPUPerDelivery = cpuMicrosPer(cpu0, cpu1, res.Ledger.Delivered)
	res.CPURatio = cpuRatio(res.RawCPUPerRequest, res.CPUPerDelivery)
	res.WallS = round(time.Since(wallStart).Seconds(), 2)
	verr := res.Ledger.Check()
	if verr == nil && ctx.Err() != nil {
		verr = &VoidError{"the run was interrupted or timed out: " + context.Cause(ctx).Error()}
	}
	if verr != nil {
		res.Void, res.VoidReason = true, strings.TrimPrefix(verr.Error(), "run is VOID: ")
		return res, verr
	}
	return res, nil
}

func sysIdle(ctx context.Context, s store.Store) bool {
	qs, err := s.QueueStats(ctx, time.Now())
	return err == nil && qs.Due == 0 && qs.Scheduled == 0
}

// heapBytes is the Go heap occupied by objects (live and not yet swept).
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int64(s[0].Value.Uint64())
}

func newUUID() string {
	var b [16]byte
	_, _ = randRead(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&15])
	}
	return string(out)
}
