package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Ledger is the exact account of one run, kept in process (Outpost's
// load-test rule): every delivery the service acknowledged is either
// delivered or missing when the drain ends. Each term is counted on its own —
// Published from the ingest answers, Delivered by the receiver as deliveries
// arrive, Missing by scanning the acknowledged event × webhook pairs without
// an arrival — so a harness or service bug shows up as an imbalance.
type Ledger struct {
	// Published is the number of deliveries the ingest acknowledged (202) for
	// the run's webhooks: the sum of the answers' per-event delivery counts.
	Published int64 `json:"published"`
	// Delivered is the number of distinct event × webhook pairs that reached
	// the receiver with a 2xx answer.
	Delivered int64 `json:"delivered"`
	// Missing is the number of acknowledged pairs with no arrival by the end
	// of the drain: lost, as far as this run can tell.
	Missing int64 `json:"missing"`
	// Duplicates counts arrivals of a pair that had already arrived
	// (at-least-once allows them; they are reported, not voiding).
	Duplicates int64 `json:"duplicates"`
	// Unexpected counts arrivals the generator never had acknowledged or
	// could not attribute (unknown sequence number or webhook path).
	Unexpected int64 `json:"unexpected"`
	// IngestFailed counts ingest requests that were not answered 202.
	IngestFailed int64 `json:"ingest_failed"`
	// ShortFanout counts acknowledged events queued for fewer webhooks than
	// the run created.
	ShortFanout int64 `json:"short_fanout"`
}

// ErrVoid marks a run whose numbers must not be published: the ledger did
// not balance, the ingest failed, or the run did not finish.
var ErrVoid = errors.New("run is VOID")

// VoidError says why a run is void; errors.Is(err, ErrVoid) holds.
type VoidError struct{ Reason string }

func (e *VoidError) Error() string { return "run is VOID: " + e.Reason }
func (e *VoidError) Unwrap() error { return ErrVoid }

// Check returns nil when the ledger balances and the run is valid, or a
// *VoidError naming the first reason it is not.
func (l Ledger) Check() error {
	switch {
	case l.IngestFailed > 0:
		return &VoidError{fmt.Sprintf("%d ingest request(s) failed", l.IngestFailed)}
	case l.Published == 0:
		return &VoidError{"nothing was published"}
	case l.ShortFanout > 0:
		return &VoidError{fmt.Sprintf("%d acknowledged event(s) were queued for fewer webhooks than the run created", l.ShortFanout)}
	case l.Unexpected > 0:
		return &VoidError{fmt.Sprintf("%d arrival(s) could not be attributed to an acknowledged event", l.Unexpected)}
	case l.Delivered < 0 || l.Missing < 0 || l.Published != l.Delivered+l.Missing:
		return &VoidError{fmt.Sprintf("ledger does not balance: published %d != delivered %d + missing %d", l.Published, l.Delivered, l.Missing)}
	}
	return nil
}

// latencies summarises delivery latencies (scheduled send to arrival).
type latencies struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// summarize sorts ds in place and returns its nearest-rank percentiles in
// milliseconds.
func summarize(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	slices.Sort(ds)
	return latencies{
		N:   len(ds),
		P50: ms(percentile(ds, 0.50)),
		P90: ms(percentile(ds, 0.90)),
		P99: ms(percentile(ds, 0.99)),
		Max: ms(ds[len(ds)-1]),
	}
}

// percentile is the nearest-rank percentile of sorted ds.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
