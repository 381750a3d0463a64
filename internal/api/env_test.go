package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/internal/wireerrors"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

const (
	testIngestToken = "ingest-token-for-tests-0123456789"
	// startUnix is JetEmail's documented created_at example.
	startUnix = 1736524800
)

// testClock is the API's and the publisher's clock: it only moves when a test
// says so, so timestamps can be asserted exactly. It starts on a whole second;
// Advance may move it by less than a second (webhooks keep created_at at
// millisecond precision).
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Unix() int64             { return c.Now().Unix() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// lockedBuffer collects the server log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// tenant is one account with its key and a client authenticated with it.
type tenant struct {
	ID      string
	Key     string
	Users   []string
	Domains []string
	C       *client.Client
}

// env is the real stack: sqlitestore in a temp dir (or a fresh PostgreSQL
// database, see postgresTests), api.New, httptest, and
// clients whose transport validates every response against the spec. Its
// Tester is a real delivery engine (not running unless a test calls
// runEngine) whose HTTP client may reach loopback receivers.
type env struct {
	t      *testing.T
	st     store.Store
	clock  *testClock
	engine *delivery.Engine
	url    string
	hc     *http.Client
	vt     *validatingTransport
	plain  *http.Client // unvalidated, for state snapshots
	log    *lockedBuffer
	A, B   tenant
	ingest *client.Client
	// handler is the API itself, for requests net/http will not carry
	// (a NUL in a header value); see (*env).serve.
	handler http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the API configuration adjusted by configure.
func newEnvWith(t *testing.T, configure func(*api.Config)) *env {
	t.Helper()
	return newEnvWrapped(t, configure, nil)
}

// newEnvWrapped is newEnvWith with the API's store wrapped by wrap (to
// inject failures); the env's own st, publisher and engine use the store
// itself.
func newEnvWrapped(t *testing.T, configure func(*api.Config), wrap func(store.Store) store.Store) *env {
	t.Helper()
	ctx := t.Context()
	st := openBackend(t)
	t.Cleanup(func() { _ = st.Close() })

	clk := &testClock{}
	clk.ns.Store(startUnix * int64(time.Second))
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	// The engine keeps real time: a test that runs it waits for retries in
	// real time, and receivers verify signatures against the real clock.
	engine, err := delivery.New(st, delivery.Config{
		Client:       loopbackPolicy().NewClient(2 * time.Second),
		Timeout:      2 * time.Second,
		Schedule:     testSchedule,
		Jitter:       -1,
		PollInterval: 20 * time.Millisecond,
		Logger:       logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		IngestToken: testIngestToken,
		Egress:      egress.NewPolicy(nil),
		Logger:      logger,
		Now:         clk.Now,
		// The clock stands still, so a limited bucket would never refill:
		// the many requests of most tests would be refused. Rate limiting
		// has tests of its own that set it. So has the budget of failed
		// authentications, which tests of wrong keys would exhaust.
		RateLimit:         -1,
		AuthFailureBudget: -1,
		Tester:            engine,
	}
	if configure != nil {
		configure(&cfg)
	}
	var apiStore store.Store = st
	if wrap != nil {
		apiStore = wrap(st)
	}
	a, err := api.New(ctx, cfg, apiStore, &ingest.Publisher{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Served as Server.Serve serves it: through wireerrors, so the answers
	// net/http gives before any handler runs (431, malformed requests) are in
	// the error shape too, and the contract check sees them.
	srv := newServedAPI(t, a)

	vt := &validatingTransport{t: t, base: srv.Client().Transport}
	hc := &http.Client{
		Transport: vt,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	e := &env{t: t, st: st, clock: clk, engine: engine, url: srv.URL, hc: hc, vt: vt, plain: srv.Client(), log: logs, handler: a}
	e.A = e.newTenant("Acme", []string{"api-user", "smtp-relay"}, []string{"example.com", "inbound.example.org"})
	e.B = e.newTenant("Bravo", []string{"b-user"}, []string{"b.example.net"})
	e.ingest, err = client.New(srv.URL, "", client.WithHTTPClient(hc), client.WithIngestToken(testIngestToken))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if e.vt.validated() == 0 {
			t.Error("no response went through the validating transport")
		}
	})
	return e
}

// servedAPI is the API on a loopback listener, served through wireerrors.
type servedAPI struct {
	URL string
	tr  *http.Transport
}

func (s *servedAPI) Client() *http.Client { return &http.Client{Transport: s.tr} }

func newServedAPI(t *testing.T, h http.Handler) *servedAPI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 10 * time.Second}
	serve := wireerrors.Install(hs)
	go serve(ln)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		hs.Close()
	})
	return &servedAPI{URL: "http://" + ln.Addr().String(), tr: tr}
}

