package bench

import (
	"testing"
	"time"
)

func TestRateOf(t *testing.T) {
	ms := func(v ...int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x) * int64(time.Millisecond)
		}
		return out
	}
	// Paced at 20/s for 3 s (61 arrivals, 50 ms apart): 20 in any second
	// (an arrival exactly 1 s after another starts the next window), 20/s.
	var paced []int
	for i := range 61 {
		paced = append(paced, 1000+i*50)
	}
	for _, tc := range []struct {
		name string
		ns   []int64
		want HookRate
	}{
		{"none", nil, HookRate{Webhook: 3}},
		{"one", ms(5), HookRate{Webhook: 3, Attempts: 1, MaxPerS: 1}},
		{"paced", ms(paced...), HookRate{Webhook: 3, Attempts: 61, MaxPerS: 20, MeanPerS: 20}},
		// A burst of 5 in 10 ms, in the middle of a slow stream, unsorted.
		{"burst", ms(3000, 0, 1500, 1502, 1504, 1506, 1510, 999), HookRate{Webhook: 3, Attempts: 8, MaxPerS: 6, MeanPerS: 2.33}},
	} {
		if got := rateOf(3, tc.ns); got != tc.want {
			t.Errorf("%s: rateOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	mx, mean := overallRate([]HookRate{{Attempts: 61, MaxPerS: 20, MeanPerS: 20}, {Attempts: 8, MaxPerS: 6, MeanPerS: 2.5}, {Attempts: 1, MaxPerS: 1}})
	if mx != 20 || mean != 11.25 {
		t.Errorf("overallRate = %d, %v; want 20, 11.25 (a webhook of one attempt has no mean)", mx, mean)
	}
}
