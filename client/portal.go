package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jetwebhooks/jetwebhooks/gen/apiclient"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// PortalLink is a sign-in link to the customer portal: URL works once, until
// ExpiresAt (unix seconds).
type PortalLink = models.PortalLinkResponse

// CreatePortalLink mints a single-use sign-in link to the customer portal
// for the client's account, to hand to the account's user so they never see
// the API key. A 503 *Error means the server has the portal switched off.
func (c *Client) CreatePortalLink(ctx context.Context) (*PortalLink, error) {
	const op = "create portal link"
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.CreatePortalSession(ctx, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseCreatePortalSessionResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	return decoded(op, parsed.JSON201, parsed.Body)
}

// RevokePortalSessions signs every portal session of the client's account
// out and invalidates its unused links; it returns how many sessions ended.
func (c *Client) RevokePortalSessions(ctx context.Context) (int, error) {
	const op = "revoke portal sessions"
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.RevokePortalSessions(ctx, c.editor(c.apiKey))
	})
	if err != nil {
		return 0, err
	}
	parsed, err := apiclient.ParseRevokePortalSessionsResponse(rsp)
	if err != nil {
		return 0, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	out, err := decoded(op, parsed.JSON200, parsed.Body)
	if err != nil {
		return 0, err
	}
	return out.Revoked, nil
}
