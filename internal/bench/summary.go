package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteSummary prints the human summary of a throughput run.
func (r *Result) WriteSummary(w io.Writer) {
	if r.Void {
		fmt.Fprintf(w, "\n%s\n!!! VOID RUN — do not publish these numbers: %s\n%s\n\n", bar, r.VoidReason, bar)
	}
	fmt.Fprintf(w, "jetwebhooks bench (%s) on %s: %d CPUs, %s, %s\n", r.Mode, r.Backend, r.CPUs, r.CPUModel, r.GoVersion)
	fmt.Fprintf(w, "  load      %d events at %s, %d per request, fan-out %d, %d B bodies; engine concurrency %d\n",
		r.Events, describeRate(r.Rate), r.Batch, r.Fanout, r.BodyBytes, r.Concurrency)
	if r.FIFO {
		fmt.Fprintf(w, "  ordering  fifo: each of the %d webhooks gets its deliveries one at a time, in order\n", r.Fanout)
	}
	if r.RateLimit > 0 {
		r.writeRates(w)
	}
	fmt.Fprintf(w, "  receiver  latency %gms, error rate %g; retry schedule %s\n", r.ReceiverLatency, r.ErrorRate, r.RetrySchedule)
	fmt.Fprintf(w, "  ledger    published %d = delivered %d + missing %d   (duplicates %d, unexpected %d, failed ingests %d)\n",
		r.Published, r.Delivered, r.Missing, r.Duplicates, r.Unexpected, r.IngestFailed)
	fmt.Fprintf(w, "  measured  %d deliveries after a warm-up of %d events (%s)\n", r.Measured, r.Warmup, r.WarmupSpec)
	fmt.Fprintf(w, "  latency   p50 %.1fms  p90 %.1fms  p99 %.1fms  max %.1fms   (scheduled send t0 → first 2xx arrival)\n", r.P50, r.P90, r.P99, r.Max)
	if r.BatchWaitMax > 0 {
		fmt.Fprintf(w, "            includes waiting for the batch to fill: mean %.1fms, max %.1fms (--batch 1 avoids it)\n", r.BatchWaitMean, r.BatchWaitMax)
	}
	fmt.Fprintf(w, "  rate      %.0f deliveries/s; ingest %.0f events/s; generator lag max %.1fms\n", r.DeliveriesPerS, r.IngestPerS, r.GeneratorLagMax)
	if r.RawHTTPPerS > 0 {
		note := ""
		if r.Rate > 0 {
			note = " (at a fixed rate this is utilisation, not capacity: use --rate 0)"
		}
		fmt.Fprintf(w, "  reference %.0f plain loopback POSTs/s (same receiver and client type, %d requests) → ratio %.3f%s\n", r.RawHTTPPerS, r.RawRequests, r.Ratio, note)
	}
	writeCPU(w, "per delivery (service, generator and receiver)", r.CPUPerDelivery, r.RawCPUPerRequest, r.CPURatio)
	if r.Claims > 0 {
		fmt.Fprintf(w, "  engine    %.0f claims, attempts: %.0f success, %.0f retry, %.0f failed; %.0f lease takeovers\n",
			r.Claims, r.AttemptsSuccess, r.AttemptsRetry, r.AttemptsFailed, r.Takeovers)
	}
	fmt.Fprintf(w, "  memory    peak RSS %.1f MB (%s)\n", r.PeakRSSMB, r.RSSScope)
	if r.DBBytesEnd > 0 {
		fmt.Fprintf(w, "  disk      database %.1f MB → %.1f MB: %.0f bytes per event published\n", mb(r.DBBytesStart), mb(r.DBBytesEnd), r.DBBytesPerEvent)
	}
	if r.Lost > 0 && !r.Void {
		fmt.Fprintf(w, "\n!!! %d deliveries LOST: acknowledged but not delivered by the end of the drain\n", r.Lost)
	}
}

