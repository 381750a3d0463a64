package api_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/api"
)

// from returns a validating client whose connections come from the
// loopback address ip (Linux routes all of 127.0.0.0/8 to lo), so the
// server sees a different peer for each.
func (e *env) from(ip string) *http.Client {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: &validatingTransport{t: e.t, base: tr}, Timeout: 10 * time.Second}
}

// doFrom is do over the client hc.
func (e *env) doFrom(hc *http.Client, r rawReq) rawResp {
	e.t.Helper()
	old := e.hc
	e.hc = hc
	defer func() { e.hc = old }()
	return e.do(r)
}

// refusalCounter counts api.Config.AuthRefused calls.
type refusalCounter struct {
	mu                  sync.Mutex
	rejected, throttled int
}

func (c *refusalCounter) count(throttled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if throttled {
		c.throttled++
	} else {
		c.rejected++
	}
}

const wrongKey = "api_0000000000000000000000000000000000000000000"

// TestAuthFailureBudget: with a budget of 3 failures a minute, the fourth
// wrong key from one address is answered 429 with Retry-After, and so is
// everything else from that address, the right key included, until a
// failure's worth of budget has come back (20 s on the test clock). A valid
// key from another address keeps working throughout, and a missing header
// is not a failure.
func TestAuthFailureBudget(t *testing.T) {
	t.Parallel()
	var refusals refusalCounter
	e := newEnvWith(t, func(c *api.Config) {
		c.AuthFailureBudget, c.AuthFailureWindow = 3, time.Minute
		c.AuthRefused = refusals.count
	})
	attacker, user := e.from("127.0.0.2"), e.from("127.0.0.3")
	list := rawReq{method: "GET", path: "/webhooks"}
	guess := rawReq{method: "GET", path: "/webhooks", header: bearer(wrongKey)}

	for i := range 3 {
		if r := e.doFrom(attacker, guess); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong key %d within the budget: %d %s, want 401", i+1, r.status, r.body)
		}
	}
	r := e.doFrom(attacker, guess)
	check429(t, "fourth wrong key", r)
	if got := r.header.Get("Retry-After"); got != "20" {
		t.Errorf("Retry-After = %s, want 20 (a minute's budget of 3 comes back one every 20 s)", got)
	}
	// The throttled address is refused before its credential is looked at.
	check429(t, "A's key from the throttled address", e.doFrom(attacker, list))
	check429(t, "the ingest token from the throttled address", e.doFrom(attacker, rawReq{method: "POST", path: "/events",
		body: `{"account_id":"` + e.A.ID + `","type":"outbound.queued"}`, header: bearer(testIngestToken)}))

	// Other addresses are not affected, and keep budgets of their own.
	for _, hc := range []*http.Client{user, e.hc} {
		if r := e.doFrom(hc, list); r.status != http.StatusOK {
			t.Errorf("A's key from another address: %d %s, want 200", r.status, r.body)
		}
	}
	if r := e.doFrom(user, guess); r.status != http.StatusUnauthorized {
		t.Errorf("a wrong key from another address: %d, want 401", r.status)
	}

	// A request without a credential guesses nothing and is not counted.
	newcomer := e.from("127.0.0.4")
	for i := range 10 {
		if r := e.doFrom(newcomer, rawReq{method: "GET", path: "/webhooks", header: http.Header{"Authorization": nil}}); r.status != http.StatusUnauthorized {
			t.Fatalf("request %d without a key: %d, want 401", i+1, r.status)
		}
	}
	if r := e.doFrom(newcomer, list); r.status != http.StatusOK {
		t.Errorf("after ten requests without a key: %d, want 200", r.status)
	}

	// 19 s on: still refused, for the one second left.
	e.clock.Advance(19 * time.Second)
	r = e.doFrom(attacker, list)
	check429(t, "after 19 s", r)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After after 19 s = %s, want 1", got)
	}
	// 20 s on: one failure's worth is back; the right key works again.
	e.clock.Advance(time.Second)
	if r := e.doFrom(attacker, list); r.status != http.StatusOK {
		t.Errorf("A's key once the budget is back: %d %s, want 200", r.status, r.body)
	}
	if r := e.doFrom(attacker, guess); r.status != http.StatusUnauthorized {
		t.Errorf("one more wrong key: %d, want 401", r.status)
	}
	check429(t, "a wrong key past the refilled token", e.doFrom(attacker, guess))
	// After the whole window the full budget is back.
	e.clock.Advance(time.Minute)
	for i := range 3 {
		if r := e.doFrom(attacker, guess); r.status != http.StatusUnauthorized {
			t.Errorf("wrong key %d after the window: %d, want 401", i+1, r.status)
		}
	}
	check429(t, "past the budget again", e.doFrom(attacker, guess))

	if log := e.log.String(); !strings.Contains(log, "too many invalid credentials") || !strings.Contains(log, "client=127.0.0.2") {
		t.Errorf("the log does not name the throttled client:\n%s", log)
	}
	if strings.Contains(e.log.String(), wrongKey) {
		t.Error("the log contains the guessed key")
	}
	refusals.mu.Lock()
	defer refusals.mu.Unlock()
	if refusals.rejected != 8 || refusals.throttled != 6 {
		t.Errorf("AuthRefused counted %d rejected and %d throttled, want 8 and 6", refusals.rejected, refusals.throttled)
	}
}

