package server_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// TestRetentionPurgesFinishedHistoryOnly runs the purge through the real
// stack: deliveries made over HTTP to real receivers, history read through
// the API. Past retention a succeeded and a dead-lettered event are gone
// (query, replay, metrics say so) while an event whose delivery is still in
// flight stays whole, and goes only once it has finished longer ago than the
// retention.
func TestRetentionPurgesFinishedHistoryOnly(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer down.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer releaseOnce.Do(func() { close(release) })

	e := newEnv(t, func(c *server.Config) {
		c.PurgeInterval = time.Hour // the test calls Purge itself
		c.PurgeBatch = 1            // every event its own batch: batches must follow each other
		c.DeliveryTimeout = 30 * time.Second
	})
	for _, h := range []struct {
		url string
		typ client.SubscribableEventType
	}{{ok.URL, "outbound.delivered"}, {down.URL, "outbound.bounced"}, {slow.URL, "outbound.deferred"}} {
		if _, err := e.client.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "h", URL: h.url,
			Events: []client.SubscribableEventType{h.typ}}); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(id, typ string) {
		t.Helper()
		if _, err := e.ingest.PublishEvent(t.Context(), client.Event{ID: client.Ptr(id), AccountID: e.acc.ID, Type: client.EventType(typ)}); err != nil {
			t.Fatal(err)
		}
	}
	publish("evt_succeeded", "outbound.delivered")
	publish("evt_dead", "outbound.bounced")
	publish("evt_in_flight", "outbound.deferred")
	status := func(id string) string {
		r, err := e.client.QueryEvents(t.Context(), client.QueryRequest{EventID: client.Ptr(id)})
		if err != nil || len(r.Events) != 1 {
			return ""
		}
		return string(r.Events[0].LatestStatus)
	}
	waitFor(t, "one success and one dead letter", func() bool {
		return status("evt_succeeded") == "success" && status("evt_dead") == "failed"
	})
	listed := func() []string {
		t.Helper()
		r, err := e.client.QueryEvents(t.Context(), client.QueryRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range r.Events {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	if got := listed(); len(got) != 3 {
		t.Fatalf("before any purge the history lists %v", got)
	}
	if res, err := e.srv.Purge(t.Context()); err != nil || res.Events != 0 {
		t.Fatalf("purge within retention = %+v, %v; want nothing deleted", res, err)
	}

	e.clock.Add(31 * 24 * time.Hour)
	res, err := e.srv.Purge(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// evt_succeeded (1 delivery, 1 attempt), evt_dead (1 delivery, 3 attempts).
	if want := (store.PurgeResult{Events: 2, Deliveries: 2, Attempts: 4}); res != want {
		t.Fatalf("purge past retention = %+v, want %+v", res, want)
	}
	if got := listed(); len(got) != 1 || got[0] != "evt_in_flight" {
		t.Fatalf("after the purge the history lists %v, want only the event still in flight", got)
	}
	_, err = e.client.ReplayEvent(t.Context(), client.ReplayRequest{EventID: client.Ptr("evt_succeeded")})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || !strings.Contains(apiErr.Message, "past retention") {
		t.Fatalf("replay of a purged event = %v, want 404 saying it may be past retention", err)
	}
	for series, want := range map[string]float64{
		`jetwebhooks_retention_purged_rows_total{table="events"}`:     2,
		`jetwebhooks_retention_purged_rows_total{table="deliveries"}`: 2,
		`jetwebhooks_retention_purged_rows_total{table="attempts"}`:   4,
	} {
		if got := metricValue(t, e.url, series); got != want {
			t.Fatalf("%s = %v, want %v", series, got, want)
		}
	}
	if age := metricValue(t, e.url, "jetwebhooks_retention_oldest_event_age_seconds"); age < (31*24*time.Hour).Seconds()-60 {
		t.Fatalf("oldest event age = %vs, want the in-flight event's 31 days", age)
	}

	if size := metricValue(t, e.url, "jetwebhooks_database_size_bytes"); size <= 0 {
		t.Fatalf("database size = %v, want the SQLite file's size", size)
	}

	// The in-flight delivery finishes; replayed now, the event is recent
	// history again, kept for another retention period.
	releaseOnce.Do(func() { close(release) })
	waitFor(t, "the slow delivery to succeed", func() bool { return status("evt_in_flight") == "success" })
	if _, err := e.client.ReplayEvent(t.Context(), client.ReplayRequest{EventID: client.Ptr("evt_in_flight")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay to succeed", func() bool {
		r, err := e.client.QueryEvents(t.Context(), client.QueryRequest{EventID: client.Ptr("evt_in_flight")})
		return err == nil && len(r.Events) == 1 && r.Events[0].LatestStatus == "success" && r.Events[0].TotalAttempts == 2
	})
	if res, err := e.srv.Purge(t.Context()); err != nil || res.Events != 0 {
		t.Fatalf("purge of a delivery finished just now = %+v, %v; want nothing deleted", res, err)
	}
	e.clock.Add(31 * 24 * time.Hour)
	if res, err := e.srv.Purge(t.Context()); err != nil || res.Events != 1 {
		t.Fatalf("purge a retention period after it finished = %+v, %v; want it deleted", res, err)
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("history lists %v, want nothing", got)
	}
}

// TestRetentionNegativeKeepsEverything checks that a negative retention
// turns the purge off.
func TestRetentionNegativeKeepsEverything(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	e := newEnv(t, func(c *server.Config) { c.Retention = -1 })
	if _, err := e.client.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "h", URL: ok.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ingest.PublishEvent(t.Context(), client.Event{AccountID: e.acc.ID, Type: "outbound.delivered"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool {
		r, err := e.client.QueryEvents(t.Context(), client.QueryRequest{Status: client.Ptr[client.QueryStatus]("success")})
		return err == nil && r.Total == 1
	})
	e.clock.Add(10 * 365 * 24 * time.Hour)
	if res, err := e.srv.Purge(t.Context()); err != nil || res.Events != 0 {
		t.Fatalf("purge with retention off = %+v, %v", res, err)
	}
}

// lockedBuffer is a log destination goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestShortRetentionIsWarned checks that a retention in seconds is accepted
// and warned about, and the default is not.
func TestShortRetentionIsWarned(t *testing.T) {
	for _, c := range []struct {
		retention time.Duration
		warned    bool
	}{{5 * time.Second, true}, {0, false}} {
		var logs lockedBuffer
		newEnv(t, func(cfg *server.Config) {
			cfg.Retention = c.retention
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		if got := strings.Contains(logs.String(), "retention is very short"); got != c.warned {
			t.Errorf("retention %v: warned = %v, want %v\n%s", c.retention, got, c.warned, logs.String())
		}
	}
}
