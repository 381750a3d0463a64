// Package bench is jetwebhooks' load-test harness, behind `jetwebhooks
// bench`: a receiver, an open-loop load generator that ingests over real
// HTTP, and an exact ledger, run against an in-process server (SQLite in a
// temp dir, or a fresh PostgreSQL database) or an existing deployment.
//
// The method is Outpost's (see its loadtest/README.md):
//
//   - Every event carries its sequence number and its scheduled send time t0
//     = start + i/rate in its data. Latency is measured from t0 to the first
//     2xx arrival at the receiver, so a generator that falls behind shows up
//     in the numbers instead of hiding them (no coordinated omission; the
//     same idea as wrk2).
//   - The ledger is exact and kept in process: published = delivered +
//     missing, each term counted independently. If it does not balance, or
//     the ingest failed, the run is VOID and its numbers must not be quoted.
//   - The same run measures a physical reference: the same receiver and the
//     same HTTP client type (the egress client, loopback allowed, the same
//     concurrency) POSTing bodies of the same size with no service in
//     between. ratio = deliveries_per_s / raw_http_per_s says how much of the
//     machine's loopback HTTP capacity the service turns into deliveries.
//
// Keep the engine's concurrency within Little's law: rate × fan-out ×
// receiver latency ≤ 0.8 × concurrency, or queues grow without bound.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// Config describes a run. Zero values take the documented defaults.
type Config struct {
	// Events is the number of events to publish (default 10000 when Duration
	// is zero).
	Events int
	// Duration publishes for this long instead of a fixed count: Rate ×
	// Duration events, or as many as possible at Rate 0.
	Duration time.Duration
	// Rate is the offered load in events per second, open-loop; 0 publishes
	// as fast as the ingest accepts (closed-loop, t0 = the send time).
	Rate float64
	// Batch is the number of events per ingest request (default 100; 1
	// uses POST /events, more POST /events/batch; at most 1000).
	Batch int
	// Senders is the number of ingest requests in flight at most (default
	// 4 at Rate 0, else 32).
	Senders int
	// Fanout is the number of webhooks every event goes to (default 1).
	Fanout int
	// FIFO makes the run's webhooks ordered (ordering fifo): each gets its
	// deliveries one at a time, in order.
	FIFO bool
	// RateLimit, when positive, creates the run's webhooks with that
	// rate_limit (delivery attempts per second per webhook, 1 to 1000); the
	// receiver then times every attempt per webhook and the result reports
	// the rates it observed (Result.RateObserved).
	RateLimit int
	// PayloadBytes pads every event's data with this many bytes.
	PayloadBytes int
	// ReceiverLatency delays every answer of the receiver; ErrorRate is the
	// fraction of deliveries it answers with 500.
	ReceiverLatency time.Duration
	ErrorRate       float64
	// Warmup excludes the first events from latency and throughput (they
	// stay in the ledger). Default: 5% of Events, or 1 s with Duration.
	Warmup Warmup
	// Concurrency is the engine's worker count; the per-webhook cap is set
	// to the same, so it never binds (default 64).
	Concurrency int
	// RetrySchedule and DeliveryTimeout configure the in-process engine
	// (defaults: the service's).
	RetrySchedule   []time.Duration
	DeliveryTimeout time.Duration
	// Drain bounds the wait for deliveries after the last publish (default
	// 60 s); the run ends earlier once everything has arrived.
	Drain time.Duration
	// DB selects the in-process backend: "" a SQLite file in a temp dir, a
	// path a new SQLite file (it must not exist; removed afterwards), a
	// postgres:// URL a server on which a fresh database is created and
	// dropped afterwards.
	DB string
	// SQLiteSynchronous is SQLite's synchronous pragma (default FULL, the
	// service's default).
	SQLiteSynchronous string
	// Target, when set, benchmarks an existing deployment instead.
	Target *Target
	// RawRequests is the size of the physical reference (default: as many
	// as the run's deliveries, between 2000 and 100000; negative skips it).
	RawRequests int
	// CPUProfile, if set, receives a CPU profile of the publish and drain
	// phases.
	CPUProfile io.Writer
	// Soak, when set, makes this a soak run: Rate (required) for this long,
	// with a report every ReportEvery (default 1 min) written to SoakOut
	// (default Progress) and kept in Result.Soak. Events and Duration must
	// be zero; the physical reference is skipped unless RawRequests asks.
	Soak        time.Duration
	ReportEvery time.Duration
	SoakOut     io.Writer
	// MetricsURL is where a soak reads the service's size and memory
	// (default: the in-process server's /metrics, or the target's).
	MetricsURL string
	// Retention and PurgeInterval configure the in-process server's
	// retention purge (defaults: the service's, 30 days and 1 min).
	Retention     time.Duration
	PurgeInterval time.Duration
	// Progress receives progress lines (default: discarded).
	Progress io.Writer
	// Logger receives the in-process server's logs (default: warnings and
	// errors to Progress).
	Logger *slog.Logger
}

