package delivery_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// waitTimeout bounds every wait for an outcome; waitTick is how often the
// store is polled meanwhile.
const (
	waitTimeout = 10 * time.Second
	waitTick    = 10 * time.Millisecond
)

// fastSchedule is the compressed retry schedule most tests use.
var fastSchedule = []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}

// env is one test's world: a store (SQLite in t.TempDir(), or a fresh
// PostgreSQL database when the test runs under TestPostgres), an account, and
// a publisher that wakes the running engine.
type env struct {
	t   *testing.T
	st  store.Store
	acc *store.Account
	pub *ingest.Publisher
	// body reads an event's stored envelope straight from the database.
	body func(accountID, eventID string) ([]byte, error)

	mu  sync.Mutex
	eng *delivery.Engine // the engine currently running, woken by publishes
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, body := openBackend(t)
	t.Cleanup(func() { _ = st.Close() })
	acc, _, err := accounts.Create(ctx, st, "delivery test", []string{"alice", "bob"}, []string{"example.com", "example.org"}, time.Now())
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	e := &env{t: t, st: st, acc: acc, body: body}
	e.pub = &ingest.Publisher{Store: st, Published: func() {
		e.mu.Lock()
		eng := e.eng
		e.mu.Unlock()
		if eng != nil {
			eng.Wake()
		}
	}}
	return e
}

// hookOpt adjusts a webhook before it is stored.
type hookOpt func(*store.Webhook)

func withEvents(types ...string) hookOpt { return func(w *store.Webhook) { w.Events = types } }
func withUsers(users ...string) hookOpt  { return func(w *store.Webhook) { w.FilterUsers = users } }
func withDomains(d ...string) hookOpt    { return func(w *store.Webhook) { w.FilterDomains = d } }
func withSecret(s string) hookOpt        { return func(w *store.Webhook) { w.Secret = s } }
func disabled() hookOpt                  { return func(w *store.Webhook) { w.Enabled = false } }

// addWebhook stores an enabled webhook for url subscribed to every
// subscribable event type, with a fresh secret.
func (e *env) addWebhook(url string, opts ...hookOpt) *store.Webhook {
	e.t.Helper()
	secret, err := signature.NewSecret()
	if err != nil {
		e.t.Fatalf("new secret: %v", err)
	}
	now := time.Now()
	w := &store.Webhook{
		UUID:         newUUID(),
		AccountID:    e.acc.ID,
		Name:         "hook",
		URL:          url,
		Secret:       secret,
		Events:       ingest.EventTypes[1:], // all but outbound.queued
		Enabled:      true,
		CreatedAt:    now,
		LastModified: now,
	}
	for _, o := range opts {
		o(w)
	}
	if err := e.st.CreateWebhook(context.Background(), w, nil); err != nil {
		e.t.Fatalf("create webhook: %v", err)
	}
	return w
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// publish publishes events (AccountID filled in) and returns their results.
func (e *env) publish(events ...ingest.Event) []ingest.Result {
	e.t.Helper()
	for i := range events {
		events[i].AccountID = e.acc.ID
		if events[i].Type == "" {
			events[i].Type = "outbound.delivered"
		}
	}
	res, err := e.pub.Publish(context.Background(), events)
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return res
}

// publishOne publishes one outbound.delivered event and returns its id.
func (e *env) publishOne() string {
	e.t.Helper()
	return e.publish(ingest.Event{Data: map[string]any{"uid": "message-uid", "user": "alice"}, User: "alice"})[0].EventID
}

// loopbackClient may reach the httptest receivers on 127.0.0.1.
func loopbackClient(timeout time.Duration) *http.Client {
	return egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).NewClient(timeout)
}

// baseConfig is a fast configuration: compressed schedule, no jitter, short
// polls, loopback allowed.
func baseConfig() delivery.Config {
	return delivery.Config{
		Schedule:     fastSchedule,
		Timeout:      5 * time.Second,
		PollInterval: 20 * time.Millisecond,
		Jitter:       -1,
		Client:       loopbackClient(5 * time.Second),
	}
}

// runningEngine is an engine whose Run is going in the background.
type runningEngine struct {
	*delivery.Engine
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	err    error         // Run's result, set before done is closed
}

// stop cancels Run and waits (bounded) for it to return. It may be called
// more than once.
func (r *runningEngine) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("Run returned %v", r.err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Run did not return within %s of cancellation", waitTimeout)
	}
}

// start runs an engine with cfg on the env's store until the test ends (or
// stop is called); publishes wake it.
func (e *env) start(cfg delivery.Config) *runningEngine {
	e.t.Helper()
	eng, err := delivery.New(e.st, cfg)
	if err != nil {
		e.t.Fatalf("delivery.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningEngine{Engine: eng, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = eng.Run(ctx)
		close(r.done)
	}()
	e.mu.Lock()
	e.eng = eng
	e.mu.Unlock()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

// waitFor polls cond until it reports true or waitTimeout passes; on timeout
// the test fails with what and cond's last explanation.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	waitForWithin(t, waitTimeout, what, cond)
}

// waitForWithin is waitFor with another deadline.
func waitForWithin(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, why)
		}
		time.Sleep(waitTick)
	}
}

