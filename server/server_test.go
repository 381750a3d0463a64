package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// clock is the wall clock plus an offset the test can jump forward, so
// real-time retries still happen while days pass at a call.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type env struct {
	srv    *server.Server
	raw    store.Store // the unwrapped store: what is really on disk
	url    string
	client *client.Client
	ingest *client.Client
	acc    *store.Account
	clock  *clock
	cancel context.CancelFunc
	done   chan error
}

func newEnv(t *testing.T, mod func(*server.Config)) *env {
	t.Helper()
	raw, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ck := &clock{}
	cfg := server.Config{
		IngestToken:     "ingest-test",
		EgressAllow:     []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		RetrySchedule:   []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond},
		DeliveryTimeout: 2 * time.Second,
		PollInterval:    20 * time.Millisecond,
		SecretKey:       []byte("0123456789abcdef0123456789abcdef"),
		Now:             ck.Now,
		RateLimit:       -1,
		// Every response the tests of this package cause is held to the spec.
		OnContractViolation: func(v contract.Violation) { t.Errorf("contract violation: %s", v) },
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.New(t.Context(), cfg, raw)
	if err != nil {
		t.Fatal(err)
	}
	acc, key, err := accounts.Create(t.Context(), raw, "Acme", []string{"api-user"}, []string{"example.com"}, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{srv: srv, raw: raw, url: "http://" + ln.Addr().String(), acc: acc, clock: ck, cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-e.done })
	e.client, _ = client.New(e.url, key)
	e.ingest, _ = client.New(e.url, "", client.WithIngestToken("ingest-test"))
	return e
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestReadyzAndSpecAndDocs(t *testing.T) {
	e := newEnv(t, nil)
	if code, body, _ := get(t, e.url+"/readyz"); code != 200 || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	if code, _, _ := get(t, e.url+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	// The served spec is the embedded one, in both encodings.
	want, _ := apiserver.GetSpec()
	for _, path := range []string{"/openapi.yaml", "/openapi.json"} {
		code, body, _ := get(t, e.url+path)
		if code != 200 {
			t.Fatalf("%s = %d", path, code)
		}
		doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
		if err != nil {
			t.Fatalf("%s does not parse: %v", path, err)
		}
		if len(doc.Paths.Map()) != len(want.Paths.Map()) || doc.Info.Title != want.Info.Title {
			t.Fatalf("%s differs from the embedded spec", path)
		}
	}
	code, body, _ := get(t, e.url+"/docs/")
	if code != 200 || !strings.Contains(body, "swagger-ui") || !strings.Contains(body, "/openapi.json") {
		t.Fatalf("/docs/ = %d, body lacks Swagger UI wiring:\n%.400s", code, body)
	}
	// Assets come from the server itself, never a CDN.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		if strings.HasPrefix(m[1], "http") || strings.HasPrefix(m[1], "//") {
			t.Fatalf("/docs/ loads a third-party asset: %s", m[1])
		}
	}
	// Readiness follows the database.
	e.raw.Close()
	if code, _, _ := get(t, e.url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database closed = %d, want 503", code)
	}
}

// TestDocsInBrowser loads /docs in headless Chromium and finds every
// operation's summary on the rendered page.
func TestDocsInBrowser(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("JETWEBHOOKS_TEST_BROWSER") == "required" {
			t.Fatal("chromium is required (JETWEBHOOKS_TEST_BROWSER=required) but not installed")
		}
		t.Skip("chromium not installed; .ci/run installs it (apt-get install chromium)")
	}
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=15000", "--dump-dom", e.url+"/docs/")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	spec, _ := apiserver.GetSpec()
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.Contains(dom, op.Summary) {
				t.Errorf("rendered docs lack %s %s (%q)", method, path, op.Summary)
			}
		}
	}
}

func metricValue(t *testing.T, url, series string) float64 {
	t.Helper()
	_, body, _ := get(t, url+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			if _, err := fmtSscan(strings.TrimPrefix(line, series+" "), &v); err == nil {
				return v
			}
		}
	}
	return -1
}

