package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// portalFlags are serve's customer portal flags.
type portalFlags struct {
	on, secure              bool
	url, ancestors          string
	linkTTL, idle, lifetime time.Duration
}

func (pf *portalFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&pf.on, "portal", envBool("JETWEBHOOKS_PORTAL", true), "serve the customer portal at /portal/ and mint its links (env JETWEBHOOKS_PORTAL)")
	f.StringVar(&pf.url, "portal-url", envOr("JETWEBHOOKS_PORTAL_URL", ""), "the portal's public URL, its path ending in /portal, e.g. https://hooks.example.com/portal; minted links point there (default http://<addr>/portal) (env JETWEBHOOKS_PORTAL_URL)")
	f.StringVar(&pf.ancestors, "portal-frame-ancestors", envOr("JETWEBHOOKS_PORTAL_FRAME_ANCESTORS", ""), "space-separated origins allowed to embed the portal in a frame, e.g. https://app.example.com; default none (env JETWEBHOOKS_PORTAL_FRAME_ANCESTORS)")
	f.DurationVar(&pf.linkTTL, "portal-link-ttl", envDuration("JETWEBHOOKS_PORTAL_LINK_TTL", 10*time.Minute), "how long a minted portal link works (env JETWEBHOOKS_PORTAL_LINK_TTL)")
	f.DurationVar(&pf.idle, "portal-idle-timeout", envDuration("JETWEBHOOKS_PORTAL_IDLE_TIMEOUT", 30*time.Minute), "a portal session unused this long ends (env JETWEBHOOKS_PORTAL_IDLE_TIMEOUT)")
	f.DurationVar(&pf.lifetime, "portal-session-ttl", envDuration("JETWEBHOOKS_PORTAL_SESSION_TTL", 12*time.Hour), "a portal session ends this long after sign-in, used or not (env JETWEBHOOKS_PORTAL_SESSION_TTL)")
	f.BoolVar(&pf.secure, "portal-secure-cookie", envBool("JETWEBHOOKS_PORTAL_SECURE_COOKIE", false), "mark the portal's session cookie Secure (it is whenever --portal-url is https), e.g. behind a TLS-terminating proxy (env JETWEBHOOKS_PORTAL_SECURE_COOKIE)")
}

func (pf *portalFlags) config() server.PortalConfig {
	return server.PortalConfig{Off: !pf.on, URL: pf.url, FrameAncestors: strings.Fields(pf.ancestors), SecureCookie: pf.secure,
		LinkTTL: pf.linkTTL, IdleTimeout: pf.idle, SessionTTL: pf.lifetime}
}

func envBool(name string, def bool) bool {
	if v, err := strconv.ParseBool(envOr(name, "")); err == nil {
		return v
	}
	return def
}

// newPortalCmd is `jetwebhooks portal`: sign-in links to the customer portal.
func newPortalCmd() *cobra.Command {
	c := &conn{cred: apiKeyCred}
	cmd := &cobra.Command{
		Use:   "portal",
		Short: "Mint customer portal links and revoke portal sessions",
		Long: `The customer portal (/portal/ on the server) lets the people who receive an account's
webhooks manage them without an API key: the operator mints a single-use link with the
account's key and hands it over.

The server is --base-url (env JETWEBHOOKS_BASE_URL, default ` + defaultBaseURL + `) and the
account's key --api-key (env JETWEBHOOKS_API_KEY).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.addFlags(cmd, true)
	cmd.AddCommand(&cobra.Command{
		Use:   "link",
		Short: "Mint a single-use sign-in link for the account (POST /portal/sessions)",
		Long: `Mint a sign-in link to the customer portal for the account of --api-key. The link
works once, for 10 minutes; opening it signs the browser in to that account only.
It prints the link alone (for scripts), or with --output json {"url", "expires_at"}.`,
		Example: `  jetwebhooks portal link
  open "$(jetwebhooks portal link)"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: c.runE(func(cmd *cobra.Command, _ []string, cl *client.Client, p *printer) error {
			l, err := cl.CreatePortalLink(cmd.Context())
			if err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(map[string]any{"url": l.URL, "expires_at": l.ExpiresAt})
			}
			_, err = fmt.Fprintln(p.w, l.URL)
			if err == nil {
				_, err = fmt.Fprintf(cmd.ErrOrStderr(), "Works once, until %s.\n", time.Unix(l.ExpiresAt, 0).UTC().Format(time.RFC3339))
			}
			return err
		}),
	}, &cobra.Command{
		Use:     "revoke",
		Short:   "Sign every portal session of the account out (DELETE /portal/sessions)",
		Example: `  jetwebhooks portal revoke`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: c.runE(func(cmd *cobra.Command, _ []string, cl *client.Client, p *printer) error {
			n, err := cl.RevokePortalSessions(cmd.Context())
			if err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(map[string]any{"success": true, "revoked": n})
			}
			_, err = fmt.Fprintf(p.w, "Signed out %d portal session(s); unused links no longer work.\n", n)
			return err
		}),
	})
	return cmd
}
