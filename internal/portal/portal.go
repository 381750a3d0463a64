// Package portal is the customer portal: server-rendered pages where the
// people who receive the webhooks manage their endpoints, read the delivery
// log, replay, test, rotate secrets and learn to verify signatures, signed
// in through a single-use link the operator's backend mints
// (POST /portal/sessions) so that they never see an API key.
//
// It is html/template over net/http with no JavaScript: forms post, the
// server redirects (POST/redirect/GET), charts are inline SVG drawn on the
// server, and the one stylesheet is embedded. Every change goes through the
// API in process (api.ServeAccount), so the portal validates and words its
// refusals exactly as the API does.
package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/ratelimit"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

//go:embed templates/*.html assets/*
var files embed.FS

// AccountServer serves an API request on behalf of an account (the API's
// ServeAccount).
type AccountServer interface {
	ServeAccount(w http.ResponseWriter, r *http.Request, acc *store.Account)
}

// Config configures the portal.
type Config struct {
	// Store reads the account's webhooks and history and keeps sessions.
	Store store.Store
	// API makes every change, in process. Required. APIBase is the path
	// prefix its routes are registered under (api.Config.BasePath).
	API     AccountServer
	APIBase string
	// Links mints sign-in links; its BaseURL's path is where the portal's
	// pages are reached from the browser (all links and the cookie's path
	// are built from it, so the portal works behind a path prefix).
	Links *Links
	// FrameAncestors are the origins allowed to embed the portal in a
	// frame (CSP frame-ancestors); none by default.
	FrameAncestors []string
	// SecureCookie marks the session cookie Secure (always when the portal
	// URL is https).
	SecureCookie bool
	// IdleTimeout ends a session not used for this long (default 30 min);
	// SessionTTL ends it whatever happens (default 12 h).
	IdleTimeout, SessionTTL time.Duration
	// RateLimit is the requests per second one account's portal sessions
	// may make together, RateBurst the burst (0: unlimited). The API's
	// limits are per key, and the portal calls the API without one.
	RateLimit float64
	RateBurst int
	// Logger (default slog.Default()); Now is the clock (default time.Now).
	Logger *slog.Logger
	Now    func() time.Time
}

// Portal is the portal's http.Handler. It expects paths below its root
// ("/", "/webhooks/…"): mount it with http.StripPrefix.
type Portal struct {
	cfg    Config
	base   string // public path of the portal's root, no trailing slash
	csp    string
	mux    *http.ServeMux
	pages  map[string]*template.Template
	log    *slog.Logger
	secure bool
	limits *ratelimit.Limiter
}

// cookieName is the session cookie.
const cookieName = "jetwebhooks_portal"