func TestMetricsFollowDeliveries(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !seen[r.Header.Get("X-Webhook-ID")]
		seen[r.Header.Get("X-Webhook-ID")] = true
		n := len(seen)
		mu.Unlock()
		if first && n%2 == 0 {
			w.WriteHeader(500) // every second event fails once, then succeeds on its retry
		}
	}))
	defer recv.Close()
	e := newEnv(t, nil)
	if _, err := e.client.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "m", URL: recv.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
		t.Fatal(err)
	}
	before := metricValue(t, e.url, "jetwebhooks_events_ingested_total")
	if before != 0 {
		t.Fatalf("ingested before any event = %v", before)
	}
	evs := make([]client.Event, 10)
	for i := range evs {
		evs[i] = client.Event{AccountID: e.acc.ID, Type: "outbound.delivered"}
	}
	if _, err := e.ingest.PublishEvents(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, e.url, `jetwebhooks_delivery_attempts_total{outcome="success"}`) != 10 {
		if time.Now().After(deadline) {
			_, body, _ := get(t, e.url+"/metrics")
			for _, l := range strings.Split(body, "\n") {
				if strings.HasPrefix(l, "jetwebhooks_") {
					t.Log(l)
				}
			}
			t.Fatal("timed out waiting for every delivery to succeed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := metricValue(t, e.url, "jetwebhooks_events_ingested_total"); v != 10 {
		t.Fatalf("events ingested = %v, want 10", v)
	}
	if v := metricValue(t, e.url, `jetwebhooks_delivery_attempts_total{outcome="retry"}`); v < 1 {
		t.Fatalf("retries counted = %v, want ≥ 1", v)
	}
	if v := metricValue(t, e.url, "jetwebhooks_delivery_claims_total"); v < 10 {
		t.Fatalf("claims = %v", v)
	}
	if v := metricValue(t, e.url, `jetwebhooks_queue_deliveries{state="due"}`); v != 0 {
		t.Fatalf("due after draining = %v", v)
	}
	if v := metricValue(t, e.url, `jetwebhooks_http_requests_total{code="202",method="POST",route="/events/batch"}`); v != 1 {
		t.Fatalf("HTTP requests of /events/batch = %v, want 1", v)
	}
	if v := metricValue(t, e.url, "jetwebhooks_delivery_attempt_duration_seconds_count"); v < 10 {
		t.Fatalf("attempt latency observations = %v", v)
	}
}

func TestMetricsOnSeparateAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	e := newEnv(t, func(c *server.Config) { c.MetricsListener = ln })
	hc := &http.Client{Timeout: 2 * time.Second}
	waitFor(t, "the metrics listener", func() bool {
		resp, err := hc.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if code, _, _ := get(t, e.url+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics beside the API = %d, want 404 when it has its own address", code)
	}
}

func TestAutoDisable(t *testing.T) {
	var gone atomic.Bool
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gone.Load() {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(500)
	}))
	defer recv.Close()
	e := newEnv(t, func(c *server.Config) { c.MaintenanceInterval = time.Hour })
	w, err := e.client.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "flaky", URL: recv.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ingest.PublishEvent(t.Context(), client.Event{AccountID: e.acc.ID, Type: "outbound.delivered"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery to be dead-lettered", func() bool {
		r, err := e.client.QueryEvents(t.Context(), client.QueryRequest{Status: client.Ptr[client.QueryStatus]("failed")})
		return err == nil && r.Total == 1
	})
	// Four days of failures: still enabled.
	e.clock.Add(4 * 24 * time.Hour)
	if err := e.srv.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.client.GetWebhook(t.Context(), w.UUID.String()); got.Status != "enabled" || !got.DisabledReason.IsNull() {
		t.Fatalf("disabled before the window: %+v", got)
	}
	// Past five days: disabled, with a reason and a time GET shows.
	e.clock.Add(25 * time.Hour)
	if err := e.srv.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := e.client.GetWebhook(t.Context(), w.UUID.String())
	reason, _ := got.DisabledReason.Get()
	at, _ := got.DisabledAt.Get()
	if got.Status != "disabled" || !strings.Contains(reason, "failed") || e.clock.Now().Unix()-at > 2 {
		t.Fatalf("after the window: status %s, reason %q, at %d", got.Status, reason, at)
	}
	// Dead-lettered deliveries stay replayable.
	if _, err := e.client.QueryEvents(t.Context(), client.QueryRequest{Status: client.Ptr[client.QueryStatus]("failed")}); err != nil {
		t.Fatal(err)
	}
	// Re-enabling through PATCH clears the reason.
	if err := e.client.UpdateWebhook(t.Context(), client.UpdateWebhookRequest{UUID: w.UUID, Status: client.Status(true)}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.client.GetWebhook(t.Context(), w.UUID.String())
	if got.Status != "enabled" || !got.DisabledReason.IsNull() || !got.DisabledAt.IsNull() {
		t.Fatalf("after re-enabling: %+v", got)
	}
	// A 410 Gone disables at once.
	gone.Store(true)
	if _, err := e.ingest.PublishEvent(t.Context(), client.Event{AccountID: e.acc.ID, Type: "outbound.delivered"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "410 to disable the webhook", func() bool {
		got, err := e.client.GetWebhook(t.Context(), w.UUID.String())
		return err == nil && got.Status == "disabled"
	})
	got, _ = e.client.GetWebhook(t.Context(), w.UUID.String())
	if r, _ := got.DisabledReason.Get(); !strings.Contains(r, "410") {
		t.Fatalf("410 reason = %q", r)
	}
}

func TestRotatedSecretLeavesStorageAfterGrace(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaintenanceInterval = time.Hour })
	w, err := e.client.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "rot", URL: "https://example.com/hook",
		Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := e.client.RotateSecret(t.Context(), w.UUID.String(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if *rot.Secret == *w.Secret {
		t.Fatal("rotation kept the secret")
	}
	stored, _ := e.raw.GetWebhook(t.Context(), e.acc.ID, w.UUID.String())
	if stored.PreviousSecret == "" {
		t.Fatal("the old secret is not kept during the grace period")
	}
	if strings.Contains(stored.PreviousSecret, *w.Secret) || strings.Contains(stored.Secret, *rot.Secret) {
		t.Fatal("secrets are stored in clear")
	}
	e.clock.Add(61 * time.Second)
	if err := e.srv.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored, _ = e.raw.GetWebhook(t.Context(), e.acc.ID, w.UUID.String())
	if stored.PreviousSecret != "" || !stored.PreviousSecretExpiresAt.IsZero() {
		t.Fatalf("old secret still stored after its grace period: %+v", stored)
	}
	got, _ := e.client.GetWebhook(t.Context(), w.UUID.String())
	if !got.PreviousSecretExpiresAt.IsNull() || *got.Secret != *rot.Secret {
		t.Fatalf("GET after grace = %+v", got)
	}
}

func TestPublishWithoutHTTP(t *testing.T) {
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data struct {
				N json.Number `json:"n"`
			} `json:"data"`
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if dec.Decode(&env) == nil && env.Data.N == "12345678901234567890" {
			got.Add(1)
		}
	}))
	defer recv.Close()
	e := newEnv(t, nil)
	if _, err := e.client.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "go", URL: recv.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.srv.Publish(t.Context(), server.Event{AccountID: e.acc.ID, Type: "outbound.delivered",
		RawData: json.RawMessage(`{"n": 12345678901234567890}`)})
	if err != nil || len(res) != 1 || res[0].Deliveries != 1 {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	waitFor(t, "the delivery with the exact number", func() bool { return got.Load() == 1 })
	if _, err := e.srv.Publish(t.Context(), server.Event{AccountID: "acc_nope", Type: "outbound.delivered"}); err == nil {
		t.Fatal("Publish accepted an unknown account")
	}
}