// postgresTests are the API tests that run again on PostgreSQL, as subtests
// of TestPostgres (skipped, with one notice, without
// JETWEBHOOKS_TEST_POSTGRES): those whose promise is that nothing reaches
// the store, or nothing of another account's, on either backend. The
// backend is chosen by the test's name.
var postgresTests = map[string]func(*testing.T){
	"TestHostileRequests":       TestHostileRequests,
	"TestHostileAccepted":       TestHostileAccepted,
	"TestEventDataKeptAsSent":   TestEventDataKeptAsSent,
	"TestMalformedRequests":     TestMalformedRequests,
	"TestTenantIsolationMatrix": TestTenantIsolationMatrix,
	"TestWebhookHeaders":        TestWebhookHeaders,
	"TestWebhookHeadersRefused": TestWebhookHeadersRefused,
	"TestDeliveryControls":      TestDeliveryControls,
	"TestReplayedInHistory":     TestReplayedInHistory,
}

func TestPostgres(t *testing.T) {
	pgtest.ServerURL(t) // skips (or fails in CI) as the variable says
	for name, fn := range postgresTests {
		t.Run(strings.TrimPrefix(name, "Test"), fn)
	}
}

// openBackend opens the env's store: PostgreSQL under TestPostgres, else
// SQLite in a temp dir.
func openBackend(t *testing.T) store.Store {
	t.Helper()
	if strings.HasPrefix(t.Name(), "TestPostgres/") {
		st, err := pgstore.Open(t.Context(), pgtest.NewDatabase(t), pgstore.Options{})
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		return st
	}
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "api.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testSchedule is the engine's retry schedule in tests: three attempts
// within 100 ms, so a test can wait until every retry would have happened.
var testSchedule = []time.Duration{0, 50 * time.Millisecond, 50 * time.Millisecond}

// loopbackPolicy lets webhooks point at httptest receivers (127.0.0.0/8).
func loopbackPolicy() *egress.Policy {
	return egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
}

// allowLoopback configures the API to accept loopback webhook URLs.
func allowLoopback(c *api.Config) { c.Egress = loopbackPolicy() }

// runEngine runs the env's delivery engine until the test ends.
func (e *env) runEngine() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.engine.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

func (e *env) newTenant(name string, users, domains []string) tenant {
	e.t.Helper()
	acc, key, err := accounts.Create(e.t.Context(), e.st, name, users, domains, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := client.New(e.url, key, client.WithHTTPClient(e.hc))
	if err != nil {
		e.t.Fatal(err)
	}
	return tenant{ID: acc.ID, Key: key, Users: users, Domains: domains, C: c}
}

// rawReq is a request sent with net/http directly, for what the client
// would refuse to send. Header entries override the defaults
// (Authorization: Bearer <A's key>, Content-Type: application/json when there
// is a body); a key with a nil value removes that default.
type rawReq struct {
	method string
	path   string
	body   string
	header http.Header
	// chunked sends the body without a Content-Length.
	chunked bool
}

type rawResp struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(r rawReq) rawResp {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
		if r.chunked {
			body = io.MultiReader(body) // hides the length
		}
	}
	req, err := http.NewRequestWithContext(e.t.Context(), r.method, e.url+r.path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+e.A.Key)
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range r.header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return rawResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// doJSON sends r, requires status want, and decodes the body into a map.
func (e *env) doJSON(r rawReq, want int) map[string]any {
	e.t.Helper()
	resp := e.do(r)
	if resp.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, resp.status, want, resp.body)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.body, &m); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %v; %s", r.method, r.path, err, resp.body)
	}
	return m
}

// plainDo sends a request that must succeed with a 200, without contract
// validation, and returns the body.
func (e *env) plainDo(method, path, body, key string) []byte {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.plain.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s %s: %d %v %s", method, path, resp.StatusCode, err, b)
	}
	return b
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
