package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func newPurgedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jetwebhooks_retention_purged_rows_total", Help: "Rows the retention purge deleted on this node, by table: events, deliveries, attempts.",
	}, []string{"table"})
}

// Purged counts rows the retention purge deleted.
func (m *Metrics) Purged(events, deliveries, attempts int) {
	m.purged.WithLabelValues("events").Add(float64(events))
	m.purged.WithLabelValues("deliveries").Add(float64(deliveries))
	m.purged.WithLabelValues("attempts").Add(float64(attempts))
}

// retentionCollector reads the oldest retained event from the store on each
// scrape, so every node reports it, whichever node purges.
type retentionCollector struct {
	st  store.Store
	now func() time.Time
}

var oldestEventDesc = prometheus.NewDesc("jetwebhooks_retention_oldest_event_age_seconds",
	"Age of the oldest event still stored (0 when there is none); with retention working it stays near the retention period.", nil, nil)

func (r *retentionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- oldestEventDesc }

func (r *retentionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, ok, err := r.st.OldestEventAt(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(oldestEventDesc, err)
		return
	}
	age := 0.0
	if now := r.now(); ok && now.After(t) {
		age = now.Sub(t).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(oldestEventDesc, prometheus.GaugeValue, age)
}

var dbSizeDesc = prometheus.NewDesc("jetwebhooks_database_size_bytes",
	"Size of the database on disk (SQLite: file and write-ahead log; PostgreSQL: pg_database_size); under steady load with retention it levels off.", nil, nil)

// sizeCollector reads the database's size on each scrape.
type sizeCollector struct{ st store.Sizer }

func (c sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dbSizeDesc }

func (c sizeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.st.DatabaseSize(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dbSizeDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(dbSizeDesc, prometheus.GaugeValue, float64(n))
}

// WatchDatabaseSize adds jetwebhooks_database_size_bytes, read from st at
// scrape time. The server passes its backend itself: the wrappers around it
// do not forward Sizer.
func (m *Metrics) WatchDatabaseSize(st store.Sizer) {
	m.reg.MustRegister(sizeCollector{st})
}
