package portal

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 480, 120
	chartBuckets   = 24
	// statsSample caps the deliveries one chart counts, and latencySample
	// the recent deliveries whose attempts give the latency figures.
	statsSample   = 5000
	latencySample = 50
)

// bar is one hour of the chart: three stacked segments.
type bar struct {
	Start                    time.Time
	Success, Failed, Pending int
	X, W                     int
	YS, HS, YF, HF, YP, HP   int
	Label                    string
}

// hookStats is an endpoint's last day: deliveries per hour by outcome and
// the latency of recent attempts.
type hookStats struct {
	Bars              []bar
	Max               int
	Sampled           int
	P50, P95, Slowest time.Duration
	LatencyN          int
	W, H              int
	From, Until       time.Time
}

func (p *Portal) hookStats(r *http.Request, s *session, hookID string, now time.Time) (*hookStats, error) {
	end := now.Truncate(time.Hour).Add(time.Hour)
	start := end.Add(-chartBuckets * time.Hour)
	recs, _, err := p.cfg.Store.QueryDeliveries(r.Context(), &store.QueryParams{AccountID: s.acc.ID, WebhookUUID: hookID, From: &start, Limit: statsSample})
	if err != nil {
		return nil, err
	}
	st := &hookStats{Bars: make([]bar, chartBuckets), Sampled: len(recs), W: chartW, H: chartH, From: start, Until: end}
	for i := range st.Bars {
		st.Bars[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	for _, rec := range recs {
		i := int(rec.CreatedAt.Sub(start) / time.Hour)
		if i < 0 || i >= chartBuckets {
			continue
		}
		switch rec.Status {
		case store.StatusSuccess:
			st.Bars[i].Success++
		case store.StatusFailed:
			st.Bars[i].Failed++
		default:
			st.Bars[i].Pending++
		}
	}
	for _, b := range st.Bars {
		st.Max = max(st.Max, b.Success+b.Failed+b.Pending)
	}
	scale := func(n int) int {
		if st.Max == 0 {
			return 0
		}
		return n * (chartH - 4) / st.Max
	}
	slot := chartW / chartBuckets
	for i := range st.Bars {
		b := &st.Bars[i]
		b.X, b.W = i*slot+1, slot-2
		b.HS, b.HF, b.HP = scale(b.Success), scale(b.Failed), scale(b.Pending)
		b.YS = chartH - b.HS
		b.YF = b.YS - b.HF
		b.YP = b.YF - b.HP
		b.Label = b.Start.UTC().Format("15:04") + " UTC: " + strconv.Itoa(b.Success) + " delivered, " + strconv.Itoa(b.Failed) + " failed, " + strconv.Itoa(b.Pending) + " pending"
	}

	// Latency of the most recent attempts.
	var durs []time.Duration
	for i, rec := range recs {
		if i >= latencySample {
			break
		}
		if rec.Attempts == 0 {
			continue
		}
		atts, err := p.cfg.Store.ListAttempts(r.Context(), s.acc.ID, rec.DeliveryID)
		if err != nil {
			return nil, err
		}
		for _, a := range atts {
			durs = append(durs, a.Duration)
		}
	}
	if len(durs) > 0 {
		slices.Sort(durs)
		st.LatencyN = len(durs)
		st.P50 = durs[len(durs)/2]
		st.P95 = durs[min(len(durs)-1, len(durs)*95/100)]
		st.Slowest = durs[len(durs)-1]
	}
	return st, nil
}

// stats shows every endpoint's chart.
func (p *Portal) stats(w http.ResponseWriter, r *http.Request, s *session) {
	var list models.WebhookListResponse
	if err := p.call(r, s, http.MethodGet, "/webhooks", nil, &list); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	type row struct {
		Hook  *hookView
		Stats *hookStats
	}
	now := p.cfg.Now()
	rows := make([]row, 0, len(list.Webhooks))
	for _, wh := range list.Webhooks {
		h := newHookView(wh)
		st, err := p.hookStats(r, s, h.ID, now)
		if err != nil {
			p.internal(w, r, err)
			return
		}
		rows = append(rows, row{h, st})
	}
	p.render(w, r, http.StatusOK, "stats", s, map[string]any{"Title": "Stats", "Rows": rows})
}
