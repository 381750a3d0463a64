// Package gcfloor keeps the Go garbage collector from collecting a small heap
// far more often than memory requires.
//
// jetwebhooks keeps little live memory (about 10-25 MB: claims in flight,
// connections, the API's schema) but allocates a lot per delivery (request and
// response headers, bodies, rows). With the default GOGC=100 the collector
// runs every time the program has allocated as much as is live, which at
// thousands of deliveries a second is dozens of collections a second, each
// scanning every goroutine's stack: on the 2-core benchmark machine collection
// and allocation took about a fifth of the CPU, and the floor cut the CPU per
// delivery by 15-20 % (BENCHMARKS.md).
//
// A floor fixes that without raising memory where it matters: after every
// collection GOGC is set so that the next one starts when the heap reaches the
// floor, as long as the live heap is under half of it; above that GOGC stays
// at 100, the default. This is the threshold tuning of TiDB's gctuner: unlike a
// memory limit (GOMEMLIMIT), it never makes the collector run more often than
// the default, however large the live heap grows.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultFloor is the heap size below which the collector is not started for
// want of memory: 64 MiB.
const DefaultFloor = 64 << 20

// maxPercent bounds GOGC when the live heap is tiny (at start-up), so that one
// burst cannot grow a heap of a few megabytes by more than ten times over.
const maxPercent = 1000

// Percent returns the GOGC that makes the collection after a cycle that left
// live bytes in use start at floor bytes of heap: 100 (the default) once live
// is half the floor or more, at most maxPercent.
func Percent(live, floor uint64) int {
	if live == 0 || live >= floor/2 {
		return 100
	}
	return int(min(floor*100/live-100, maxPercent))
}

// Tuner adjusts GOGC after every collection. Create one with Start.
type Tuner struct {
	floor   uint64
	stopped atomic.Bool
	mu      sync.Mutex
	last    int
	sample  []metrics.Sample
}

// Start sets the floor to floor bytes and keeps it until Stop. It returns nil
// and changes nothing if the GOGC environment variable is set: an operator's
// explicit choice wins. Only one Tuner should run at a time.
func Start(floor uint64) *Tuner {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	t := &Tuner{floor: floor, last: 100, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.adjust()
	t.arm()
	return t
}

// Stop ends the tuning and restores GOGC=100. It is safe on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	debug.SetGCPercent(100)
	t.last = 100
}

// sentinel is garbage whose finalizer runs once per collection: the
// finalizer re-arms a new one. It holds a pointer so that it is not a tiny
// allocation (whose finalizer may never run).
type sentinel struct{ t *Tuner }

func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

func (t *Tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return // not reported by this runtime: leave GOGC alone
	}
	p := Percent(t.sample[0].Value.Uint64(), t.floor)
	// Small changes are not worth the heap lock SetGCPercent takes.
	if d := p - t.last; d > t.last/20 || d < -t.last/20 {
		debug.SetGCPercent(p)
		t.last = p
	}
}
