package storetest

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newSession(id string, now time.Time) *store.PortalSession {
	return &store.PortalSession{IDHash: hashOf(id), CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(8 * time.Hour)}
}

// testPortalLinks: a link opens one session of its own account, once, and
// only before it expires.
func testPortalLinks(t *testing.T, s store.Store) {
	a := newAccount(t, s, nil, nil)
	wantErr(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(uniq("tok")), AccountID: "acc_missing",
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}), store.ErrNotFound)

	tok := uniq("tok")
	mustNil(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(tok), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}))
	// Someone tries to pick the account: it comes from the link only.
	req := newSession(uniq("sess"), t0.Add(time.Minute))
	req.AccountID = "acc_other"
	sess := must(s.RedeemPortalLink(ctx(t), hashOf(tok), req))
	if sess.AccountID != a.ID || !sess.ExpiresAt.Equal(t0.Add(time.Minute+8*time.Hour)) {
		t.Fatalf("session = %+v, want account %s", sess, a.ID)
	}
	_, err := s.RedeemPortalLink(ctx(t), hashOf(tok), newSession(uniq("sess"), t0.Add(2*time.Minute)))
	wantErr(t, err, store.ErrNotFound) // used twice
	_, err = s.RedeemPortalLink(ctx(t), hashOf("never-minted"), newSession(uniq("sess"), t0))
	wantErr(t, err, store.ErrNotFound)

	late := uniq("tok")
	mustNil(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(late), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}))
	_, err = s.RedeemPortalLink(ctx(t), hashOf(late), newSession(uniq("sess"), t0.Add(10*time.Minute)))
	wantErr(t, err, store.ErrNotFound) // expired (at its expiry, exclusive)

	// Two redemptions at once: exactly one opens a session.
	race := uniq("tok")
	mustNil(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(race), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RedeemPortalLink(ctx(t), hashOf(race), newSession(uniq("sess"), t0)); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d concurrent redemptions of one link succeeded, want 1", won)
	}
}

// testPortalSessions: idle and absolute expiry, logout, revocation of one
// account's sessions only, and the purge of what expired.
func testPortalSessions(t *testing.T, s store.Store) {
	a := newAccount(t, s, nil, nil)
	b := newAccount(t, s, nil, nil)
	open := func(acc *store.Account, id string, now time.Time) {
		t.Helper()
		tok := uniq("tok")
		mustNil(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(tok), AccountID: acc.ID, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
		must(s.RedeemPortalLink(ctx(t), hashOf(tok), newSession(id, now)))
	}
	touch := func(id string, now time.Time) (*store.PortalSession, error) {
		return s.TouchPortalSession(ctx(t), &store.TouchPortalSessionParams{IDHash: hashOf(id), Now: now, IdleUntil: now.Add(30 * time.Minute)})
	}
	sa, sb := uniq("sess"), uniq("sess")
	open(a, sa, t0)
	open(b, sb, t0)

	// Visits keep a session alive past its first idle expiry ...
	now := t0
	for range 19 { // 19 × 25 min = 7 h 55 min
		now = now.Add(25 * time.Minute)
		got, err := touch(sa, now)
		mustNil(t, err)
		if got.AccountID != a.ID || !got.LastSeenAt.Equal(now) || got.IdleExpiresAt.After(got.ExpiresAt) {
			t.Fatalf("touched session = %+v at %v", got, now)
		}
	}
	// ... but never past its absolute expiry (8 h).
	if _, err := touch(sa, t0.Add(8*time.Hour)); err == nil {
		t.Fatal("a session was still valid at its absolute expiry")
	}
	// Idle: b was not seen for 30 minutes.
	_, err := touch(sb, t0.Add(30*time.Minute))
	wantErr(t, err, store.ErrNotFound)

	// Logout ends that session only.
	s1, s2 := uniq("sess"), uniq("sess")
	open(a, s1, t0)
	open(a, s2, t0)
	mustNil(t, s.DeletePortalSession(ctx(t), hashOf(s1)))
	_, err = touch(s1, t0.Add(time.Minute))
	wantErr(t, err, store.ErrNotFound)
	must(touch(s2, t0.Add(time.Minute)))
	mustNil(t, s.DeletePortalSession(ctx(t), hashOf(s1))) // twice: no-op

	// Revoking a's sessions leaves b's, and a's unused links stop working.
	sb2 := uniq("sess")
	open(b, sb2, t0)
	pending := uniq("tok")
	mustNil(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(pending), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}))
	if n := must(s.RevokePortalSessions(ctx(t), a.ID)); n != 2 {
		t.Fatalf("revoked %d sessions, want 2 (sa, expired but not purged yet, and s2)", n)
	}
	_, err = touch(s2, t0.Add(2*time.Minute))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RedeemPortalLink(ctx(t), hashOf(pending), newSession(uniq("sess"), t0.Add(2*time.Minute)))
	wantErr(t, err, store.ErrNotFound)
	must(touch(sb2, t0.Add(2*time.Minute)))

	// Purge: the expired link and the sessions idle or past expiry go.
	old := uniq("tok")
	mustNil(t, s.CreatePortalLink(ctx(t), &store.PortalLink{TokenHash: hashOf(old), AccountID: b.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	if n := must(s.PurgePortalSessions(ctx(t), t0.Add(9*time.Hour))); n < 2 {
		t.Fatalf("purged %d rows, want the expired link and b's sessions", n)
	}
	if n := must(s.PurgePortalSessions(ctx(t), t0.Add(9*time.Hour))); n != 0 {
		t.Fatalf("second purge removed %d rows", n)
	}
}