// Target is an existing deployment to benchmark.
type Target struct {
	URL         string
	APIKey      string
	IngestToken string
	AccountID   string
	// ReceiverListen is the receiver's listen address (default
	// 127.0.0.1:0); ReceiverURL the base URL the deployment reaches it at
	// (default http://<listen address>). The deployment's egress policy must
	// allow it.
	ReceiverListen string
	ReceiverURL    string
}

// Warmup is the excluded head of a run: the first Events events, or the
// events scheduled within Duration of the start, or a Fraction of Events.
// Set at most one; all zero takes the default, and None excludes nothing.
type Warmup struct {
	Events   int
	Fraction float64
	Duration time.Duration
	None     bool
}

// ParseWarmup reads "500" (events), "5%" (of the events), "1s" (of the
// schedule) or "0" (none).
func ParseWarmup(s string) (Warmup, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Warmup{}, nil
	case s == "0":
		return Warmup{None: true}, nil
	case strings.HasSuffix(s, "%"):
		var f float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(s, "%"), "%g", &f); err != nil || f < 0 || f >= 100 {
			return Warmup{}, fmt.Errorf("%q is not a percentage in [0, 100)", s)
		}
		return Warmup{Fraction: f / 100, None: f == 0}, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n < 0 {
			return Warmup{}, fmt.Errorf("%q is negative", s)
		}
		return Warmup{Events: n, None: n == 0}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return Warmup{}, fmt.Errorf("%q is not a count (500), a percentage (5%%) or a duration (1s)", s)
	}
	return Warmup{Duration: d, None: d == 0}, nil
}

func (w Warmup) String() string {
	switch {
	case w.None:
		return "none"
	case w.Events > 0:
		return fmt.Sprintf("%d events", w.Events)
	case w.Fraction > 0:
		return fmt.Sprintf("%g%%", w.Fraction*100)
	case w.Duration > 0:
		return w.Duration.String()
	}
	return "default"
}