// delivery returns the delivery of event to webhook (nil if none).
func (e *env) delivery(eventID, webhookUUID string) *store.DeliveryRecord {
	e.t.Helper()
	recs, _, err := e.st.QueryDeliveries(context.Background(), &store.QueryParams{
		AccountID: e.acc.ID, EventID: eventID, WebhookUUID: webhookUUID, Limit: 10})
	if err != nil {
		e.t.Fatalf("query deliveries: %v", err)
	}
	switch len(recs) {
	case 0:
		return nil
	case 1:
		return recs[0]
	}
	e.t.Fatalf("%d deliveries of event %s to webhook %s, want at most 1", len(recs), eventID, webhookUUID)
	return nil
}

// waitStatus waits until the delivery of event to webhook has status and at
// least minAttempts attempts, and returns it.
func (e *env) waitStatus(eventID, webhookUUID, status string, minAttempts int) *store.DeliveryRecord {
	e.t.Helper()
	var rec *store.DeliveryRecord
	waitFor(e.t, fmt.Sprintf("delivery of %s to be %s after >= %d attempts", eventID, status, minAttempts), func() (bool, string) {
		rec = e.delivery(eventID, webhookUUID)
		if rec == nil {
			return false, "no delivery"
		}
		return rec.Status == status && rec.Attempts >= minAttempts, fmt.Sprintf("status %s, %d attempts", rec.Status, rec.Attempts)
	})
	return rec
}

// storedBody reads the envelope stored for an event straight from the
// database (the Store interface has no getter for it): the bytes the engine
// must send and sign.
func (e *env) storedBody(eventID string) []byte {
	e.t.Helper()
	body, err := e.body(e.acc.ID, eventID)
	if err != nil {
		e.t.Fatalf("read stored envelope of %s: %v", eventID, err)
	}
	return body
}

// attempts returns the recorded attempts of a delivery, oldest first.
func (e *env) attempts(deliveryID int64) []*store.Attempt {
	e.t.Helper()
	as, err := e.st.ListAttempts(context.Background(), e.acc.ID, deliveryID)
	if err != nil {
		e.t.Fatalf("list attempts: %v", err)
	}
	return as
}

func code(r *store.DeliveryRecord) string {
	if r.LastResponseCode == nil {
		return "none"
	}
	return fmt.Sprint(*r.LastResponseCode)
}

// request is one request a receiver got.
type request struct {
	method string
	header http.Header
	body   []byte
}

// receiver is an httptest server on 127.0.0.1 that records every request and
// answers through respond (200 "ok" if nil).
type receiver struct {
	srv     *httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs) + 1
		rc.reqs = append(rc.reqs, request{method: r.Method, header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		if rc.respond == nil {
			_, _ = io.WriteString(w, "ok")
			return
		}
		rc.respond(n, w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/hook" }

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// ids counts the requests per X-Webhook-ID.
func (rc *receiver) ids() map[string]int {
	m := map[string]int{}
	for _, r := range rc.requests() {
		m[r.header.Get(signature.HeaderID)]++
	}
	return m
}

// status answers every request with code and body.
func status(code int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

var ipRe = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[?[0-9a-fA-F]*:[0-9a-fA-F:]+\]?`)

// checkCleanError fails if a stored error text leaks an address, a port or a
// secret.
func checkCleanError(t *testing.T, text string, secrets ...string) {
	t.Helper()
	if m := ipRe.FindString(text); m != "" {
		t.Errorf("error text %q contains an address (%q)", text, m)
	}
	if strings.Contains(text, "whsec_") {
		t.Errorf("error text %q contains a secret", text)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("error text %q contains %q", text, s)
		}
	}
}

// manualClock is an injectable engine clock that only moves when told.
type manualClock struct{ ns atomic.Int64 }

func newManualClock(t time.Time) *manualClock {
	c := &manualClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// observer records the engine's claims and outcomes.
type observer struct {
	claimed, takenOver, polledUp atomic.Int64
	mu                           sync.Mutex
	statuses                     []string
}

func (o *observer) Claimed(n, taken int) {
	o.claimed.Add(int64(n))
	o.takenOver.Add(int64(taken))
}

func (o *observer) PolledUp(n int) { o.polledUp.Add(int64(n)) }

func (o *observer) Attempted(status string, _ int, _ time.Duration) {
	o.mu.Lock()
	o.statuses = append(o.statuses, status)
	o.mu.Unlock()
}
