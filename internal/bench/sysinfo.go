package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened, for the result line.
type Machine struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
}

// ThisMachine reads the Go runtime and /proc/cpuinfo.
func ThisMachine() Machine {
	return Machine{
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   cpuModel(),
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo ("unknown" elsewhere).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// procStatusKB returns a "VmXXX:   1234 kB" field of /proc/self/status in
// bytes, or -1 when it cannot be read (not Linux).
func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		return n << 10
	}
	return -1
}

// PeakRSS is the process's peak resident set (VmHWM), in bytes; -1 if unknown.
func PeakRSS() int64 { return procStatusKB("VmHWM") }

// RSS is the process's current resident set (VmRSS), in bytes; -1 if unknown.
func RSS() int64 { return procStatusKB("VmRSS") }

// resetPeakRSS resets VmHWM to the current RSS (Linux: "5" to clear_refs), so
// a later PeakRSS covers only what follows. It reports whether it worked.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

func mb(bytes int64) float64 {
	if bytes < 0 {
		return -1
	}
	return round(float64(bytes)/(1<<20), 1)
}

// cpuMicrosPer returns the CPU time between two cpuTime readings per item,
// in microseconds (0 if unknown).
func cpuMicrosPer(from, to time.Duration, n int64) float64 {
	if from == 0 || to <= from || n <= 0 {
		return 0
	}
	return round(float64(to-from)/float64(time.Microsecond)/float64(n), 1)
}

// cpuRatio is the reference's CPU per request over the run's CPU per
// delivery (0 if either is unknown).
func cpuRatio(rawPerRequest, perDelivery float64) float64 {
	if rawPerRequest <= 0 || perDelivery <= 0 {
		return 0
	}
	return round(rawPerRequest/perDelivery, 3)
}