// New builds the portal.
func New(cfg Config) (*Portal, error) {
	if cfg.Store == nil || cfg.API == nil || cfg.Links == nil {
		return nil, errors.New("portal: Store, API and Links are required")
	}
	u, err := url.Parse(cfg.Links.BaseURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("portal: the portal URL %q must be an absolute http(s) URL", cfg.Links.BaseURL)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, a := range cfg.FrameAncestors {
		if a == "" || strings.ContainsAny(a, ";,\r\n") {
			return nil, fmt.Errorf("portal: frame ancestor %q is not a CSP source", a)
		}
	}
	p := &Portal{cfg: cfg, base: strings.TrimSuffix(u.EscapedPath(), "/"), log: cfg.Logger,
		secure: cfg.SecureCookie || u.Scheme == "https", limits: ratelimit.New(cfg.RateLimit, cfg.RateBurst, cfg.Now)}
	ancestors := "'none'"
	if len(cfg.FrameAncestors) > 0 {
		ancestors = strings.Join(cfg.FrameAncestors, " ")
	}
	p.csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"frame-ancestors " + ancestors + "; form-action 'self'; base-uri 'none'; object-src 'none'"
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// ServeHTTP implements http.Handler: security headers on every answer.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if len(p.cfg.FrameAncestors) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
	p.mux.ServeHTTP(w, r)
}

func (p *Portal) routes() {
	m := http.NewServeMux()
	assets, _ := fs.Sub(files, "assets")
	static := http.FileServerFS(assets)
	m.Handle("GET /assets/", http.StripPrefix("/assets", cacheAssets(static)))
	m.HandleFunc("GET /login", p.login)
	m.HandleFunc("GET /signed-out", p.signedOut)
	m.HandleFunc("POST /logout", p.authed(p.logout))
	m.HandleFunc("GET /{$}", p.authed(p.endpoints))
	m.HandleFunc("GET /webhooks/new", p.authed(p.newWebhook))
	m.HandleFunc("POST /webhooks/new", p.authed(p.createWebhook))
	m.HandleFunc("GET /webhooks/{id}", p.authed(p.webhook))
	m.HandleFunc("POST /webhooks/{id}", p.authed(p.updateWebhook))
	m.HandleFunc("POST /webhooks/{id}/status", p.authed(p.setStatus))
	m.HandleFunc("POST /webhooks/{id}/delete", p.authed(p.deleteWebhook))
	m.HandleFunc("POST /webhooks/{id}/rotate", p.authed(p.rotateSecret))
	m.HandleFunc("POST /webhooks/{id}/test", p.authed(p.testSend))
	m.HandleFunc("GET /deliveries", p.authed(p.deliveries))
	m.HandleFunc("GET /deliveries/{event}/{webhook}", p.authed(p.delivery))
	m.HandleFunc("POST /replay", p.authed(p.replay))
	m.HandleFunc("GET /events", p.authed(p.catalog))
	m.HandleFunc("GET /stats", p.authed(p.stats))
	m.HandleFunc("GET /docs", p.authed(p.docs))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	p.mux = m
}

func cacheAssets(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// session is a signed-in request's account and its CSRF token.
type session struct {
	acc  *store.Account
	id   string // the cookie's value
	csrf string
}

// csrfToken is derived from the session id, which only the browser holding
// the HttpOnly cookie knows: nothing to store, and it dies with the session.
func csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("jetwebhooks portal csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type authedHandler func(w http.ResponseWriter, r *http.Request, s *session)

// authed resolves the session cookie (refreshing its idle expiry) and, for
// anything but GET, checks the CSRF token and that the browser says the
// request comes from the portal's own origin.
func (p *Portal) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c, err := r.Cookie(cookieName)
		if err != nil || c.Value == "" || len(c.Value) > 128 {
			p.signInRequired(w, r)
			return
		}
		now := p.cfg.Now()
		sess, err := p.cfg.Store.TouchPortalSession(r.Context(), &store.TouchPortalSessionParams{
			IDHash: hash(c.Value), Now: now, IdleUntil: now.Add(p.cfg.IdleTimeout)})
		if errors.Is(err, store.ErrNotFound) {
			p.clearCookie(w, r)
			p.signInRequired(w, r)
			return
		}
		if err != nil {
			p.internal(w, r, err)
			return
		}
		acc, err := p.cfg.Store.GetAccount(r.Context(), sess.AccountID)
		if err != nil {
			p.internal(w, r, err)
			return
		}
		s := &session{acc: acc, id: c.Value, csrf: csrfToken(c.Value)}
		if ok, wait := p.limits.Allow(acc.ID); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			p.fail(w, r, s, http.StatusTooManyRequests, "Too many requests. Wait a moment and try again.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if sf := r.Header.Get("Sec-Fetch-Site"); sf != "" && sf != "same-origin" {
				p.fail(w, r, s, http.StatusForbidden, "This form was not sent from the portal.")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				p.fail(w, r, s, http.StatusForbidden, "This form has expired or was not sent from the portal. Reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	}
}

func (p *Portal) signInRequired(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusUnauthorized, "message", nil, map[string]any{
		"Title":   "Sign-in required",
		"Message": "Your session has ended or this browser is not signed in. Open a new portal link from the application that sent you here.",
	})
}

// The cookie is Secure when configured, when the portal URL is https, or
// when this request came over TLS (the server terminating it itself).
func (p *Portal) setCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: p.base + "/", Expires: expires,
		HttpOnly: true, Secure: p.secure || r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

func (p *Portal) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: p.base + "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure || r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// login exchanges a link's token for a session and redirects at once to a
// URL without the token.
func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok := r.URL.Query().Get("token")
	now := p.cfg.Now()
	id, err := newToken("ps_")
	if err != nil {
		p.internal(w, r, err)
		return
	}
	var sess *store.PortalSession
	if tok != "" && len(tok) <= 128 {
		sess, err = p.cfg.Store.RedeemPortalLink(r.Context(), hash(tok), &store.PortalSession{
			IDHash: hash(id), CreatedAt: now, LastSeenAt: now,
			IdleExpiresAt: now.Add(min(p.cfg.IdleTimeout, p.cfg.SessionTTL)), ExpiresAt: now.Add(p.cfg.SessionTTL)})
	} else {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		p.render(w, r, http.StatusForbidden, "message", nil, map[string]any{
			"Title":   "This link does not work",
			"Message": "Sign-in links work once and only for a few minutes. Ask the application that sent you here for a new one.",
		})
		return
	}
	if err != nil {
		p.internal(w, r, err)
		return
	}
	// A browser already signed in (perhaps as another account) gives its
	// old session up.
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		_ = p.cfg.Store.DeletePortalSession(r.Context(), hash(c.Value))
	}
	p.setCookie(w, r, id, sess.ExpiresAt)
	p.log.Info("portal session opened", "account", sess.AccountID)
	http.Redirect(w, r, p.base+"/", http.StatusSeeOther)
}

// logout ends this session or, with everywhere=1, every session of the
// account (and its unused links), as DELETE /portal/sessions does.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) {
	var err error
	if r.PostFormValue("everywhere") == "1" {
		var n int
		n, err = p.cfg.Store.RevokePortalSessions(r.Context(), s.acc.ID)
		p.log.Info("portal sessions revoked", "account", s.acc.ID, "sessions", n)
	} else {
		err = p.cfg.Store.DeletePortalSession(r.Context(), hash(s.id))
	}
	if err != nil {
		p.internal(w, r, err)
		return
	}
	p.clearCookie(w, r)
	http.Redirect(w, r, p.base+"/signed-out", http.StatusSeeOther)
}

func (p *Portal) signedOut(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "message", nil, map[string]any{
		"Title": "Signed out", "Message": "You are signed out. To come back, open a new portal link from the application that sent you here.",
	})
}

// internal logs err and answers an opaque 500.
func (p *Portal) internal(w http.ResponseWriter, r *http.Request, err error) {
	p.log.Error("portal request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	p.fail(w, r, nil, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
}

func (p *Portal) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	p.render(w, r, status, "message", s, map[string]any{"Title": http.StatusText(status), "Message": msg})
}

// redirect sends the browser to a portal path after a change, with a notice.
func (p *Portal) redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "notice=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, p.base+path, http.StatusSeeOther)
}