// TestAuthFailureBudgetIngest: wrong ingest tokens spend the same budget;
// the token keeps working from another address.
func TestAuthFailureBudgetIngest(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *api.Config) { c.AuthFailureBudget, c.AuthFailureWindow = 2, time.Minute })
	attacker, producer := e.from("127.0.0.2"), e.from("127.0.0.3")
	ev := `{"account_id":"` + e.A.ID + `","type":"outbound.queued"}`
	for _, path := range []string{"/events", "/events/batch"} {
		body := ev
		if path == "/events/batch" {
			body = `{"events":[` + ev + `]}`
		}
		if r := e.doFrom(attacker, rawReq{method: "POST", path: path, body: body, header: bearer("wrong-token")}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong token to %s: %d, want 401", path, r.status)
		}
	}
	check429(t, "third wrong token", e.doFrom(attacker, rawReq{method: "POST", path: "/events", body: ev, header: bearer("wrong-token")}))
	check429(t, "the right token from the throttled address", e.doFrom(attacker, rawReq{method: "POST", path: "/events", body: ev, header: bearer(testIngestToken)}))
	check429(t, "the batch route from the throttled address", e.doFrom(attacker, rawReq{method: "POST", path: "/events/batch", body: `{"events":[` + ev + `]}`, header: bearer(testIngestToken)}))
	for _, hc := range []*http.Client{producer, e.hc} {
		if r := e.doFrom(hc, rawReq{method: "POST", path: "/events", body: ev, header: bearer(testIngestToken)}); r.status != http.StatusAccepted {
			t.Errorf("the token from another address: %d %s, want 202", r.status, r.body)
		}
	}
	e.clock.Advance(30 * time.Second)
	if r := e.doFrom(attacker, rawReq{method: "POST", path: "/events", body: ev, header: bearer(testIngestToken)}); r.status != http.StatusAccepted {
		t.Errorf("the token once the budget is back: %d %s, want 202", r.status, r.body)
	}
}

// TestAuthFailureClientAddress: X-Forwarded-For is believed only from a
// configured proxy (right-most untrusted entry), and IPv6 clients are
// counted per /64.
func TestAuthFailureClientAddress(t *testing.T) {
	t.Parallel()
	xff := func(v string, key string) rawReq {
		return rawReq{method: "GET", path: "/webhooks", header: http.Header{"X-Forwarded-For": {v}, "Authorization": {"Bearer " + key}}}
	}

	t.Run("no trusted proxy: the header is ignored", func(t *testing.T) {
		e := newEnvWith(t, func(c *api.Config) { c.AuthFailureBudget = 2 })
		hc := e.from("127.0.0.5")
		for i, fake := range []string{"198.51.100.1", "198.51.100.2"} {
			if r := e.doFrom(hc, xff(fake, wrongKey)); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong key %d: %d, want 401", i+1, r.status)
			}
		}
		check429(t, "a third wrong key behind yet another forged address", e.doFrom(hc, xff("198.51.100.3", wrongKey)))
		if r := e.do(xff("198.51.100.3", e.A.Key)); r.status != http.StatusOK {
			t.Errorf("another peer: %d, want 200", r.status)
		}
	})

	t.Run("trusted proxy", func(t *testing.T) {
		e := newEnvWith(t, func(c *api.Config) {
			c.AuthFailureBudget = 2
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.6/32")}
		})
		proxy := e.from("127.0.0.6")
		// The client may prepend anything; the proxy appends the real peer.
		for i := range 2 {
			if r := e.doFrom(proxy, xff("10.9.9.9, 198.51.100.1", wrongKey)); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong key %d: %d, want 401", i+1, r.status)
			}
		}
		check429(t, "198.51.100.1 past its budget, whatever it forges", e.doFrom(proxy, xff("10.1.1.1, 198.51.100.1", e.A.Key)))
		if r := e.doFrom(proxy, xff("198.51.100.2", e.A.Key)); r.status != http.StatusOK {
			t.Errorf("another client behind the proxy: %d, want 200", r.status)
		}
		if r := e.doFrom(proxy, rawReq{method: "GET", path: "/webhooks"}); r.status != http.StatusOK {
			t.Errorf("the proxy itself: %d, want 200", r.status)
		}
		if r := e.do(xff("198.51.100.1", e.A.Key)); r.status != http.StatusOK {
			t.Errorf("forged X-Forwarded-For from 127.0.0.1, not a proxy: %d, want 200", r.status)
		}
		// IPv6: one /64 shares a budget.
		for i, ip := range []string{"2001:db8::1", "2001:db8::2"} {
			if r := e.doFrom(proxy, xff(ip, wrongKey)); r.status != http.StatusUnauthorized {
				t.Fatalf("IPv6 wrong key %d: %d, want 401", i+1, r.status)
			}
		}
		check429(t, "a third address in the same /64", e.doFrom(proxy, xff("2001:db8::ffff:1", e.A.Key)))
		if r := e.doFrom(proxy, xff("2001:db8:0:1::1", e.A.Key)); r.status != http.StatusOK {
			t.Errorf("the next /64: %d, want 200", r.status)
		}
		// A peer that is not a configured proxy is not believed.
		other := e.from("127.0.0.7")
		if r := e.doFrom(other, xff("198.51.100.1", e.A.Key)); r.status != http.StatusOK {
			t.Errorf("forged X-Forwarded-For from an untrusted peer: %d, want 200 (its own address)", r.status)
		}
	})
}
