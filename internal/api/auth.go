package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/ratelimit"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

type accountKey struct{}

// accountFrom returns the authenticated account of a request.
func accountFrom(ctx context.Context) *store.Account {
	a, _ := ctx.Value(accountKey{}).(*store.Account)
	return a
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Message: "Missing or invalid API key.",
	Header: http.Header{"Www-Authenticate": {`Bearer realm="jetwebhooks"`}}}

var errBadIngestToken = &Error{Status: http.StatusUnauthorized, Message: "Missing or invalid ingest token.",
	Header: http.Header{"Www-Authenticate": {`Bearer realm="jetwebhooks-ingest"`}}}

// bearer extracts the token of the one Authorization header; two headers are
// refused rather than guessed between.
func bearer(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > 512 {
		return "", false
	}
	return tok, true
}

// authenticate enforces the operation's security scheme and, for account
// keys, puts the account in the request context. A client address that has
// spent its budget of failed authentications is refused first, before any
// credential is looked at (see authFailure).
func (a *API) authenticate(c echo.Context, op *operation) error {
	req := c.Request()
	if op.security == "" {
		return nil
	}
	// The portal's in-process requests are authenticated by its session,
	// not a credential: the budget of failed authentications is not theirs.
	if acc, ok := req.Context().Value(inProcessAccount{}).(*store.Account); ok && acc != nil && op.security == "apiKeyAuth" {
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), accountKey{}, acc)))
		return nil
	}
	client := a.clientKey(c)
	if blocked, wait := a.authFails.Blocked(client); blocked {
		if a.cfg.AuthRefused != nil {
			a.cfg.AuthRefused(true)
		}
		return tooManyFailures(wait)
	}
	switch op.security {
	case "ingestTokenAuth":
		tok, ok := bearer(req)
		want := a.ingestHash.get()
		if !ok || want == nil {
			return errBadIngestToken
		}
		h := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(h[:], want) != 1 {
			a.authFailure(client, "ingest token")
			return errBadIngestToken
		}
		return limited(a.ingestLim, "ingest")
	case "apiKeyAuth":
		tok, ok := bearer(req)
		if !ok {
			return errUnauthorized
		}
		hash := accounts.HashKey(tok)
		acc, err := a.store.AccountByKeyHash(req.Context(), hash)
		if errors.Is(err, store.ErrNotFound) {
			a.authFailure(client, "API key")
			return errUnauthorized
		}
		if err != nil {
			return err
		}
		// The bucket is the key's, not the account's: an account with several
		// keys (one per service) gets a limit per key.
		if err := limited(a.limits, string(hash)); err != nil {
			return err
		}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), accountKey{}, acc)))
		return nil
	}
	return errUnauthorized
}

// authFailure charges a rejected credential to the client's budget. Only a
// credential that was presented and is wrong counts: a missing or malformed
// Authorization header guesses nothing.
func (a *API) authFailure(client, what string) {
	if a.cfg.AuthRefused != nil {
		a.cfg.AuthRefused(false)
	}
	if a.authFails.Charge(client) {
		// Logged once each time the budget runs out, not on every refusal.
		a.log.Warn("too many invalid credentials from one client; refusing its requests for a while",
			"client", client, "credential", what)
	}
}

// tooManyFailures is the answer to a client over its failure budget.
func tooManyFailures(wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	return &Error{Status: http.StatusTooManyRequests,
		Message: "Too many requests with an invalid API key or ingest token from this address; retry after the time in Retry-After.",
		Header:  http.Header{"Retry-After": {strconv.Itoa(max(secs, 1))}}}
}

// clientKey is the address failed authentications are counted against: the
// peer's IP address, or, when the peer is a trusted proxy, the address it
// reports in X-Forwarded-For (see Config.TrustedProxies). IPv6 clients are
// counted per /64, the smallest block a site is usually given, so that one
// host cannot get a fresh budget from each of its 2^64 addresses.
func (a *API) clientKey(c echo.Context) string {
	ip, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return "unknown"
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

// limited answers 429 with Retry-After when key's bucket is empty.
func limited(l *ratelimit.Limiter, key string) error {
	ok, wait := l.Allow(key)
	if ok {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	return &Error{Status: http.StatusTooManyRequests, Message: "Rate limit exceeded; retry after the time in Retry-After.",
		Header: http.Header{"Retry-After": {strconv.Itoa(max(secs, 1))}}}
}
