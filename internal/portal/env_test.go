package portal_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// onBothBackends runs test on SQLite and, when JETWEBHOOKS_TEST_POSTGRES is
// set, on PostgreSQL: the portal keeps its sessions in the database.
func onBothBackends(t *testing.T, test func(t *testing.T, o envOpts)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); test(t, envOpts{}) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); test(t, envOpts{postgres: true}) })
}

// tenant is an account with its API key.
type tenant struct {
	ID, Key string
	C       *client.Client
}

// env is a real jetwebhooks server on a loopback port (SQLite in a temp
// dir, the delivery engine running, loopback receivers allowed) with two
// accounts.
type env struct {
	t    *testing.T
	url  string // the server's root
	st   store.Store
	srv  *server.Server
	A, B tenant
}

type envOpts struct {
	// postgres puts the store on a fresh PostgreSQL database (the test
	// skips when JETWEBHOOKS_TEST_POSTGRES is not set).
	postgres bool
	prefix   string // serve the server under this path prefix, with http.StripPrefix
	// basePath serves it under this prefix with Config.BasePath (mounted
	// on a mux as it is).
	basePath string
	cfg      func(*server.Config)
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "p.db")
	if o.postgres {
		dsn = pgtest.Database(t)
	}
	st, err := server.OpenStore(t.Context(), dsn, "NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	root := "http://" + ln.Addr().String() + o.prefix + o.basePath
	cfg := server.Config{
		IngestToken: "ingest-token-for-portal-tests", SecretKey: make([]byte, 32), RateLimit: -1,
		Logger:        slog.New(slog.DiscardHandler),
		EgressAllow:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		RetrySchedule: []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond}, PollInterval: 20 * time.Millisecond,
		DeliveryTimeout: 2 * time.Second,
		// Every API answer the tests see (minting, revoking) holds to openapi.yaml.
		OnContractViolation: func(v contract.Violation) { t.Errorf("contract violation: %s", v) },
	}
	if o.prefix != "" || o.basePath != "" {
		cfg.Portal.URL = root + "/portal"
		cfg.BasePath = o.basePath
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	srv, err := server.New(t.Context(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var h http.Handler = srv.Handler()
	if o.prefix != "" || o.basePath != "" {
		mux := http.NewServeMux()
		if o.prefix != "" {
			mux.Handle(o.prefix+"/", http.StripPrefix(o.prefix, srv.Handler()))
		} else {
			mux.Handle(o.basePath+"/", srv.Handler())
		}
		h = mux
		go func() {
			hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
			go func() { <-ctx.Done(); hs.Close() }()
			hs.Serve(ln)
			close(done)
		}()
		go srv.RunBackground(ctx)
	} else {
		go func() { srv.Serve(ctx, ln); close(done) }()
	}
	t.Cleanup(func() { cancel(); <-done })
	e := &env{t: t, url: root, st: srv.Store(), srv: srv}
	e.A = e.tenant("Acme", []string{"api-user"}, []string{"example.com"})
	e.B = e.tenant("Bravo", []string{"b-user"}, []string{"b.example.net"})
	return e
}

func (e *env) tenant(name string, users, domains []string) tenant {
	e.t.Helper()
	acc, key, err := accounts.Create(e.t.Context(), e.st, name, users, domains, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := client.New(e.url, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return tenant{ID: acc.ID, Key: key, C: c}
}

// mint asks the API for a portal link of tn's account.
func (e *env) mint(tn tenant) string {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), "POST", e.url+"/portal/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+tn.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		URL       string `json:"url"`
		ExpiresAt int64  `json:"expires_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("mint: %d %v", resp.StatusCode, err)
	}
	return out.URL
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(raw)}
}

func (b *browser) get(u string) page { return b.do("GET", u, nil) }

// login opens a link and returns the page it redirects to.
func (b *browser) login(link string) page {
	b.t.Helper()
	p := b.get(link)
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("opening the link: %d %s", p.status, p.body)
	}
	return p
}

// csrf finds the CSRF token in a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no csrf token in page:\n%s", body)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}
