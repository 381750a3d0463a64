package bench

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// EngineCounters are the in-process engine's own counts, read from its
// Prometheus metrics: attempts the receiver never saw (connection errors,
// timeouts) show up here as retries.
type EngineCounters struct {
	AttemptsSuccess float64 `json:"engine_attempts_success"`
	AttemptsRetry   float64 `json:"engine_attempts_retry"`
	AttemptsFailed  float64 `json:"engine_attempts_failed"`
	Claims          float64 `json:"engine_claims"`
	Takeovers       float64 `json:"engine_lease_takeovers"`
}

// scrapeEngine reads the counters from a /metrics handler's text output.
func scrapeEngine(h http.Handler) EngineCounters {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var c EngineCounters
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case `jetwebhooks_delivery_attempts_total{outcome="success"}`:
			c.AttemptsSuccess = v
		case `jetwebhooks_delivery_attempts_total{outcome="retry"}`:
			c.AttemptsRetry = v
		case `jetwebhooks_delivery_attempts_total{outcome="failed"}`:
			c.AttemptsFailed = v
		case "jetwebhooks_delivery_claims_total":
			c.Claims = v
		case "jetwebhooks_delivery_lease_takeovers_total":
			c.Takeovers = v
		}
	}
	return c
}
