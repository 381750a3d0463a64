package bench

import (
	"slices"
	"sync"
	"time"
)

// HookRate is the rate at which the receiver saw one webhook's attempts.
type HookRate struct {
	// Webhook is the webhook's index in the run (its path /h/k).
	Webhook  int   `json:"webhook"`
	Attempts int64 `json:"attempts"`
	// MaxPerS is the most attempts that arrived within any one second
	// (a sliding window: [t, t+1s) for every arrival t).
	MaxPerS int `json:"max_per_s"`
	// MeanPerS is the mean rate from the first attempt to the last:
	// (attempts − 1) / (last − first), so a webhook paced exactly at r
	// attempts a second shows r.
	MeanPerS float64 `json:"mean_per_s"`
}

// attemptLog keeps the arrival time of every attempt, per webhook. Only a
// rate-limited run keeps one: a run of a million deliveries would hold 8 MB
// per million attempts, for nothing.
type attemptLog struct {
	hooks []hookArrivals
}

type hookArrivals struct {
	mu sync.Mutex
	ns []int64
}

func newAttemptLog(fanout int) *attemptLog {
	return &attemptLog{hooks: make([]hookArrivals, fanout)}
}

// add records an attempt to webhook hook at ns (unix nanoseconds); a hook
// outside the run is not the run's (the ledger counts it as unexpected).
func (l *attemptLog) add(hook int, ns int64) {
	if hook < 0 || hook >= len(l.hooks) {
		return
	}
	h := &l.hooks[hook]
	h.mu.Lock()
	h.ns = append(h.ns, ns)
	h.mu.Unlock()
}

// rates computes every webhook's observed rate.
func (l *attemptLog) rates() []HookRate {
	out := make([]HookRate, len(l.hooks))
	for k := range l.hooks {
		h := &l.hooks[k]
		h.mu.Lock()
		ns := slices.Clone(h.ns)
		h.mu.Unlock()
		out[k] = rateOf(k, ns)
	}
	return out
}

// rateOf is the observed rate of one webhook's attempts (arrival times in
// unix nanoseconds, in any order).
func rateOf(hook int, ns []int64) HookRate {
	slices.Sort(ns)
	r := HookRate{Webhook: hook, Attempts: int64(len(ns))}
	// Every maximal window starts at an arrival: for each arrival j, the
	// window ending at it holds the arrivals i..j with ns[j]-ns[i] < 1s.
	i := 0
	for j := range ns {
		for ns[j]-ns[i] >= int64(time.Second) {
			i++
		}
		r.MaxPerS = max(r.MaxPerS, j-i+1)
	}
	if len(ns) > 1 && ns[len(ns)-1] > ns[0] {
		r.MeanPerS = round(float64(len(ns)-1)/time.Duration(ns[len(ns)-1]-ns[0]).Seconds(), 2)
	}
	return r
}

// overallRate sums up the webhooks' rates: the highest one-second count of
// any webhook, and the mean of their mean rates.
func overallRate(rs []HookRate) (maxPerS int, meanPerS float64) {
	n := 0
	for _, r := range rs {
		maxPerS = max(maxPerS, r.MaxPerS)
		if r.Attempts > 1 {
			meanPerS += r.MeanPerS
			n++
		}
	}
	if n > 0 {
		meanPerS = round(meanPerS/float64(n), 2)
	}
	return maxPerS, meanPerS
}
