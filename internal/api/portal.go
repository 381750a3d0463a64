package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// PortalLinks mints sign-in links to the customer portal (internal/portal).
type PortalLinks interface {
	// MintLink stores a single-use link token of the account and returns
	// the link and when it expires.
	MintLink(ctx context.Context, accountID string) (url string, expiresAt time.Time, err error)
}

// CreatePortalSession implements POST /portal/sessions.
func (h handlers) CreatePortalSession(ctx context.Context, _ apiserver.CreatePortalSessionRequestObject) (apiserver.CreatePortalSessionResponseObject, error) {
	if h.cfg.Portal == nil {
		return nil, newError(http.StatusServiceUnavailable, "The customer portal is switched off on this server.")
	}
	acc := accountFrom(ctx)
	link, expires, err := h.cfg.Portal.MintLink(ctx, acc.ID)
	if err != nil {
		return nil, fmt.Errorf("mint portal link: %w", err)
	}
	h.log.Info("portal link minted", "account", acc.ID, "expires_at", expires)
	return apiserver.CreatePortalSession201JSONResponse{Success: true, URL: link, ExpiresAt: expires.Unix()}, nil
}

// RevokePortalSessions implements DELETE /portal/sessions.
func (h handlers) RevokePortalSessions(ctx context.Context, _ apiserver.RevokePortalSessionsRequestObject) (apiserver.RevokePortalSessionsResponseObject, error) {
	acc := accountFrom(ctx)
	n, err := h.store.RevokePortalSessions(ctx, acc.ID)
	if err != nil {
		return nil, err
	}
	h.log.Info("portal sessions revoked", "account", acc.ID, "sessions", n)
	return apiserver.RevokePortalSessions200JSONResponse{Success: true, Revoked: n}, nil
}

// inProcessAccount marks a request the customer portal makes in process on
// behalf of its session's account. The key type is unexported, so only
// ServeAccount can set it: a request from the network never carries it.
type inProcessAccount struct{}

// ServeAccount serves r as the API would for a request authenticated with
// one of acc's API keys. The customer portal calls the API this way, so its
// forms are validated, answered and refused exactly as API requests are:
// one source of truth for the rules and their messages. The rate limit of
// API keys does not apply (the portal's session is not a key).
func (a *API) ServeAccount(w http.ResponseWriter, r *http.Request, acc *store.Account) {
	a.echo.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), inProcessAccount{}, acc)))
}
