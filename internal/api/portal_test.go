package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/portal"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// newPortalEnv is an env whose API mints portal links (on the env's store,
// at the env's clock).
func newPortalEnv(t *testing.T, configure func(*api.Config)) *env {
	t.Helper()
	links := &portal.Links{BaseURL: "https://hooks.example.com/base/portal"}
	e := newEnvWrapped(t, func(c *api.Config) {
		c.Portal = links
		if configure != nil {
			configure(c)
		}
	}, func(s store.Store) store.Store { links.Store = s; return s })
	links.Now = e.clock.Now
	return e
}

func redeem(t *testing.T, st store.Store, link string, now time.Time) (*store.PortalSession, error) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(u.Query().Get("token")))
	id := sha256.Sum256([]byte(link + now.String()))
	return st.RedeemPortalLink(context.Background(), h[:], &store.PortalSession{IDHash: id[:], CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)})
}

// TestPortalSessionLinks: an account's key mints a link for that account
// only, under the portal's public URL, working once for ten minutes; DELETE
// revokes the account's sessions and unused links.
func TestPortalSessionLinks(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, nil)
	mint := rawReq{method: "POST", path: "/portal/sessions"}
	m := e.doJSON(mint, http.StatusCreated)
	link, _ := m["url"].(string)
	if !strings.HasPrefix(link, "https://hooks.example.com/base/portal/login?token=pl_") {
		t.Fatalf("link %q is not under the portal's public URL", link)
	}
	if exp, _ := m["expires_at"].(float64); int64(exp) != e.clock.Unix()+600 {
		t.Errorf("expires_at = %v, want now + 10 minutes (%d)", m["expires_at"], e.clock.Unix()+600)
	}
	sess, err := redeem(t, e.st, link, e.clock.Now())
	if err != nil || sess.AccountID != e.A.ID {
		t.Fatalf("redeeming A's link: %+v, %v; want a session of %s", sess, err, e.A.ID)
	}
	if _, err := redeem(t, e.st, link, e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a link redeemed twice: %v, want not found", err)
	}
	// B's key mints B's link.
	mb := e.doJSON(rawReq{method: "POST", path: "/portal/sessions", header: bearer(e.B.Key)}, http.StatusCreated)
	if sb, err := redeem(t, e.st, mb["url"].(string), e.clock.Now()); err != nil || sb.AccountID != e.B.ID {
		t.Fatalf("B's link: %+v, %v", sb, err)
	}
	// Expired after ten minutes.
	late := e.doJSON(mint, http.StatusCreated)["url"].(string)
	if _, err := redeem(t, e.st, late, e.clock.Now().Add(10*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a link redeemed at its expiry: %v, want not found", err)
	}

	// Revocation: A's session and A's unused link end; B's session stays.
	unused := e.doJSON(mint, http.StatusCreated)["url"].(string)
	rv := e.doJSON(rawReq{method: "DELETE", path: "/portal/sessions"}, http.StatusOK)
	if rv["revoked"] != float64(1) {
		t.Errorf("revoked = %v, want 1", rv["revoked"])
	}
	if _, err := e.st.TouchPortalSession(t.Context(), &store.TouchPortalSessionParams{IDHash: sess.IDHash, Now: e.clock.Now(), IdleUntil: e.clock.Now().Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A's session after revocation: %v, want not found", err)
	}
	if _, err := redeem(t, e.st, unused, e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A's unused link after revocation: %v, want not found", err)
	}

	for _, r := range []rawReq{mint, {method: "DELETE", path: "/portal/sessions"}} {
		r.header = http.Header{"Authorization": {"Bearer api_not_a_key"}}
		if got := e.do(r); got.status != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong key: %d %s", r.method, r.path, got.status, got.body)
		}
	}
}

// TestPortalSwitchedOff: without the portal a link cannot be minted (503),
// while revocation still works.
func TestPortalSwitchedOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(rawReq{method: "POST", path: "/portal/sessions"})
	var body map[string]any
	_ = json.Unmarshal(r.body, &body)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(body["error"].(string), "portal is switched off") {
		t.Fatalf("mint with the portal off: %d %s", r.status, r.body)
	}
	e.doJSON(rawReq{method: "DELETE", path: "/portal/sessions"}, http.StatusOK)
}

// TestPortalSessionsLimitsAndFailures: the key's rate limit applies, and a
// failing store is an opaque 500.
func TestPortalSessionsLimitsAndFailures(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, func(c *api.Config) { c.RateLimit, c.RateBurst = 1, 1 })
	mint := rawReq{method: "POST", path: "/portal/sessions"}
	revoke := rawReq{method: "DELETE", path: "/portal/sessions"}
	e.doJSON(mint, http.StatusCreated)
	check429(t, "mint", e.do(mint))
	check429(t, "revoke", e.do(revoke))

	f := newPortalEnv(t, nil)
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []rawReq{mint, revoke} {
		got := f.do(r)
		if got.status != http.StatusInternalServerError || strings.TrimSpace(string(got.body)) != `{"error":"Internal server error.","success":false}` {
			t.Errorf("%s %s with a closed store: %d %s", r.method, r.path, got.status, got.body)
		}
	}
}
