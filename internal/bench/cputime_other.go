//go:build !unix

package bench

import "time"

// cpuTime is unknown here: the CPU figures are left out of the result.
func cpuTime() time.Duration { return 0 }