func TestPostgresNeedsSecretKey(t *testing.T) {
	_, err := server.Open(t.Context(), server.Config{DB: "postgres://nobody@127.0.0.1:1/none"})
	if err == nil || !strings.Contains(err.Error(), "secret-key") {
		t.Fatalf("Open without a key on PostgreSQL = %v, want a clear refusal", err)
	}
	// SQLite creates a key file next to the database, mode 0600.
	dir := t.TempDir()
	s, err := server.Open(t.Context(), server.Config{DB: filepath.Join(dir, "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(filepath.Join(dir, "jetwebhooks.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "jetwebhooks.key"))
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err != nil || len(k) != 32 {
		t.Fatalf("key file content is not base64 of 32 bytes")
	}
}

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }

// TestMetricsCountAuthRefusals: wrong keys and the 429s of an address over
// its failure budget are counted, through the server's own wiring of
// --auth-failure-budget.
func TestMetricsCountAuthRefusals(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AuthFailureBudget, c.AuthFailureWindow = 2, time.Hour })
	wrong, _ := client.New(e.url, "api_0000000000000000000000000000000000000000000")
	for i := range 3 {
		_, err := wrong.ListWebhooks(t.Context())
		want := http.StatusUnauthorized
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != want {
			t.Fatalf("wrong key %d: %v, want %d", i+1, err, want)
		}
	}
	if v := metricValue(t, e.url, `jetwebhooks_auth_refusals_total{reason="invalid"}`); v != 2 {
		t.Errorf("invalid credentials counted = %v, want 2", v)
	}
	if v := metricValue(t, e.url, `jetwebhooks_auth_refusals_total{reason="throttled"}`); v != 1 {
		t.Errorf("throttled requests counted = %v, want 1", v)
	}
}
