package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/internal/portal"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// portalPath is where the server mounts the customer portal.
const portalPath = "/portal"

// portalLinks builds the link minter, or nil with the portal off.
func (s *Server) portalLinks(st store.Store) (*portal.Links, error) {
	pc := s.cfg.Portal
	if pc.Off {
		return nil, nil
	}
	base := pc.URL
	if base == "" {
		base = "http://" + s.cfg.Addr + s.cfg.BasePath + portalPath
	} else {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			!strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), portalPath) || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("portal URL %q: want an http(s) URL whose path ends in %s, e.g. https://hooks.example.com/portal", pc.URL, portalPath)
		}
		base = strings.TrimSuffix(base, "/")
	}
	s.links = &portal.Links{Store: st, BaseURL: base, TTL: pc.LinkTTL, Now: s.cfg.Now}
	return s.links, nil
}

// mountPortal serves the portal's pages below /portal/ (under BasePath).
func (s *Server) mountPortal(e *echo.Echo, st store.Store) error {
	if s.links == nil {
		return nil
	}
	// A portal session's account is limited like one API key (api.Config's
	// defaults: 50/s, burst 100; negative: unlimited).
	rateLimit, rateBurst := s.cfg.RateLimit, s.cfg.RateBurst
	if rateLimit == 0 {
		rateLimit, rateBurst = 50, 100
	}
	p, err := portal.New(portal.Config{Store: st, API: s.api, APIBase: s.cfg.BasePath, Links: s.links, FrameAncestors: s.cfg.Portal.FrameAncestors,
		SecureCookie: s.cfg.Portal.SecureCookie, IdleTimeout: s.cfg.Portal.IdleTimeout, SessionTTL: s.cfg.Portal.SessionTTL,
		RateLimit: rateLimit, RateBurst: rateBurst, Logger: s.log, Now: s.cfg.Now})
	if err != nil {
		return err
	}
	mount := s.cfg.BasePath + portalPath
	h := echo.WrapHandler(http.StripPrefix(mount, p))
	e.Any(mount+"/*", h)
	e.GET(mount, func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, strings.TrimSuffix(s.links.BaseURL, "/")+"/")
	})
	return nil
}

// portalListening points default links at the address actually listened
// on (say, port 0 in tests). It runs before the server accepts requests.
func (s *Server) portalListening(ln net.Listener) {
	if s.links != nil && s.cfg.Portal.URL == "" {
		s.linksMu.Lock()
		s.links.BaseURL = "http://" + ln.Addr().String() + s.cfg.BasePath + portalPath
		s.linksMu.Unlock()
		if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && ap.Addr().IsUnspecified() {
			s.log.Warn("portal links point at an unspecified address; set --portal-url to the portal's public URL", "portal_url", s.links.BaseURL)
		}
	}
}

// ErrPortalOff is what MintPortalLink returns when Config.Portal.Off
// switched the customer portal off.
var ErrPortalOff = errors.New("server: the customer portal is switched off")

// MintPortalLink mints a single-use sign-in link to the customer portal for
// accountID, as POST /portal/sessions does, for programs that mint links
// without HTTP. It returns the link and when it expires
// (Config.Portal.LinkTTL), or ErrPortalOff. Without Config.Portal.URL, links
// point at the address Serve listens on once it has started.
func (s *Server) MintPortalLink(ctx context.Context, accountID string) (link string, expires time.Time, err error) {
	if s.links == nil {
		return "", time.Time{}, ErrPortalOff
	}
	// Serve may be setting the base URL right now (portalListening); the
	// API's own minting runs only after it has.
	s.linksMu.Lock()
	l := *s.links
	s.linksMu.Unlock()
	return l.MintLink(ctx, accountID)
}
