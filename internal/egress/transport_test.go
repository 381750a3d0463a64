package egress_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
)

// All dial tests below talk only to httptest servers on loopback. Public
// addresses appear only in direct Control calls, which dial nothing.

var (
	allowLoopback4 = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	allowLoopback6 = []netip.Prefix{netip.MustParsePrefix("::1/128")}
)

// receiver is an httptest server on 127.0.0.1 that counts requests.
func receiver(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "received")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// assertDialRefused checks that err came from Control: it wraps the
// sentinel through the *url.Error returned by http.Client.
func assertDialRefused(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("request succeeded, want a dial-time refusal")
	}
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		t.Fatalf("error %T %q is not a *url.Error", err, err)
	}
	if !errors.Is(uerr.Err, egress.ErrForbiddenDestination) || !errors.Is(err, egress.ErrForbiddenDestination) {
		t.Fatalf("error %q does not unwrap to ErrForbiddenDestination", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func TestClientRefusesLoopbackByDefault(t *testing.T) {
	srv, hits := receiver(t)
	_, err := get(t, egress.NewPolicy(nil).NewClient(5*time.Second), srv.URL+"/hook")
	assertDialRefused(t, err, "loopback")
	if hits.Load() != 0 {
		t.Fatalf("receiver got %d requests, want 0", hits.Load())
	}
}

func TestClientReachesLoopbackWhenAllowed(t *testing.T) {
	srv, hits := receiver(t)
	resp, err := get(t, egress.NewPolicy(allowLoopback4).NewClient(5*time.Second), srv.URL+"/hook")
	if err != nil {
		t.Fatalf("request to allow-listed loopback failed: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "received" || hits.Load() != 1 {
		t.Fatalf("got %d %q after %d hits, want 200 \"received\" after 1", resp.StatusCode, body, hits.Load())
	}
}

// TestClientRefusesNameResolvingToLoopback is the DNS-rebinding case: the
// URL has a hostname, which passes no literal check, and only the address it
// resolves to at dial time reveals that it is loopback.
func TestClientRefusesNameResolvingToLoopback(t *testing.T) {
	srv, hits := receiver(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	u := "http://localhost:" + port + "/hook"

	_, err := get(t, egress.NewPolicy(nil).NewClient(5*time.Second), u)
	assertDialRefused(t, err, "loopback")
	if hits.Load() != 0 {
		t.Fatalf("receiver got %d requests, want 0", hits.Load())
	}

	// With loopback opened, the same name goes through.
	resp, err := get(t, egress.NewPolicy(allowLoopback4).NewClient(5*time.Second), u)
	if err != nil {
		t.Fatalf("request to allow-listed localhost failed: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
}

// TestClientMappedLiteral dials the IPv4-mapped IPv6 spelling of the
// receiver: the default policy refuses it and a 127.0.0.0/8 allow opens it.
func TestClientMappedLiteral(t *testing.T) {
	srv, _ := receiver(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	u := "http://[::ffff:127.0.0.1]:" + port + "/hook"

	_, err := get(t, egress.NewPolicy(nil).NewClient(5*time.Second), u)
	assertDialRefused(t, err, "loopback")

	resp, err := get(t, egress.NewPolicy(allowLoopback4).NewClient(5*time.Second), u)
	if err != nil {
		t.Fatalf("request to allow-listed mapped loopback failed: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
}

func TestClientIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	_, err = get(t, egress.NewPolicy(allowLoopback4).NewClient(5*time.Second), srv.URL)
	assertDialRefused(t, err, "loopback")
	if hits.Load() != 0 {
		t.Fatalf("receiver got %d requests, want 0", hits.Load())
	}

	resp, err := get(t, egress.NewPolicy(allowLoopback6).NewClient(5*time.Second), srv.URL)
	if err != nil {
		t.Fatalf("request to allow-listed ::1 failed: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	target, targetHits := receiver(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)

	resp, err := get(t, egress.NewPolicy(allowLoopback4).NewClient(5*time.Second), redirector.URL+"/hook")
	if err != nil {
		t.Fatalf("request failed: %v", err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302 returned as the response", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != target.URL+"/elsewhere" {
		t.Fatalf("Location %q, want %q", loc, target.URL+"/elsewhere")
	}
	if targetHits.Load() != 0 {
		t.Fatalf("redirect target got %d requests, want 0", targetHits.Load())
	}
}

func TestClientHTTPSLoopback(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)

	// Reuse our transport (so Control runs) but trust the test certificate.
	newClient := func(p *egress.Policy) *http.Client {
		c := p.NewClient(5 * time.Second)
		tr := c.Transport.(*http.Transport)
		tr.TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		return c
	}
	_, err := get(t, newClient(egress.NewPolicy(nil)), srv.URL)
	assertDialRefused(t, err, "loopback")

	resp, err := get(t, newClient(egress.NewPolicy(allowLoopback4)), srv.URL)
	if err != nil {
		t.Fatalf("https request to allow-listed loopback failed: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
}

// TestControl calls Control directly, as the dialer does after resolution.
// Nothing is dialled.
func TestControl(t *testing.T) {
	p := egress.NewPolicy(nil)
	allowed := []struct{ network, address string }{
		{"tcp4", "93.184.216.34:443"},
		{"tcp4", "93.184.216.34:80"},
		{"tcp4", "93.184.216.34:1"}, // any port
		{"tcp4", "93.184.216.34:65535"},
		{"tcp6", "[2606:4700::1111]:8443"},
		{"tcp6", "[64:ff9b::5db8:d822]:443"},
	}
	for _, tc := range allowed {
		if err := p.Control(tc.network, tc.address, nil); err != nil {
			t.Errorf("Control(%s, %s) = %v, want nil", tc.network, tc.address, err)
		}
	}

	refused := []struct{ network, address, want string }{
		{"udp4", "93.184.216.34:53", "TCP"},
		{"udp6", "[2606:4700::1111]:53", "TCP"},
		{"unix", "/run/docker.sock", "TCP"},
		{"tcp4", "not-an-address", "could not be checked"},
		{"tcp6", "[fe80::1%eth0]:80", "link-local"},
		{"tcp6", "[::ffff:127.0.0.1]:80", "loopback"},
	}
	for _, tc := range refused {
		assertRefused(t, p.Control(tc.network, tc.address, nil), tc.want)
	}
	for _, tc := range forbiddenAddrs {
		a := netip.MustParseAddr(tc.addr)
		network := "tcp6"
		if a.Is4() {
			network = "tcp4"
		}
		assertRefused(t, p.Control(network, netip.AddrPortFrom(a, 443).String(), nil), tc.want)
	}
	err := p.Control("tcp4", "169.254.169.254:80", nil)
	const want = "the webhook destination is a link-local address, which webhooks may not reach"
	if err == nil || err.Error() != want {
		t.Errorf("Control message = %v, want %q", err, want)
	}
}

func TestNewTransportSettings(t *testing.T) {
	tr := egress.NewPolicy(nil).NewTransport()
	if tr.Proxy != nil {
		t.Error("Proxy is set; environment proxies would bypass the dial-time check")
	}
	//lint:ignore SA1019 the deprecated dialers are checked precisely because they would bypass the policy.
	if tr.DialContext == nil || tr.DialTLSContext != nil || tr.Dial != nil || tr.DialTLS != nil {
		t.Error("transport must dial only through the policy's DialContext")
	}
	if !tr.ForceAttemptHTTP2 {
		t.Error("ForceAttemptHTTP2 is false")
	}
	if tr.MaxIdleConnsPerHost < 256 {
		t.Errorf("MaxIdleConnsPerHost = %d, want >= 256", tr.MaxIdleConnsPerHost)
	}
	if tr.MaxIdleConns != 0 && tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("MaxIdleConns = %d caps MaxIdleConnsPerHost = %d", tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	}
	if tr.TLSHandshakeTimeout != 5*time.Second {
		t.Errorf("TLSHandshakeTimeout = %v, want 5s", tr.TLSHandshakeTimeout)
	}
	if tr.ResponseHeaderTimeout != 0 {
		t.Errorf("ResponseHeaderTimeout = %v, want 0 (left to the client timeout)", tr.ResponseHeaderTimeout)
	}
	if tr.DisableKeepAlives {
		t.Error("keep-alives are disabled")
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS config must verify certificates and require TLS 1.2+")
	}
}

func TestNewClientSettings(t *testing.T) {
	c := egress.NewPolicy(nil).NewClient(15 * time.Second)
	if c.Timeout != 15*time.Second {
		t.Errorf("Timeout = %v, want 15s", c.Timeout)
	}
	if _, ok := c.Transport.(*http.Transport); !ok {
		t.Errorf("Transport is %T, want *http.Transport", c.Transport)
	}
	if c.CheckRedirect == nil || c.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Error("CheckRedirect must return http.ErrUseLastResponse")
	}
}
