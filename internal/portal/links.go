package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// DefaultLinkTTL is how long a minted sign-in link works.
const DefaultLinkTTL = 10 * time.Minute

// Links mints single-use sign-in links (POST /portal/sessions, the CLI's
// `portal link`). The API and the portal's handler share one.
type Links struct {
	// Store keeps the link tokens (their SHA-256 only).
	Store store.Store
	// BaseURL is the portal's public URL, e.g. https://hooks.example.com/portal.
	BaseURL string
	// TTL is how long a link works (default DefaultLinkTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// linkPath is where a link lands, below BaseURL.
const linkPath = "/login"

// MintLink implements api.PortalLinks.
func (l *Links) MintLink(ctx context.Context, accountID string) (string, time.Time, error) {
	if l.Store == nil || l.BaseURL == "" {
		return "", time.Time{}, errors.New("portal links: Store and BaseURL are required")
	}
	tok, err := newToken("pl_")
	if err != nil {
		return "", time.Time{}, err
	}
	now := l.now()
	ttl := l.TTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	// Milliseconds are what the store keeps; the answer says the same.
	expires := now.Add(ttl).Truncate(time.Millisecond)
	if err := l.Store.CreatePortalLink(ctx, &store.PortalLink{TokenHash: hash(tok), AccountID: accountID, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimSuffix(l.BaseURL, "/") + linkPath + "?token=" + url.QueryEscape(tok), expires, nil
}

func (l *Links) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// newToken returns prefix and 32 random bytes, base64url.
func newToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("portal token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
