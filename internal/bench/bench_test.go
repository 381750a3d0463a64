package bench_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/bench"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/servertest"
)

func TestLedgerCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    bench.Ledger
		void string // "" balances
	}{
		{"balanced", bench.Ledger{Published: 10, Delivered: 10}, ""},
		{"balanced with missing", bench.Ledger{Published: 10, Delivered: 7, Missing: 3}, ""},
		{"duplicates do not void", bench.Ledger{Published: 10, Delivered: 10, Duplicates: 4}, ""},
		{"more delivered than published", bench.Ledger{Published: 10, Delivered: 11}, "does not balance"},
		{"fewer accounted than published", bench.Ledger{Published: 10, Delivered: 8, Missing: 1}, "does not balance"},
		{"ingest failed", bench.Ledger{Published: 10, Delivered: 10, IngestFailed: 1}, "ingest"},
		{"unattributed arrivals", bench.Ledger{Published: 10, Delivered: 10, Unexpected: 2}, "attributed"},
		{"short fan-out", bench.Ledger{Published: 9, Delivered: 9, ShortFanout: 1}, "fewer webhooks"},
		{"nothing published", bench.Ledger{}, "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Check()
			if tc.void == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			var ve *bench.VoidError
			if !errors.As(err, &ve) || !errors.Is(err, bench.ErrVoid) || !strings.Contains(err.Error(), tc.void) {
				t.Fatalf("Check() = %v, want a VoidError mentioning %q", err, tc.void)
			}
		})
	}
}

