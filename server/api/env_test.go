package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server/accounts"
	"github.com/jetwebhooks/jetwebhooks/server/api"
	"github.com/jetwebhooks/jetwebhooks/server/egress"
	"github.com/jetwebhooks/jetwebhooks/server/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

const (
	testIngestToken = "ingest-token-for-tests-0123456789"
	// startUnix is JetEmail's documented created_at example.
	startUnix = 1736524800
)

// testClock is the API's and the publisher's clock: whole seconds that only
// move when a test says so, so timestamps can be asserted exactly.
type testClock struct{ sec atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(c.sec.Load(), 0) }
func (c *testClock) Unix() int64             { return c.sec.Load() }
func (c *testClock) Advance(d time.Duration) { c.sec.Add(int64(d / time.Second)) }

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

// env is the real stack: sqlitestore in a temp dir, api.New, httptest, and
// clients whose transport validates every response against the spec.
type env struct {
	t      *testing.T
	st     *sqlitestore.Store
	clock  *testClock
	url    string
	hc     *http.Client
	vt     *validatingTransport
	plain  *http.Client // unvalidated, for state snapshots
	log    *lockedBuffer
	A, B   tenant
	ingest *client.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the API configuration adjusted by configure.
func newEnvWith(t *testing.T, configure func(*api.Config)) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "api.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })

	clk := &testClock{}
	clk.sec.Store(startUnix)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	cfg := api.Config{
		IngestToken: testIngestToken,
		Egress:      egress.NewPolicy(nil),
		Logger:      logger,
		Now:         clk.Now,
	}
	if configure != nil {
		configure(&cfg)
	}
	a, err := api.New(ctx, cfg, st, &ingest.Publisher{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)

	vt := &validatingTransport{t: t, base: srv.Client().Transport}
	hc := &http.Client{
		Transport: vt,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	e := &env{t: t, st: st, clock: clk, url: srv.URL, hc: hc, vt: vt, plain: srv.Client(), log: logs}
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
