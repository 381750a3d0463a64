package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 * mib, 100},         // nothing measured yet
		{1 * mib, 64 * mib, 1000},  // capped
		{8 * mib, 64 * mib, 700},   // next collection at 64 MiB
		{16 * mib, 64 * mib, 300},  // idem
		{32 * mib, 64 * mib, 100},  // half the floor: the default
		{200 * mib, 64 * mib, 100}, // large heaps: never below the default
	} {
		if got := Percent(tc.live, tc.floor); got != tc.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", tc.live/mib, tc.floor/mib, got, tc.want)
		}
	}
}

// currentPercent reads GOGC without changing it.
func currentPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// A running tuner raises GOGC for this test binary's small heap, follows
// collections, and Stop puts the default back.
func TestTunerFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "") // Setenv restores it; the tuner must see it unset
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	tu := Start(DefaultFloor)
	if tu == nil {
		t.Fatal("Start returned nil with GOGC unset")
	}
	defer tu.Stop()
	for range 5 {
		runtime.GC()
		runtime.Gosched()
	}
	// The finalizer runs on its own goroutine after a collection.
	deadline := 200
	for currentPercent() <= 100 && deadline > 0 {
		runtime.GC()
		deadline--
	}
	if p := currentPercent(); p <= 100 {
		t.Fatalf("GOGC = %d with a small heap, want more than 100", p)
	}
	tu.Stop()
	if p := currentPercent(); p != 100 {
		t.Fatalf("GOGC = %d after Stop, want 100", p)
	}
}

func TestStartRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "50")
	if tu := Start(DefaultFloor); tu != nil {
		tu.Stop()
		t.Fatal("Start tuned GOGC although the GOGC environment variable is set")
	}
}