// Result is what a run measured. Its JSON is the result line.
type Result struct {
	Mode    string `json:"mode"`
	Backend string `json:"backend"`
	Void    bool   `json:"void"`
	// VoidReason says why the run is void (empty otherwise).
	VoidReason string `json:"void_reason,omitempty"`

	Events     int64 `json:"events"`
	Deliveries int64 `json:"deliveries"`
	Measured   int64 `json:"measured_deliveries"`
	Warmup     int64 `json:"warmup_events"`

	DeliveriesPerS float64 `json:"deliveries_per_s"`
	RawHTTPPerS    float64 `json:"raw_http_per_s"`
	RawRequests    int64   `json:"raw_requests"`
	Ratio          float64 `json:"ratio"`
	// CPUPerDelivery is the process's CPU time (user + system) from the first
	// publish to the end of the drain, per delivery: in process that is the
	// service, the load generator and the receiver together. RawCPUPerRequest
	// is the same for the physical reference (client and receiver), and
	// CPURatio the quotient: unlike the throughput ratio it does not depend
	// on how busy the machine's other tenants keep the CPUs. Not measured
	// against a target (the service's CPU is elsewhere).
	CPUPerDelivery   float64 `json:"cpu_us_per_delivery,omitempty"`
	RawCPUPerRequest float64 `json:"raw_cpu_us_per_request,omitempty"`
	CPURatio         float64 `json:"cpu_ratio,omitempty"`
	IngestPerS       float64 `json:"ingest_events_per_s"`
	// GeneratorLagMax is the longest an ingest request left after its
	// scheduled time: large values mean the generator (or the ingest) fell
	// behind the offered rate.
	GeneratorLagMax float64 `json:"generator_lag_max_ms"`
	// BatchWaitMean and BatchWaitMax are how long an event waits, at a fixed
	// rate, for the rest of its batch to be scheduled: part of its latency
	// by design (a producer batching events pays it too). --batch 1 removes it.
	BatchWaitMean float64 `json:"batch_wait_mean_ms"`
	BatchWaitMax  float64 `json:"batch_wait_max_ms"`

	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`

	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	// Ledger's terms are flattened into the line (published, delivered, …).
	Ledger
	Attempts int64 `json:"receiver_requests"`
	Failed   int64 `json:"receiver_500s"`
	Foreign  int64 `json:"foreign_deliveries"`

	PeakRSSMB float64 `json:"peak_rss_mb"`
	RSSScope  string  `json:"rss_scope"`
	// EngineCounters are zero against a target.
	EngineCounters

	Rate            float64 `json:"rate"`
	Fanout          int     `json:"fanout"`
	FIFO            bool    `json:"fifo,omitempty"`
	Batch           int     `json:"batch"`
	Senders         int     `json:"senders"`
	Concurrency     int     `json:"concurrency"`
	PayloadBytes    int     `json:"payload_bytes"`
	BodyBytes       int     `json:"body_bytes"`
	ReceiverLatency float64 `json:"receiver_latency_ms"`
	ErrorRate       float64 `json:"error_rate"`
	RetrySchedule   string  `json:"retry_schedule"`
	SQLiteSync      string  `json:"sqlite_synchronous,omitempty"`
	WarmupSpec      string  `json:"warmup"`
	WallS           float64 `json:"wall_s"`

	// DBBytesStart and DBBytesEnd are the database's size (from the
	// service's /metrics) before the first publish and after the drain, and
	// DBBytesPerEvent their difference per published event: what a delivered
	// event costs on disk. Absent when the size could not be read.
	DBBytesStart    int64   `json:"db_bytes_start,omitempty"`
	DBBytesEnd      int64   `json:"db_bytes_end,omitempty"`
	DBBytesPerEvent float64 `json:"db_bytes_per_event,omitempty"`
	// Soak holds a soak run's interval reports.
	Soak []SoakReport `json:"soak,omitempty"`

	// RateLimit is the webhooks' rate_limit (0: none). With one, the
	// receiver's observed rates follow: the highest per-webhook count of
	// attempts in any one-second window, and the mean of the webhooks' mean
	// rates; RateObserved has each webhook's figures.
	RateLimit    int        `json:"rate_limit,omitempty"`
	RateMaxPerS  int        `json:"rate_max_per_s,omitempty"`
	RateMeanPerS float64    `json:"rate_mean_per_s,omitempty"`
	RateObserved []HookRate `json:"rate_observed,omitempty"`

	Machine
	Date string `json:"date"`
}

func (c *Config) defaults() error {
	if c.Events < 0 || c.Duration < 0 {
		return errors.New("events and duration must not be negative")
	}
	if c.Soak < 0 || c.ReportEvery < 0 {
		return errors.New("soak and report interval must not be negative")
	}
	if c.Soak > 0 {
		if c.Events > 0 || c.Duration > 0 {
			return errors.New("a soak run lasts its soak duration: give no events or duration")
		}
		if c.Rate <= 0 {
			return errors.New("a soak run needs a fixed rate (rate > 0)")
		}
		c.Duration = c.Soak
		if c.ReportEvery == 0 {
			c.ReportEvery = time.Minute
		}
		if c.RawRequests == 0 {
			c.RawRequests = -1
		}
	}
	if c.Events == 0 && c.Duration == 0 {
		c.Events = 10000
	}
	if c.Events > 0 && c.Duration > 0 {
		return errors.New("give either events or a duration, not both")
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return errors.New("rate must be a finite number >= 0")
	}
	if c.Batch == 0 {
		c.Batch = 100
	}
	if c.Batch < 1 || c.Batch > 1000 {
		return errors.New("batch must be between 1 and 1000")
	}
	if c.Senders <= 0 {
		c.Senders = 32
		if c.Rate == 0 {
			c.Senders = 4
		}
	}
	if c.Fanout == 0 {
		c.Fanout = 1
	}
	if c.Fanout < 1 || c.Fanout > 1000 {
		return errors.New("fanout must be between 1 and 1000")
	}
	if c.RateLimit < 0 || c.RateLimit > 1000 {
		return errors.New("rate limit must be between 1 and 1000 deliveries per second (0: none)")
	}
	if c.PayloadBytes < 0 || c.PayloadBytes > 1<<20 {
		return errors.New("payload bytes must be between 0 and 1 MiB")
	}
	if c.ErrorRate < 0 || c.ErrorRate >= 1 {
		return errors.New("error rate must be in [0, 1)")
	}
	if c.ReceiverLatency < 0 {
		return errors.New("receiver latency must not be negative")
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Concurrency < 1 {
		return errors.New("concurrency must be positive")
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = 10 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = time.Minute
	}
	if c.SQLiteSynchronous == "" {
		c.SQLiteSynchronous = "FULL"
	}
	if c.Duration > 0 && c.Rate > 0 && c.Rate*c.Duration.Seconds() < 1 {
		return errors.New("rate × duration is less than one event")
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(c.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if t := c.Target; t != nil {
		if t.URL == "" || t.APIKey == "" || t.IngestToken == "" || t.AccountID == "" {
			return errors.New("a target needs its URL, an API key, the ingest token and the account id")
		}
		if t.ReceiverListen == "" {
			t.ReceiverListen = "127.0.0.1:0"
		}
	}
	return nil
}

// plannedEvents is the number of events the run will publish, or -1 when it
// publishes until the duration ends.
func (c *Config) plannedEvents() int64 {
	if c.Events > 0 {
		return int64(c.Events)
	}
	if c.Rate > 0 {
		return int64(math.Ceil(c.Rate * c.Duration.Seconds()))
	}
	return -1
}

// warmupCut returns the first measured sequence number and the scheduled
// time before which events are warm-up.
func (c *Config) warmupCut(published int64) (firstSeq int64, before time.Duration) {
	w := c.Warmup
	switch {
	case w.None:
		return 0, 0
	case w.Events > 0:
		return int64(w.Events), 0
	case w.Fraction > 0:
		return int64(math.Ceil(w.Fraction * float64(published))), 0
	case w.Duration > 0:
		return 0, w.Duration
	case c.Events > 0:
		return int64(math.Ceil(0.05 * float64(published))), 0
	}
	return 0, time.Second
}

// ConfigError reports an invalid Config or MemoryConfig.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run performs one throughput/latency run and returns its result. A run
// that is void still returns its result, with an error wrapping ErrVoid;
// other errors mean the run could not be set up (*ConfigError: cfg is
// invalid).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, &ConfigError{err}
	}
	wallStart := time.Now()
	runID := newRunID()
	tab := newTable(cfg.Fanout)
	if n := cfg.plannedEvents(); n > 0 {
		tab.grow(n)
	}
	rcv := newReceiver(runID, tab, cfg.ReceiverLatency, cfg.ErrorRate)
	if cfg.Soak > 0 {
		rcv.window = &window{}
	}
	if cfg.RateLimit > 0 {
		rcv.attempts = newAttemptLog(cfg.Fanout)
	}
	listen := "127.0.0.1:0"
	if cfg.Target != nil {
		listen = cfg.Target.ReceiverListen
	}
	if err := rcv.Start(listen); err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	defer rcv.Close()
	rcvBase := "http://" + rcv.Addr()
	if cfg.Target != nil && cfg.Target.ReceiverURL != "" {
		rcvBase = strings.TrimSuffix(cfg.Target.ReceiverURL, "/")
	}

	mode := "throughput"
	if cfg.Soak > 0 {
		mode = "soak"
	}
	res := &Result{
		Mode: mode, Rate: cfg.Rate, Fanout: cfg.Fanout, Batch: cfg.Batch, Senders: cfg.Senders,
		Concurrency: cfg.Concurrency, PayloadBytes: cfg.PayloadBytes, ReceiverLatency: ms(cfg.ReceiverLatency),
		ErrorRate: cfg.ErrorRate, RetrySchedule: scheduleString(cfg.RetrySchedule), WarmupSpec: cfg.Warmup.String(),
		Machine: ThisMachine(), Date: time.Now().UTC().Format(time.RFC3339),
		RSSScope: "in-process: server + load generator + receiver",
	}
	body := sampleBody(runID, cfg.PayloadBytes)
	res.BodyBytes = len(body)

	// The physical reference first, on a quiet process.
	if cfg.RawRequests >= 0 {
		n := cfg.RawRequests
		if n == 0 {
			n = int(min(max(cfg.plannedEvents()*int64(cfg.Fanout), 2000), 100000))
		}
		fmt.Fprintf(cfg.Progress, "physical reference: %d loopback POSTs of %d bytes, %d at a time\n", n, len(body), cfg.Concurrency)
		cpu0 := cpuTime()
		perS, err := rawReference(ctx, rcvBase+"/raw", body, n, cfg.Concurrency, cfg.DeliveryTimeout)
		if err != nil {
			return nil, fmt.Errorf("physical reference: %w", err)
		}
		res.RawHTTPPerS, res.RawRequests = round(perS, 1), int64(n)
		res.RawCPUPerRequest = cpuMicrosPer(cpu0, cpuTime(), int64(n))
	}

	var sys *system
	var err error
	if cfg.Target != nil {
		sys, err = openTarget(ctx, cfg.Target)
		res.Backend, res.RSSScope = "target", "bench process only (load generator + receiver), not the target"
	} else {
		sys, err = openLocal(ctx, &cfg)
		if err == nil {
			res.Backend = sys.backend
			if sys.backend == "sqlite" {
				res.SQLiteSync = strings.ToUpper(cfg.SQLiteSynchronous)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer sys.close()
	sys.fifo, res.FIFO = cfg.FIFO, cfg.FIFO
	sys.rateLimit, res.RateLimit = cfg.RateLimit, cfg.RateLimit
	hooks, err := sys.createWebhooks(ctx, rcvBase, cfg.Fanout)
	if err != nil {
		return nil, err
	}
	defer sys.deleteWebhooks(hooks)

	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	gen := &generator{cfg: &cfg, tab: tab, runID: runID, c: sys.client, account: sys.accountID}
	cpu0 := cpuTime()
	fmt.Fprintf(cfg.Progress, "publishing %s at %s, %d per request, to %d webhook(s)\n", describeCount(&cfg), describeRate(cfg.Rate), cfg.Batch, cfg.Fanout)
	metricsURL := cfg.MetricsURL
	if metricsURL == "" {
		metricsURL = sys.metricsURL
	}
	scrapeClient := &http.Client{Timeout: 10 * time.Second}
	dbStart, _ := scrapeSizes(scrapeClient, metricsURL)
	var soak *soakReporter
	if cfg.Soak > 0 {
		out := cfg.SoakOut
		if out == nil {
			out = cfg.Progress
		}
		// gen.run sets its start 20 ms ahead; the reporter's clock starts
		// with it closely enough for minute-long intervals.
		soak = startSoakReporter(cfg.ReportEvery, metricsURL, rcv.window, out, time.Now().Add(20*time.Millisecond))
	}
	gen.run(ctx)
	published := gen.acked.Load()
	fmt.Fprintf(cfg.Progress, "published %d events (%d failed requests); draining\n", published, gen.failed.Load())
	if gen.failed.Load() == 0 && ctx.Err() == nil {
		drain(ctx, &cfg, rcv, sys, gen.deliveries.Load())
	}
	if soak != nil {
		res.Soak = soak.finish()
	}
	if dbEnd, _ := scrapeSizes(scrapeClient, metricsURL); dbStart >= 0 && dbEnd >= 0 {
		res.DBBytesStart, res.DBBytesEnd = dbStart, dbEnd
		if n := gen.acked.Load(); n > 0 {
			res.DBBytesPerEvent = round(float64(dbEnd-dbStart)/float64(n), 1)
		}
	}
	cpu1 := cpuTime()
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	res.PeakRSSMB = mb(PeakRSS())
	if sys.counters != nil {
		// The receiver has the deliveries before the engine has counted and
		// written their outcomes; let it finish (bounded) before reading.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !sys.idle(ctx); {
			time.Sleep(20 * time.Millisecond)
		}
		res.EngineCounters = sys.counters()
	}

	// The ledger.
	var stray int64
	var lat []time.Duration
	firstSeq, warmDur := cfg.warmupCut(published)
	warmBefore := gen.start.Add(warmDur).UnixNano()
	var firstT0, lastArr int64 = math.MaxInt64, 0
	led := Ledger{Published: gen.deliveries.Load(), IngestFailed: gen.failed.Load(), ShortFanout: gen.short.Load()}
	limit := gen.next.Load()
	for seq := int64(0); seq < limit; seq++ {
		acked := tab.acked(seq)
		t0 := tab.t0(seq)
		measured := acked && seq >= firstSeq && t0 >= warmBefore
		if acked && !measured {
			res.Warmup++
		}
		for k := range cfg.Fanout {
			a := tab.arrival(seq, k)
			switch {
			case !acked && a != 0:
				stray++
			case !acked:
			case a == 0:
				led.Missing++
			case measured:
				lat = append(lat, time.Duration(a-t0))
				firstT0, lastArr = min(firstT0, t0), max(lastArr, a)
			}
		}
	}
	led.Delivered = rcv.distinct.Load() - stray
	led.Duplicates = rcv.duplicates.Load()
	led.Unexpected = rcv.unexpected.Load() + stray
	res.Ledger = led
	res.Events, res.Deliveries, res.Lost, res.Duplicates = published, led.Delivered, led.Missing, led.Duplicates
	res.Attempts, res.Failed, res.Foreign = rcv.requests.Load()-rcv.raw.Load(), rcv.failed.Load(), rcv.foreign.Load()
	if rcv.attempts != nil {
		res.RateObserved = rcv.attempts.rates()
		res.RateMaxPerS, res.RateMeanPerS = overallRate(res.RateObserved)
	}
	l := summarize(lat)
	res.Measured, res.P50, res.P90, res.P99, res.Max = int64(l.N), l.P50, l.P90, l.P99, l.Max
	if l.N > 0 && lastArr > firstT0 {
		res.DeliveriesPerS = round(float64(l.N)/time.Duration(lastArr-firstT0).Seconds(), 1)
	}
	if res.RawHTTPPerS > 0 {
		res.Ratio = round(res.DeliveriesPerS/res.RawHTTPPerS, 3)
	}
	if cfg.Target == nil {
		res.CPUPerDelivery = cpuMicrosPer(cpu0, cpu1, led.Delivered)
		res.CPURatio = cpuRatio(res.RawCPUPerRequest, res.CPUPerDelivery)
	}
	if d := gen.lastAck.Load() - gen.start.UnixNano(); d > 0 {
		res.IngestPerS = round(float64(published)/time.Duration(d).Seconds(), 1)
	}
	res.GeneratorLagMax = ms(time.Duration(gen.lagMax.Load()))
	if cfg.Rate > 0 {
		per := float64(time.Second) / cfg.Rate
		res.BatchWaitMean = ms(time.Duration(float64(cfg.Batch-1) / 2 * per))
		res.BatchWaitMax = ms(time.Duration(float64(cfg.Batch-1) * per))
	}
	res.WallS = round(time.Since(wallStart).Seconds(), 2)

	verr := led.Check()
	if verr == nil && ctx.Err() != nil {
		verr = &VoidError{"the run was interrupted or timed out: " + context.Cause(ctx).Error()}
	}
	if verr == nil && gen.firstErr != nil {
		verr = &VoidError{gen.firstErr.Error()}
	}
	if verr != nil {
		res.Void = true
		if gen.firstErr != nil && !strings.Contains(verr.Error(), gen.firstErr.Error()) {
			res.VoidReason = strings.TrimPrefix(verr.Error(), "run is VOID: ") + " (first: " + gen.firstErr.Error() + ")"
		} else {
			res.VoidReason = strings.TrimPrefix(verr.Error(), "run is VOID: ")
		}
		return res, &VoidError{res.VoidReason}
	}
	return res, nil
}

// drain waits until every acknowledged delivery has arrived, the drain
// period ends, or (in process) nothing is left queued.
func drain(ctx context.Context, cfg *Config, rcv *receiver, sys *system, want int64) {
	deadline := time.Now().Add(cfg.Drain)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var lastCount int64 = -1
	lastChange, lastStats := time.Now(), time.Now()
	for {
		got := rcv.distinct.Load() + rcv.unexpected.Load()
		if got >= want || time.Now().After(deadline) {
			return
		}
		if got != lastCount {
			lastCount, lastChange = got, time.Now()
		}
		// Nothing arrived for a while: if the queue is empty, nothing will.
		if sys.idle != nil && time.Since(lastChange) > time.Second && time.Since(lastStats) > 500*time.Millisecond {
			lastStats = time.Now()
			if sys.idle(ctx) {
				fmt.Fprintf(cfg.Progress, "queue empty with %d of %d deliveries arrived; ending the drain\n", got, want)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rawReference POSTs body to url n times, conc at a time, with the egress
// client, and returns requests per second.
func rawReference(ctx context.Context, url string, body []byte, n, conc int, timeout time.Duration) (float64, error) {
	hc := loopbackClient(timeout)
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
				req.Header["Content-Type"] = []string{"application/json"}
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// generator publishes the run's events.
type generator struct {
	cfg     *Config
	tab     *table
	runID   string
	c       *client.Client
	account string

	start      time.Time
	next       atomic.Int64 // sequence numbers handed out
	acked      atomic.Int64 // events acknowledged
	deliveries atomic.Int64 // deliveries acknowledged for our webhooks
	short      atomic.Int64
	failed     atomic.Int64
	lastAck    atomic.Int64
	lagMax     atomic.Int64
	errMu      sync.Mutex
	firstErr   error
}

type batch struct {
	first, n int64
	sendAt   time.Time // zero: now
}

func (g *generator) run(ctx context.Context) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	cfg := g.cfg
	planned := cfg.plannedEvents()
	g.start = time.Now().Add(20 * time.Millisecond)
	var wg sync.WaitGroup
	if cfg.Rate == 0 {
		// Closed loop: each sender builds its next batch when it is free, and
		// t0 is the moment it is built.
		end := g.start.Add(cfg.Duration)
		time.Sleep(time.Until(g.start))
		for range cfg.Senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if planned < 0 && time.Now().After(end) {
						return
					}
					first := g.next.Add(int64(cfg.Batch)) - int64(cfg.Batch)
					n := int64(cfg.Batch)
					if planned >= 0 {
						if first >= planned {
							return
						}
						n = min(n, planned-first)
					}
					if !g.send(ctx, batch{first: first, n: n}) {
						stop()
					}
				}
			}()
		}
		wg.Wait()
		if planned >= 0 {
			g.next.Store(min(g.next.Load(), planned))
		}
		return
	}
	// Open loop: the dispatcher hands each batch over when its last event
	// is scheduled; if every sender is busy it waits, and the batch leaves
	// late but keeps its events' scheduled t0.
	work := make(chan batch, cfg.Senders)
	for range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if ctx.Err() != nil {
					continue
				}
				if !g.send(ctx, b) {
					stop()
				}
			}
		}()
	}
	interval := float64(time.Second) / cfg.Rate
	timer := time.NewTimer(0)
	<-timer.C
dispatch:
	for first := int64(0); first < planned; first += int64(cfg.Batch) {
		n := min(int64(cfg.Batch), planned-first)
		sendAt := g.start.Add(time.Duration(float64(first+n-1) * interval))
		if d := time.Until(sendAt); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break dispatch
			case <-timer.C:
			}
		}
		select {
		case work <- batch{first: first, n: n, sendAt: sendAt}:
			g.next.Store(first + n)
		case <-ctx.Done():
			break dispatch
		}
	}
	close(work)
	wg.Wait()
}

// send publishes one batch and records its acknowledgement; false means the
// run must stop.
func (g *generator) send(ctx context.Context, b batch) bool {
	cfg := g.cfg
	if need := b.first + b.n; need > g.tab.capacity() {
		g.tab.grow(need + (1 << chunkBits))
	}
	now := time.Now()
	evs := make([]client.Event, b.n)
	for i := range b.n {
		seq := b.first + i
		t0 := now.UnixNano()
		if cfg.Rate > 0 {
			t0 = g.start.Add(time.Duration(float64(seq) * float64(time.Second) / cfg.Rate)).UnixNano()
		}
		g.tab.setT0(seq, t0)
		evs[i] = g.event(seq, t0)
	}
	if !b.sendAt.IsZero() {
		lag := int64(now.Sub(b.sendAt))
		for {
			old := g.lagMax.Load()
			if lag <= old || g.lagMax.CompareAndSwap(old, lag) {
				break
			}
		}
	}
	var results []client.PublishResult
	var err error
	if cfg.Batch == 1 {
		var r *client.PublishResult
		if r, err = g.c.PublishEvent(ctx, evs[0]); err == nil {
			results = []client.PublishResult{*r}
		}
	} else {
		results, err = g.c.PublishEvents(ctx, evs)
	}
	if err == nil && len(results) != len(evs) {
		err = fmt.Errorf("ingest answered %d results for %d events", len(results), len(evs))
	}
	if err != nil {
		g.failed.Add(1)
		g.errMu.Lock()
		if g.firstErr == nil && ctx.Err() == nil {
			g.firstErr = fmt.Errorf("ingest: %w", err)
		}
		g.errMu.Unlock()
		return false
	}
	for i, r := range results {
		seq := b.first + int64(i)
		if r.Duplicate != nil && *r.Duplicate {
			g.short.Add(1) // a fresh id cannot be a duplicate
			continue
		}
		d := int64(r.Deliveries)
		if d < int64(cfg.Fanout) {
			g.short.Add(1)
		}
		if g.cfg.Target != nil {
			d = min(d, int64(cfg.Fanout)) // other webhooks of the account may match too
		}
		g.deliveries.Add(d)
		g.tab.ack(seq)
		g.acked.Add(1)
	}
	t := time.Now().UnixNano()
	for {
		old := g.lastAck.Load()
		if t <= old || g.lastAck.CompareAndSwap(old, t) {
			break
		}
	}
	return true
}

func (g *generator) event(seq, t0 int64) client.Event {
	id := fmt.Sprintf("evt_b%s_%d", g.runID, seq)
	user := "api-user"
	data := json.RawMessage(eventData(g.runID, seq, t0, g.cfg.PayloadBytes))
	return client.Event{AccountID: g.account, Type: "outbound.delivered", ID: &id, User: &user, Data: &data}
}

// eventData is the data object every event carries: the run, the sequence
// number, t0 (unix ns) and the padding.
func eventData(run string, seq, t0 int64, pad int) []byte {
	b := make([]byte, 0, 80+pad)
	b = fmt.Appendf(b, `{"bench_run":%q,"seq":%d,"t0":%d`, run, seq, t0)
	if pad > 0 {
		b = append(b, `,"pad":"`...)
		b = append(b, strings.Repeat("x", pad)...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// sampleBody is a delivery envelope of the run's size, for the reference.
func sampleBody(run string, pad int) []byte {
	data := eventData(run, 1234567, time.Now().UnixNano(), pad)
	return fmt.Appendf(nil, `{"id":"evt_b%s_1234567","service":"outbound","type":"outbound.delivered","created_at":%d,"data":%s}`,
		run, time.Now().Unix(), data)
}

var randRead = rand.Read

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func scheduleString(s []time.Duration) string {
	if len(s) == 0 {
		return "default"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		switch {
		case d == 0:
			parts[i] = "0s"
		case d%time.Hour == 0:
			parts[i] = fmt.Sprintf("%dh", d/time.Hour)
		case d%time.Minute == 0:
			parts[i] = fmt.Sprintf("%dm", d/time.Minute)
		default:
			parts[i] = d.String()
		}
	}
	return strings.Join(parts, ",")
}

func describeCount(c *Config) string {
	if c.Events > 0 {
		return fmt.Sprintf("%d events", c.Events)
	}
	return "events for " + c.Duration.String()
}

func describeRate(r float64) string {
	if r == 0 {
		return "full speed"
	}
	return fmt.Sprintf("%g events/s", r)
}
