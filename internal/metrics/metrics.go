// Package metrics exposes jetwebhooks' Prometheus metrics: HTTP traffic by
// route, events ingested, deliveries by outcome, attempt latency, claims and
// lease takeovers, and the queue's depth and age read from the store at
// scrape time (so they are right on every node, whoever did the work).
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Metrics holds the collectors. It implements delivery.Observer.
type Metrics struct {
	reg             *prometheus.Registry
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	eventsIngested  prometheus.Counter
	deliveries      *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	claims          prometheus.Counter
	takeovers       prometheus.Counter
	authRefusals    *prometheus.CounterVec
	queueVacuums    prometheus.Counter
	polledUp        prometheus.Counter
	purged          *prometheus.CounterVec
}

// New registers the metrics in a fresh registry (with Go and process
// collectors). Queue gauges query st at scrape time with clock now.
func New(st store.Store, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetwebhooks_http_requests_total", Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jetwebhooks_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		eventsIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetwebhooks_events_ingested_total", Help: "Events accepted for delivery (duplicates not counted).",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetwebhooks_delivery_attempts_total", Help: "Delivery attempts by the delivery's resulting status: success, retry or failed (permanent or dead-lettered).",
		}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jetwebhooks_delivery_attempt_duration_seconds", Help: "Duration of delivery attempts, request to response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		claims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetwebhooks_delivery_claims_total", Help: "Deliveries claimed by this node's engine.",
		}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetwebhooks_delivery_lease_takeovers_total", Help: "Claims of deliveries whose previous lease expired unfinished (a worker died or stalled).",
		}),
		authRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetwebhooks_auth_refusals_total", Help: "Refused authentications: invalid (a wrong API key or ingest token, 401) or throttled (the client address spent its failure budget, 429).",
		}, []string{"reason"}),
		polledUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetwebhooks_fallback_pickups_total", Help: "Deliveries the engine found only by its fallback poll, with no wake-up for them; near zero when wake-ups work.",
		}),
		queueVacuums: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetwebhooks_queue_vacuums_total", Help: "Vacuums of the delivery queue the service ran itself (PostgreSQL), so claims stay cheap whatever autovacuum does.",
		}),
	}
	m.purged = newPurgedCounter()
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.eventsIngested, m.deliveries, m.attemptDuration, m.claims, m.takeovers, m.authRefusals, m.queueVacuums, m.polledUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queueCollector{st: st, now: now}, m.purged, &retentionCollector{st: st, now: now})
	return m
}

// Registry returns the registry, for embedding programs that add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Claimed implements delivery.Observer.
func (m *Metrics) Claimed(n, takenOver int) {
	m.claims.Add(float64(n))
	m.takeovers.Add(float64(takenOver))
}

// Attempted implements delivery.Observer.
func (m *Metrics) Attempted(status string, _ int, d time.Duration) {
	m.deliveries.WithLabelValues(status).Inc()
	m.attemptDuration.Observe(d.Seconds())
}

// Ingested counts accepted events.
func (m *Metrics) Ingested(n int) { m.eventsIngested.Add(float64(n)) }

// PolledUp counts deliveries found only by the fallback poll
// (delivery.Observer).
func (m *Metrics) PolledUp(n int) { m.polledUp.Add(float64(n)) }

// QueueVacuumed counts a vacuum of the delivery queue.
func (m *Metrics) QueueVacuumed() { m.queueVacuums.Inc() }

// AuthRefused counts a refused authentication (api.Config.AuthRefused).
func (m *Metrics) AuthRefused(throttled bool) {
	reason := "invalid"
	if throttled {
		reason = "throttled"
	}
	m.authRefusals.WithLabelValues(reason).Inc()
}

// Middleware records every request by its route template (bounded
// cardinality: unknown paths count as "unmatched").
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				// Let the error handler write the answer so its status is known.
				c.Error(err)
				err = nil
			}
			route := c.Path()
			if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
				route = "unmatched"
			}
			method := c.Request().Method
			m.httpRequests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
			m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// queueCollector reads the queue from the store on each scrape.
type queueCollector struct {
	st  store.Store
	now func() time.Time
}

var (
	queueDesc = prometheus.NewDesc("jetwebhooks_queue_deliveries", "Deliveries by queue state: due (ready to attempt), scheduled (waiting for a retry) and dead (failed, kept for replay).",
		[]string{"state"}, nil)
	oldestDesc = prometheus.NewDesc("jetwebhooks_queue_oldest_due_age_seconds", "How long the oldest due delivery has been waiting (0 when none is due).", nil, nil)
	upDesc     = prometheus.NewDesc("jetwebhooks_queue_stats_up", "1 if the queue statistics could be read from the database.", nil, nil)
)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- oldestDesc
	ch <- upDesc
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := q.now()
	st, err := q.st.QueueStats(ctx, now)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Due), "due")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Scheduled), "scheduled")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Dead), "dead")
	age := 0.0
	if !st.OldestDue.IsZero() && now.After(st.OldestDue) {
		age = now.Sub(st.OldestDue).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