func TestParseWarmup(t *testing.T) {
	for in, want := range map[string]bench.Warmup{
		"":    {},
		"0":   {None: true},
		"500": {Events: 500},
		"5%":  {Fraction: 0.05},
		"2s":  {Duration: 2 * time.Second},
	} {
		got, err := bench.ParseWarmup(in)
		if err != nil || got != want {
			t.Errorf("ParseWarmup(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "x", "100%", "-3s"} {
		if _, err := bench.ParseWarmup(bad); err == nil {
			t.Errorf("ParseWarmup(%q) succeeded", bad)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []bench.Config{
		{Events: 10, Duration: time.Second},
		{Batch: 1001},
		{ErrorRate: 1},
		{Rate: -1},
		{Target: &bench.Target{URL: "http://127.0.0.1:1"}},
	} {
		_, err := bench.Run(t.Context(), cfg)
		var ce *bench.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("Run(%+v) = %v, want a ConfigError", cfg, err)
		}
	}
}

// checkPlausible checks what every valid run must show.
func checkPlausible(t *testing.T, res *bench.Result, events, fanout int) {
	t.Helper()
	want := int64(events * fanout)
	if res.Void || res.Published != want || res.Delivered != want || res.Missing != 0 || res.Lost != 0 || res.Unexpected != 0 {
		t.Fatalf("ledger: %+v", res.Ledger)
	}
	if res.Events != int64(events) || res.Deliveries != want {
		t.Fatalf("events %d deliveries %d, want %d and %d", res.Events, res.Deliveries, events, want)
	}
	if res.Measured <= 0 || res.Measured > want {
		t.Fatalf("measured %d of %d", res.Measured, want)
	}
	if !(0 < res.P50 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max && res.Max < 60_000) {
		t.Fatalf("latencies not ordered or implausible: p50 %v p90 %v p99 %v max %v", res.P50, res.P90, res.P99, res.Max)
	}
	if res.DeliveriesPerS <= 0 || res.IngestPerS <= 0 {
		t.Fatalf("rates: %v deliveries/s, %v ingest/s", res.DeliveriesPerS, res.IngestPerS)
	}
	if res.CPUs <= 0 || res.GoVersion == "" || res.Date == "" {
		t.Fatalf("machine: %+v", res.Machine)
	}
}

func TestSmallRunBalances(t *testing.T) {
	var progress strings.Builder
	res, err := bench.Run(t.Context(), bench.Config{
		Events: 500, Fanout: 2, Rate: 0, Batch: 50, RawRequests: 500, SQLiteSynchronous: "NORMAL",
		Drain: 20 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	checkPlausible(t, res, 500, 2)
	if res.Warmup != 25 { // 5% of 500
		t.Errorf("warm-up %d events, want 25", res.Warmup)
	}
	if res.RawHTTPPerS <= 0 || res.Ratio <= 0 {
		t.Errorf("reference %v/s, ratio %v", res.RawHTTPPerS, res.Ratio)
	}
	if res.PeakRSSMB <= 0 {
		t.Errorf("peak RSS %v MB", res.PeakRSSMB)
	}
	// A delivery goes through a plain POST's work and then some: ingest, the
	// database, signing. CPU time is counted in ticks, so 500 events leave
	// room for rounding but not for a reversed or unit-confused quotient.
	if runtime.GOOS == "linux" && (res.CPUPerDelivery <= 0 || res.RawCPUPerRequest <= 0 || res.CPURatio <= 0 || res.CPURatio > 1.5) {
		t.Errorf("cpu: %v µs per delivery, %v µs per plain POST, cpu ratio %v", res.CPUPerDelivery, res.RawCPUPerRequest, res.CPURatio)
	}
	if res.Duplicates != 0 || res.Failed != 0 || res.Attempts != 1000 {
		t.Errorf("receiver: %d requests, %d 500s, %d duplicates; want 1000, 0, 0", res.Attempts, res.Failed, res.Duplicates)
	}
	if res.AttemptsSuccess != 1000 || res.Claims < 1000 || res.Takeovers != 0 {
		t.Errorf("engine counters: %+v", res.EngineCounters)
	}
	// The result line carries every documented key.
	var line map[string]any
	if err := json.Unmarshal([]byte(bench.JSONLine(res)), &line); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"backend", "events", "deliveries", "deliveries_per_s", "raw_http_per_s", "ratio",
		"p50_ms", "p90_ms", "p99_ms", "max_ms", "lost", "duplicates", "peak_rss_mb", "rate", "fanout", "batch",
		"concurrency", "go_version", "cpus", "cpu_model", "date", "published", "delivered", "missing", "void"} {
		if _, ok := line[k]; !ok {
			t.Errorf("result line lacks %q", k)
		}
	}
	if line["backend"] != "sqlite" || line["void"] != false {
		t.Errorf("backend %v void %v", line["backend"], line["void"])
	}
}

func TestOpenLoopSingleEvents(t *testing.T) {
	// --batch 1 goes through POST /events; at a fixed rate t0 is the schedule.
	res, err := bench.Run(t.Context(), bench.Config{
		Events: 200, Rate: 400, Batch: 1, RawRequests: -1, SQLiteSynchronous: "NORMAL", Warmup: bench.Warmup{None: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPlausible(t, res, 200, 1)
	if res.Measured != 200 || res.RawHTTPPerS != 0 {
		t.Errorf("measured %d (want all 200), reference %v (skipped)", res.Measured, res.RawHTTPPerS)
	}
	// 200 events at 400/s take about half a second to offer.
	if res.IngestPerS > 600 {
		t.Errorf("ingest %v events/s exceeds the offered 400/s", res.IngestPerS)
	}
}

func TestRetriesDeliverEverything(t *testing.T) {
	sched := []time.Duration{0}
	for range 24 { // 0.2^25: no delivery runs out of attempts
		sched = append(sched, 10*time.Millisecond)
	}
	res, err := bench.Run(t.Context(), bench.Config{
		Events: 300, Fanout: 2, ErrorRate: 0.2, RetrySchedule: sched, RawRequests: -1,
		SQLiteSynchronous: "NORMAL", Drain: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPlausible(t, res, 300, 2)
	if res.AttemptsRetry != float64(res.Failed) || res.AttemptsSuccess != float64(res.Delivered) {
		t.Errorf("engine counters %+v, receiver 500s %d", res.EngineCounters, res.Failed)
	}
	if res.Failed < 30 || res.Attempts != res.Delivered+res.Failed {
		t.Errorf("receiver answered %d requests with %d 500s for %d deliveries: retries not exercised", res.Attempts, res.Failed, res.Delivered)
	}
}

// startServer serves an in-process jetwebhooks for --target runs.
func startServer(t *testing.T) (url string, boot *server.Bootstrap, ingestToken string) {
	t.Helper()
	ingestToken = "ing_target_test_token_0123456789abcdef"
	url, boot = servertest.Start(t, ingestToken)
	return url, boot, ingestToken
}

func TestTargetMode(t *testing.T) {
	url, boot, tok := startServer(t)
	res, err := bench.Run(t.Context(), bench.Config{
		Events: 300, Fanout: 2, RawRequests: -1,
		Target: &bench.Target{URL: url, APIKey: boot.APIKey, IngestToken: tok, AccountID: boot.AccountID},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPlausible(t, res, 300, 2)
	if res.Backend != "target" || !strings.Contains(res.RSSScope, "not the target") {
		t.Errorf("backend %q, rss scope %q", res.Backend, res.RSSScope)
	}

	t.Run("failed ingest is void", func(t *testing.T) {
		res, err := bench.Run(t.Context(), bench.Config{
			Events: 100, RawRequests: -1,
			Target: &bench.Target{URL: url, APIKey: boot.APIKey, IngestToken: "ing_wrong", AccountID: boot.AccountID},
		})
		if !errors.Is(err, bench.ErrVoid) || res == nil || !res.Void || !strings.Contains(res.VoidReason, "ingest") {
			t.Fatalf("Run = %+v, %v; want a void run blaming the ingest", res, err)
		}
		if !strings.Contains(bench.JSONLine(res), `"void":true`) {
			t.Error("the result line does not say void")
		}
	})
}

func TestMemoryRun(t *testing.T) {
	var progress strings.Builder
	res, err := bench.RunMemory(t.Context(), bench.MemoryConfig{
		Backlog: 3000, Fanout: 2, SQLiteSynchronous: "NORMAL", SampleEvery: 20 * time.Millisecond,
		Drain: 30 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("RunMemory: %v\n%s", err, progress.String())
	}
	if res.Void || res.Published != 3000 || res.Delivered != 3000 || res.Lost != 0 || res.Events != 1500 {
		t.Fatalf("ledger %+v, events %d", res.Ledger, res.Events)
	}
	// The physical reference's requests are counted apart, not as deliveries.
	if res.AttemptsSuccess != 3000 || res.Requests < 3000 || res.Requests >= 3000+res.RawRequests {
		t.Errorf("engine counters %+v, receiver requests %d (reference %d)", res.EngineCounters, res.Requests, res.RawRequests)
	}
	if res.RawRequests != 3000 || res.RawHTTPPerS <= 0 || res.Ratio <= 0 {
		t.Errorf("physical reference: %d requests, %v/s, ratio %v", res.RawRequests, res.RawHTTPPerS, res.Ratio)
	}
	if res.DeliveriesPerS <= 0 || res.PreloadPerS <= 0 || res.Samples < 2 {
		t.Fatalf("rates %v/%v, %d samples", res.DeliveriesPerS, res.PreloadPerS, res.Samples)
	}
	for name, v := range map[string]float64{"start": res.RSSStartMB, "peak": res.PeakRSSMB, "10%": res.RSSAt10MB,
		"50%": res.RSSAt50MB, "90%": res.RSSAt90MB} {
		if v <= 0 {
			t.Errorf("RSS %s = %v MB", name, v)
		}
	}
	if res.PeakRSSMB < res.RSSAt50MB {
		t.Errorf("peak %v MB below the 50%% sample %v MB", res.PeakRSSMB, res.RSSAt50MB)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(bench.JSONLine(res)), &line); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"backend", "backlog", "deliveries_per_s", "raw_http_per_s", "ratio", "peak_rss_mb", "rss_at_10pct_mb", "rss_at_50pct_mb", "rss_at_90pct_mb", "lost"} {
		if _, ok := line[k]; !ok {
			t.Errorf("result line lacks %q", k)
		}
	}
}

// TestRateLimitRun: a run with a rate limit creates its webhooks limited
// (unordered, and FIFO), delivers every event, and the receiver observes
// each webhook within the documented bound: at most limit + 1 attempts in
// any one second.
func TestRateLimitRun(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		t.Run(map[bool]string{false: "unordered", true: "fifo"}[fifo], func(t *testing.T) {
			var progress strings.Builder
			const limit, events, fanout = 20, 60, 2
			res, err := bench.Run(t.Context(), bench.Config{
				Events: events, Fanout: fanout, FIFO: fifo, RateLimit: limit, Rate: 0, Batch: 20, RawRequests: -1,
				SQLiteSynchronous: "NORMAL", Drain: 30 * time.Second, Progress: &progress,
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, progress.String())
			}
			if res.Lost != 0 || res.Delivered != events*fanout || res.Duplicates != 0 {
				t.Fatalf("ledger: %+v, want all %d delivered once", res.Ledger, events*fanout)
			}
			if res.RateLimit != limit || len(res.RateObserved) != fanout {
				t.Fatalf("rate limit %d, observed %+v; want %d and %d webhooks", res.RateLimit, res.RateObserved, limit, fanout)
			}
			for _, h := range res.RateObserved {
				// All 60 events are queued within a fraction of a second:
				// unlimited, they would arrive far faster than 21 in a second.
				if h.Attempts != events || h.MaxPerS > limit+1 || h.MeanPerS > limit+1 {
					t.Errorf("webhook %d: %+v, want %d attempts, at most %d in any second", h.Webhook, h, events, limit+1)
				}
				// The log records what arrives: with 60 queued, some second
				// holds several.
				if h.MaxPerS < 5 {
					t.Errorf("webhook %d: at most %d attempts in a second; the receiver's log is not recording", h.Webhook, h.MaxPerS)
				}
			}
			if res.RateMaxPerS > limit+1 || res.RateMeanPerS <= 0 {
				t.Errorf("overall: max %d/s, mean %v/s", res.RateMaxPerS, res.RateMeanPerS)
			}
			var sum strings.Builder
			res.WriteSummary(&sum)
			if !strings.Contains(sum.String(), "rate_limit 20/s per webhook") || !strings.Contains(sum.String(), "within the bound 21") {
				t.Errorf("summary lacks the observed rate:\n%s", sum.String())
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(bench.JSONLine(res)), &line); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"rate_limit", "rate_max_per_s", "rate_mean_per_s", "rate_observed"} {
				if _, ok := line[k]; !ok {
					t.Errorf("result line lacks %q", k)
				}
			}
		})
	}
}
