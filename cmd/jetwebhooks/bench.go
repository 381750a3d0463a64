package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/internal/bench"
)

// exitBenchVoid is bench's exit code for a void run: its ledger did not
// balance, the ingest failed or it did not finish. Its numbers must not be
// published.
const exitBenchVoid = 5

// benchError carries bench's exit code to run().
type benchError struct {
	code int
	err  error
}

func (e *benchError) Error() string { return e.err.Error() }
func (e *benchError) Unwrap() error { return e.err }
func (e *benchError) exitCode() int { return e.code }

func newBenchCmd() *cobra.Command {
	var (
		events, batch, senders, fanout, payload, concurrency, rawRequests, backlog int
		rate, errorRate                                                            float64
		duration, receiverLatency, deliveryTimeout, drain, timeout                 time.Duration
		warmup, schedule, db, sqliteSync, cpuprofile                               string
		target, apiKey, ingestToken, accountID, receiverListen, receiverURL        string
		memory                                                                     bool
		soak, reportEvery, retention, purgeInterval                                time.Duration
		runs                                                                       int
		metricsURL                                                                 string
		fifo                                                                       bool
		rateLimit                                                                  int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure delivery throughput, latency and memory",
		Long: `Measure what the service delivers, with an exact ledger.

By default everything runs in this process: a server over a SQLite file in a
temp dir (or, with --db postgres://…, a fresh database that is dropped
afterwards), a receiver on 127.0.0.1 and a load generator that publishes over
HTTP (POST /events/batch, or POST /events with --batch 1). Every event carries
its scheduled send time t0 = start + i/rate; latency runs from t0 to the first
2xx arrival, so a generator that falls behind is measured, not hidden. With
--rate 0 it publishes as fast as the ingest accepts.

The ledger published = delivered + missing must balance and the ingest must
succeed, or the run is VOID (exit code 5). Deliveries missing after --drain
are reported as lost (exit code 1). The same run measures plain loopback POSTs
of the same size through the same client type (raw_http_per_s); ratio is
deliveries_per_s / raw_http_per_s. Peak RSS is this process's: server, load
generator and receiver together.

--memory preloads --backlog pending deliveries straight into the store with
the engine stopped, then drains them while sampling RSS every 100 ms.

--rate-limit N creates the webhooks with rate_limit N and times every attempt
at the receiver: the summary and the JSON line give, per webhook, the most
attempts in any one-second window (the documented bound is N + 1) and the
mean rate from first to last attempt. Mind --drain: each webhook takes
events / N seconds.

--soak offers --rate for a fixed time and prints, every --report-every, a
"soak" line: the database's size and the service's RSS (from its /metrics),
p50 and p99 of the deliveries that arrived in the interval, and deliveries/s.
Against --target, start the service with a short --retention.

The output is a summary, then one JSON line, last.`,
		Example: `  jetwebhooks bench --events 20000 --rate 0
  jetwebhooks bench --rate 1000 --events 10000 --fanout 2 --receiver-latency 5ms
  jetwebhooks bench --events 2000 --fanout 10 --rate-limit 50 --drain 5m
  jetwebhooks bench --error-rate 0.2 --retry-schedule 0s,50ms,50ms,50ms,50ms,50ms,50ms,50ms
  jetwebhooks bench --db postgres://postgres@127.0.0.1/postgres --events 50000
  jetwebhooks bench --memory --backlog 1000000
  jetwebhooks bench --soak 10m --rate 1000 --retention 1m --purge-interval 10s
  jetwebhooks bench --target https://hooks.internal --api-key api_… --ingest-token ing_… \
      --account-id acc_… --receiver-listen 0.0.0.0:9100 --receiver-url http://10.0.0.5:9100`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("bench takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			secretFromEnv(cmd, "api-key", &apiKey, "JETWEBHOOKS_API_KEY")
			secretFromEnv(cmd, "ingest-token", &ingestToken, "JETWEBHOOKS_INGEST_TOKEN")
			f := cmd.Flags()
			if f.Changed("duration") && !f.Changed("events") {
				events = 0
			}
			if f.Changed("duration") && f.Changed("events") {
				return usagef("give --events or --duration, not both")
			}
			if f.Changed("soak") {
				if f.Changed("events") || f.Changed("duration") {
					return usagef("--soak runs for its duration; give no --events or --duration")
				}
				if rate <= 0 {
					return usagef("--soak needs a fixed --rate")
				}
				events = 0
			}
			wu, err := bench.ParseWarmup(warmup)
			if err != nil {
				return usagef("--warmup: %v", err)
			}
			sched, err := parseSchedule(schedule)
			if err != nil {
				return usagef("--retry-schedule: %v", err)
			}
			if timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			ctx, cancel := context.WithTimeoutCause(cmd.Context(), timeout, fmt.Errorf("--timeout %s reached", timeout))
			defer cancel()

			var prof *os.File
			if cpuprofile != "" {
				if prof, err = os.Create(cpuprofile); err != nil {
					return err
				}
				defer prof.Close()
			}

			if rateLimit < 0 || rateLimit > 1000 {
				return usagef("--rate-limit must be between 1 and 1000 deliveries per second (0: none)")
			}
			if memory {
				if target != "" {
					return usagef("--memory runs in process; it cannot be combined with --target")
				}
				if rateLimit > 0 {
					return usagef("--rate-limit applies to throughput runs; --memory drains a preloaded backlog")
				}
				mcfg := bench.MemoryConfig{
					Backlog: backlog, Fanout: fanout, PayloadBytes: payload, ReceiverLatency: receiverLatency,
					Concurrency: concurrency, DeliveryTimeout: deliveryTimeout, DB: db, SQLiteSynchronous: sqliteSync,
					Progress: stderr, RawRequests: rawRequests,
				}
				if f.Changed("drain") {
					mcfg.Drain = drain
				}
				if prof != nil {
					mcfg.CPUProfile = prof
				}
				res, err := bench.RunMemory(ctx, mcfg)
				if res == nil {
					return benchSetupError(err)
				}
				res.WriteSummary(stdout)
				fmt.Fprintln(stdout, bench.JSONLine(res))
				return benchOutcome(err, res.Lost)
			}

			cfg := bench.Config{
				Events: events, Duration: duration, Rate: rate, Batch: batch, Senders: senders, Fanout: fanout, FIFO: fifo, RateLimit: rateLimit,
				PayloadBytes: payload, ReceiverLatency: receiverLatency, ErrorRate: errorRate, Warmup: wu,
				Concurrency: concurrency, RetrySchedule: sched, DeliveryTimeout: deliveryTimeout, Drain: drain,
				DB: db, SQLiteSynchronous: sqliteSync, RawRequests: rawRequests, Progress: stderr,
				Soak: soak, ReportEvery: reportEvery, SoakOut: stdout, MetricsURL: metricsURL,
				Retention: retention, PurgeInterval: purgeInterval,
			}
			if prof != nil {
				cfg.CPUProfile = prof
			}
			if target != "" {
				if f.Changed("retention") || f.Changed("purge-interval") {
					return usagef("--retention and --purge-interval configure the in-process server; give them to the target's serve")
				}
				if db != "" {
					return usagef("--db selects the in-process backend; it cannot be combined with --target")
				}
				cfg.Target = &bench.Target{URL: target, APIKey: apiKey, IngestToken: ingestToken, AccountID: accountID,
					ReceiverListen: receiverListen, ReceiverURL: receiverURL}
				if apiKey == "" || ingestToken == "" || accountID == "" {
					return usagef("--target needs --api-key, --ingest-token and --account-id")
				}
			}
			if errorRate > 0 && len(sched) > 1 && sched[1] >= 10*time.Second && !f.Changed("drain") {
				fmt.Fprintf(stderr, "warning: --error-rate %g with retries %s apart will not drain within --drain %s; pass a fast --retry-schedule\n", errorRate, sched[1], drain)
			}
			if runs < 1 {
				return usagef("--runs must be at least 1")
			}
			if runs > 1 && target == "" {
				return usagef("--runs repeats a run against one long-running --target; in process every run starts a fresh server")
			}
			for i := 1; i <= runs; i++ {
				if runs > 1 {
					fmt.Fprintf(stdout, "run %d of %d\n", i, runs)
				}
				res, err := bench.Run(ctx, cfg)
				if res == nil {
					return benchSetupError(err)
				}
				res.WriteSummary(stdout)
				fmt.Fprintln(stdout, bench.JSONLine(res))
				if err := benchOutcome(err, res.Lost); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&events, "events", 10000, "number of events to publish (or --duration)")
	f.DurationVar(&duration, "duration", 0, "publish for this long instead of --events (rate × duration events at --rate > 0)")
	f.Float64Var(&rate, "rate", 0, "offered load in events/s, open-loop with scheduled send times; 0: as fast as possible")
	f.IntVar(&batch, "batch", 100, "events per ingest request: 1 uses POST /events, more POST /events/batch (at most 1000)")
	f.IntVar(&senders, "senders", 0, "ingest requests in flight at most (default 4 at --rate 0, else 32)")
	f.IntVar(&fanout, "fanout", 1, "webhooks per event: that many webhooks, all pointing at the receiver")
	f.BoolVar(&fifo, "fifo", false, "make the webhooks ordered (ordering fifo): each gets its deliveries one at a time, in order; --fanout sets how many")
	f.IntVar(&rateLimit, "rate-limit", 0, "create the webhooks with this rate_limit (deliveries/s per webhook, 1..1000; works with --fanout and --fifo); the summary reports the rate the receiver observed per webhook: the most attempts in any 1 s window and the mean")
	f.IntVar(&payload, "payload-bytes", 256, "padding added to every event's data")
	f.DurationVar(&receiverLatency, "receiver-latency", 0, "how long the receiver takes to answer each delivery")
	f.Float64Var(&errorRate, "error-rate", 0, "fraction of deliveries the receiver answers with 500 (they are retried)")
	f.StringVar(&warmup, "warmup", "", "head of the run excluded from latency and throughput: a count (500), a percentage (5%) or a duration (1s); default 5% of --events, or 1s with --duration")
	f.IntVar(&concurrency, "concurrency", 256, "delivery engine workers (the per-webhook cap is set to the same)")
	f.StringVar(&schedule, "retry-schedule", "0s,30s,2m,10m,1h,4h", "the engine's retry schedule; use a fast one with --error-rate, e.g. 0s,50ms,50ms,50ms,50ms,50ms")
	f.DurationVar(&deliveryTimeout, "delivery-timeout", 10*time.Second, "timeout of one delivery attempt")
	f.DurationVar(&drain, "drain", time.Minute, "longest wait for deliveries after the last publish (memory mode: for the whole drain, default 1h)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "limit for the whole run; a run that hits it is VOID")
	f.StringVar(&db, "db", "", "in-process backend: empty for SQLite in a temp dir, a new SQLite file path, or a postgres:// URL on which a fresh database is created and dropped")
	f.StringVar(&sqliteSync, "sqlite-synchronous", "FULL", "SQLite synchronous mode of the in-process server (FULL is the service's default)")
	f.IntVar(&rawRequests, "raw-requests", 0, "size of the plain-HTTP reference (default: as many as deliveries, 2000 to 100000; negative skips it)")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the publish and drain phases to this file (go tool pprof)")
	f.BoolVar(&memory, "memory", false, "memory run: preload --backlog deliveries with the engine stopped, then drain them sampling RSS")
	f.IntVar(&backlog, "backlog", 1_000_000, "deliveries to preload with --memory")
	f.DurationVar(&soak, "soak", 0, "soak run: offer --rate for this long and report database size, RSS, p50/p99 and deliveries/s every --report-every")
	f.DurationVar(&reportEvery, "report-every", time.Minute, "with --soak: the report interval")
	f.StringVar(&metricsURL, "metrics-url", "", "with --soak: where to read the service's jetwebhooks_database_size_bytes and process_resident_memory_bytes (default: its /metrics)")
	f.DurationVar(&retention, "retention", 0, "in-process server's --retention (default 30 days); a short one keeps a soak's database small")
	f.DurationVar(&purgeInterval, "purge-interval", 0, "in-process server's --purge-interval (default 1m)")
	f.IntVar(&runs, "runs", 1, "with --target: repeat the run this many times against the same service, reporting each (the queue-churn test is --runs 3)")
	f.StringVar(&target, "target", "", "benchmark this deployment (base URL) instead of an in-process server")
	f.StringVar(&apiKey, "api-key", "", "with --target: an account's API key (env JETWEBHOOKS_API_KEY)")
	f.StringVar(&ingestToken, "ingest-token", "", "with --target: the ingest token (env JETWEBHOOKS_INGEST_TOKEN)")
	f.StringVar(&accountID, "account-id", envOr("JETWEBHOOKS_ACCOUNT_ID", ""), "with --target: the account the API key belongs to (env JETWEBHOOKS_ACCOUNT_ID)")
	f.StringVar(&receiverListen, "receiver-listen", "127.0.0.1:0", "with --target: the receiver's listen address")
	f.StringVar(&receiverURL, "receiver-url", "", "with --target: the base URL the target reaches the receiver at (default http://<receiver-listen>)")
	return cmd
}

// benchSetupError classifies an error from a run that produced no result.
func benchSetupError(err error) error {
	if err == nil {
		return errors.New("bench: no result")
	}
	var ce *bench.ConfigError
	if errors.As(err, &ce) {
		return usageError{err}
	}
	return err
}

// benchOutcome turns a finished run into bench's exit code: a void run is
// exitBenchVoid, a run with lost deliveries exitFailure.
func benchOutcome(err error, lost int64) error {
	if errors.Is(err, bench.ErrVoid) {
		return &benchError{code: exitBenchVoid, err: err}
	}
	if err != nil {
		return err
	}
	if lost > 0 {
		return &benchError{code: exitFailure, err: fmt.Errorf("%d deliveries were lost", lost)}
	}
	return nil
}