// WriteSummary prints the human summary of a memory run.
func (r *MemoryResult) WriteSummary(w io.Writer) {
	if r.Void {
		fmt.Fprintf(w, "\n%s\n!!! VOID RUN — do not publish these numbers: %s\n%s\n\n", bar, r.VoidReason, bar)
	}
	fmt.Fprintf(w, "jetwebhooks bench (memory) on %s: %d CPUs, %s, %s\n", r.Backend, r.CPUs, r.CPUModel, r.GoVersion)
	fmt.Fprintf(w, "  backlog   %d deliveries (%d events × %d webhook(s)), preloaded in %.1fs (%.0f/s) with the engine stopped\n",
		r.Backlog, r.Events, r.Fanout, r.PreloadS, r.PreloadPerS)
	fmt.Fprintf(w, "  drain     %.1fs, %.0f deliveries/s, concurrency %d\n", r.DrainS, r.DeliveriesPerS, r.Concurrency)
	if r.RawHTTPPerS > 0 {
		fmt.Fprintf(w, "  reference %.0f plain loopback POSTs/s (same receiver and client type, %d requests) → ratio %.3f (the engine alone, no ingest)\n", r.RawHTTPPerS, r.RawRequests, r.Ratio)
	}
	writeCPU(w, "per delivery drained (engine and receiver)", r.CPUPerDelivery, r.RawCPUPerRequest, r.CPURatio)
	fmt.Fprintf(w, "  RSS       start %.1f MB; at 10%% %.1f, 50%% %.1f, 90%% %.1f MB; end %.1f MB; peak %.1f MB (%s)\n",
		r.RSSStartMB, r.RSSAt10MB, r.RSSAt50MB, r.RSSAt90MB, r.RSSEndMB, r.PeakRSSMB, r.PeakMethod)
	fmt.Fprintf(w, "  Go heap   at 10%% %.1f, 50%% %.1f, 90%% %.1f MB   (%d samples)\n", r.HeapAt10MB, r.HeapAt50MB, r.HeapAt90MB, r.Samples)
	fmt.Fprintf(w, "  ledger    published %d = delivered %d + missing %d   (duplicates %d, unexpected %d)\n",
		r.Published, r.Delivered, r.Missing, r.Duplicates, r.Unexpected)
	fmt.Fprintf(w, "  engine    %.0f claims, attempts: %.0f success, %.0f retry, %.0f failed; %.0f lease takeovers; receiver saw %d requests\n",
		r.Claims, r.AttemptsSuccess, r.AttemptsRetry, r.AttemptsFailed, r.Takeovers, r.Requests)
	fmt.Fprintf(w, "  scope     %s; the tracking table is %.1f MB\n", r.RSSScope, r.HarnessMB)
	if r.Lost > 0 && !r.Void {
		fmt.Fprintf(w, "\n!!! %d deliveries LOST: not delivered by the end of the drain\n", r.Lost)
	}
}

var bar = strings.Repeat("!", 72)

// writeRates prints the rate limit and what the receiver observed: the
// highest one-second count against the documented bound (limit + 1: the
// node's scheduling jitter can bring two attempts closer than the interval),
// the mean rates, and each webhook's figures when there are few.
func (r *Result) writeRates(w io.Writer) {
	verdict := "within"
	if r.RateMaxPerS > r.RateLimit+1 {
		verdict = "ABOVE"
	}
	lo, hi := 0.0, 0.0
	for i, h := range r.RateObserved {
		if i == 0 || h.MeanPerS < lo {
			lo = h.MeanPerS
		}
		hi = max(hi, h.MeanPerS)
	}
	fmt.Fprintf(w, "  throttle  rate_limit %d/s per webhook; observed at the receiver: at most %d attempts in any 1 s (%s the bound %d = limit + 1),\n",
		r.RateLimit, r.RateMaxPerS, verdict, r.RateLimit+1)
	fmt.Fprintf(w, "            mean %.2f/s per webhook (from %.2f to %.2f/s over %d webhooks; first to last attempt)\n", r.RateMeanPerS, lo, hi, len(r.RateObserved))
	if len(r.RateObserved) <= 10 {
		for _, h := range r.RateObserved {
			fmt.Fprintf(w, "            webhook %d: %d attempts, at most %d in 1 s, mean %.2f/s\n", h.Webhook, h.Attempts, h.MaxPerS, h.MeanPerS)
		}
	}
}

// JSONLine is v as one line of JSON.
func JSONLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}

// writeCPU prints the CPU line of a summary, if the CPU time was measured.
func writeCPU(w io.Writer, what string, perDelivery, rawPerRequest, ratio float64) {
	if perDelivery <= 0 {
		return
	}
	fmt.Fprintf(w, "  cpu       %.1f µs %s", perDelivery, what)
	if rawPerRequest > 0 {
		fmt.Fprintf(w, "; %.1f µs per plain POST → cpu ratio %.3f", rawPerRequest, ratio)
	}
	fmt.Fprintln(w)
}
