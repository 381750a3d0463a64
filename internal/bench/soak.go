package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A soak run offers a fixed rate for a fixed duration (Config.Soak) and
// reports every Config.ReportEvery what a steady state must keep flat: the
// database's size, the service's resident memory, the latency of the
// deliveries that arrived in the interval (p50, p99, from their scheduled
// send time, as the whole run measures it) and deliveries per second. Size
// and memory come from the service's /metrics (jetwebhooks_database_size_bytes
// and process_resident_memory_bytes), so they are the service's own whether
// it runs in process or is a --target; in process the RSS is this whole
// process's (server, load generator and receiver).

// SoakReport is one interval of a soak run.
type SoakReport struct {
	// ElapsedS is the end of the interval, in seconds from the first publish.
	ElapsedS float64 `json:"elapsed_s"`
	// DBBytes and RSSBytes are -1 when the metrics could not be read.
	DBBytes        int64   `json:"db_bytes"`
	RSSBytes       int64   `json:"rss_bytes"`
	P50            float64 `json:"p50_ms"`
	P99            float64 `json:"p99_ms"`
	Deliveries     int64   `json:"deliveries"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
}

// Line is the report's progress line.
func (r SoakReport) Line() string {
	return fmt.Sprintf("soak t=%s db_mb=%s rss_mb=%s p50_ms=%.2f p99_ms=%.2f deliveries=%d deliveries_per_s=%.1f",
		(time.Duration(r.ElapsedS * float64(time.Second))).Round(time.Second), mbOrUnknown(r.DBBytes), mbOrUnknown(r.RSSBytes),
		r.P50, r.P99, r.Deliveries, r.DeliveriesPerS)
}

func mbOrUnknown(b int64) string {
	if b < 0 {
		return "?"
	}
	return strconv.FormatFloat(mb(b), 'f', 1, 64)
}

// window collects the latencies of first arrivals since it was last taken.
type window struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (w *window) add(d time.Duration) {
	w.mu.Lock()
	w.lat = append(w.lat, d)
	w.mu.Unlock()
}

func (w *window) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.lat
	w.lat = make([]time.Duration, 0, len(out))
	return out
}

// soakReporter reports every interval until stopped.
type soakReporter struct {
	every      time.Duration
	metricsURL string
	win        *window
	out        io.Writer
	hc         *http.Client

	stop    chan struct{}
	done    chan struct{}
	reports []SoakReport
}

func startSoakReporter(every time.Duration, metricsURL string, win *window, out io.Writer, start time.Time) *soakReporter {
	r := &soakReporter{every: every, metricsURL: metricsURL, win: win, out: out, hc: &http.Client{Timeout: 10 * time.Second},
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop(start)
	return r
}

func (r *soakReporter) loop(start time.Time) {
	defer close(r.done)
	// The first interval starts at the first scheduled publish.
	if d := time.Until(start); d > 0 {
		select {
		case <-time.After(d):
		case <-r.stop:
			return
		}
	}
	r.win.take()
	t := time.NewTicker(r.every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			lat := r.win.take()
			l := summarize(lat)
			rep := SoakReport{ElapsedS: round(now.Sub(start).Seconds(), 1), DBBytes: -1, RSSBytes: -1,
				P50: l.P50, P99: l.P99, Deliveries: int64(l.N), DeliveriesPerS: round(float64(l.N)/now.Sub(last).Seconds(), 1)}
			last = now
			rep.DBBytes, rep.RSSBytes = r.scrape()
			r.reports = append(r.reports, rep)
			fmt.Fprintln(r.out, rep.Line())
		}
	}
}

// finish stops the reporter and returns its reports.
func (r *soakReporter) finish() []SoakReport {
	close(r.stop)
	<-r.done
	return r.reports
}

// scrape reads the database size and the resident memory from the
// service's metrics (-1 for what it could not read).
func (r *soakReporter) scrape() (db, rss int64) { return scrapeSizes(r.hc, r.metricsURL) }

// scrapeSizes reads jetwebhooks_database_size_bytes and
// process_resident_memory_bytes from a /metrics URL (-1 for what it could
// not read).
func scrapeSizes(hc *http.Client, url string) (db, rss int64) {
	db, rss = -1, -1
	if url == "" {
		return db, rss
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return db, rss
	}
	resp, err := hc.Do(req)
	if err != nil {
		return db, rss
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return db, rss
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "jetwebhooks_database_size_bytes":
			dst = &db
		case "process_resident_memory_bytes":
			dst = &rss
		default:
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			*dst = int64(v)
		}
	}
	return db, rss
}
