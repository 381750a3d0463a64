// Package api serves jetwebhooks' HTTP API on Echo: the generated strict
// server interface implemented over the store, every request validated against
// the embedded OpenAPI document before a handler sees it, and one error
// handler that turns every failure into the same JSON error shape.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/internal/ratelimit"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Config configures the API.
type Config struct {
	// IngestToken authorises POST /events. IngestTokenHash (its SHA-256) may
	// be given instead, so the token itself need not be kept anywhere. With
	// neither, ingest over HTTP is refused.
	IngestToken     string
	IngestTokenHash []byte
	// Egress decides which webhook URLs are acceptable. Required.
	Egress *egress.Policy
	// BodyLimit caps request bodies (Echo size syntax, where "1M" is 10^6
	// bytes and "1MiB" 2^20; default "1MiB", as SECURITY.md documents).
	// Batches of events get ten times as much.
	BodyLimit string
	// Logger receives request failures (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RateLimit is the sustained requests per second allowed per API key,
	// RateBurst the burst (defaults 50 and 100; a negative RateLimit
	// disables limiting). IngestRateLimit and IngestRateBurst do the same for
	// the ingest token (default: unlimited).
	RateLimit, IngestRateLimit float64
	RateBurst, IngestRateBurst int
	// AuthFailureBudget is how many requests with a wrong API key or ingest
	// token one client address may make per AuthFailureWindow (defaults 20
	// per minute; a negative budget disables the limit). The budget is a
	// token bucket: it may be spent at once, and comes back at
	// budget/window. An address that has spent it is answered 429 with
	// Retry-After on every authenticated route, whatever key it sends,
	// until a failure's worth has come back. Other addresses are not
	// affected. AuthFailureMaxClients caps how many addresses are tracked
	// (default 65536); see ratelimit.NewBounded for what happens beyond.
	AuthFailureBudget     int
	AuthFailureWindow     time.Duration
	AuthFailureMaxClients int
	// TrustedProxies are the peers whose X-Forwarded-For is believed: for a
	// request from one of them, the client address is the right-most
	// X-Forwarded-For entry that is not itself a trusted proxy. Empty (the
	// default): the peer address is the client, and X-Forwarded-For is
	// ignored, since anyone can send it.
	TrustedProxies []netip.Prefix
	// AuthRefused, if set, is called for each refused authentication:
	// throttled is false for a wrong credential (401) and true for a request
	// refused because its address is over the failure budget (429).
	AuthRefused func(throttled bool)
	// Tester makes the attempt of a test send (the delivery engine); without
	// it POST /webhooks/{uuid}/test answers 503.
	Tester TestSender
	// Handlers, if set, replaces the operations' implementation: it gets
	// ours and returns what serves the requests, for example a struct that
	// embeds ours and overrides one method, or one built on Unimplemented.
	// Either way every request still passes authentication, rate limits,
	// validation, idempotency and error mapping first.
	Handlers func(ours apiserver.StrictServerInterface) apiserver.StrictServerInterface
	// BasePath is the path prefix the API is served under ("" or, say,
	// "/hooks"): every route is registered below it, so the handler is
	// mounted on a mux as it is, without http.StripPrefix.
	BasePath string
	// IdempotencyLease bounds how long a request holds its Idempotency-Key
	// (default DefaultIdempotencyLease). A request that dies holding a key
	// (process killed, database error, client gone) locks it no longer:
	// after the lease, a retry of the same request runs.
	IdempotencyLease time.Duration
	// Portal mints customer portal links; without it POST /portal/sessions
	// answers 503 (the portal is switched off).
	Portal PortalLinks
}

// DefaultIdempotencyLease is a little over the longest request the server
// answers: its write timeout is 30 s, and a request still running after that
// can no longer reply anyway.
const DefaultIdempotencyLease = 45 * time.Second

// TestSender attempts a test delivery at once and records its outcome.
type TestSender interface {
	SendNow(ctx context.Context, c *store.Claim) (*store.Outcome, error)
}

// API is the HTTP API. It is an http.Handler; Echo exposes the router for
// callers that mount more routes.
type API struct {
	cfg        Config
	limits     *ratelimit.Limiter
	ingestLim  *ratelimit.Limiter
	store      store.Store
	publisher  *ingest.Publisher
	log        *slog.Logger
	ingestHash ingestHash // SHA-256 of the ingest token; replaced by SetIngestTokenHash
	echo       *echo.Echo
	// authFails counts failed authentications per client address.
	authFails *ratelimit.Limiter
}

// New builds the API over st, publishing ingested events through pub. It
// validates the embedded spec and fails if it is invalid.
func New(ctx context.Context, cfg Config, st store.Store, pub *ingest.Publisher) (*API, error) {
	if cfg.Egress == nil {
		return nil, errors.New("api: Config.Egress is required")
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "1MiB"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BasePath != "" && (!strings.HasPrefix(cfg.BasePath, "/") || strings.HasSuffix(cfg.BasePath, "/")) {
		return nil, fmt.Errorf("api: BasePath %q must start with / and not end with one", cfg.BasePath)
	}
	if cfg.IdempotencyLease <= 0 {
		cfg.IdempotencyLease = DefaultIdempotencyLease
	}
	if pub == nil {
		return nil, errors.New("api: a publisher is required")
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit, cfg.RateBurst = 50, 100
	}
	if cfg.AuthFailureBudget == 0 {
		cfg.AuthFailureBudget = 20
	}
	if cfg.AuthFailureWindow <= 0 {
		cfg.AuthFailureWindow = time.Minute
	}
	if cfg.AuthFailureMaxClients <= 0 {
		cfg.AuthFailureMaxClients = 65536
	}
	failRate := float64(cfg.AuthFailureBudget) / cfg.AuthFailureWindow.Seconds() // negative: disabled
	a := &API{cfg: cfg, store: st, publisher: pub, log: cfg.Logger,
		limits:    ratelimit.New(cfg.RateLimit, cfg.RateBurst, cfg.Now),
		ingestLim: ratelimit.New(cfg.IngestRateLimit, cfg.IngestRateBurst, cfg.Now),
		authFails: ratelimit.NewBounded(failRate, max(cfg.AuthFailureBudget, 1), cfg.AuthFailureMaxClients, cfg.Now)}
	if cfg.IngestToken != "" {
		h := sha256.Sum256([]byte(cfg.IngestToken))
		a.ingestHash.set(h[:])
	} else if cfg.IngestTokenHash != nil {
		if len(cfg.IngestTokenHash) != sha256.Size {
			return nil, errors.New("api: IngestTokenHash must be a SHA-256 (32 bytes)")
		}
		a.ingestHash.set(cfg.IngestTokenHash)
	}
	spec, err := apiserver.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("api: load embedded spec: %w", err)
	}
	ops, err := loadOperations(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = ErrorHandler(cfg.Logger)
	// A panic is logged with the stack of the goroutine that panicked
	// (DisablePrintStack would leave the stack empty; LogErrorFunc, not Echo's
	// logger, prints it) and answered as an opaque 500: the value is not
	// wrapped, so a panic carrying an *Error or an echo.HTTPError cannot
	// choose the status or the sentence.
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			cfg.Logger.Error("panic in handler", "method", c.Request().Method, "path", c.Path(), "err", err, "stack", string(stack))
			return fmt.Errorf("recovered panic: %v", err)
		},
	}))
	e.GET(cfg.BasePath+"/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"status": "ok"})
	})

	perOp := map[string][]echo.MiddlewareFunc{}
	for id, op := range ops {
		limit := cfg.BodyLimit
		if strings.EqualFold(id, "ingestEventBatch") {
			limit = batchLimit(cfg.BodyLimit)
		}
		// The body limit goes before the validator, which reads the whole body.
		mws := []echo.MiddlewareFunc{middleware.BodyLimit(limit), a.validator(op)}
		switch strings.ToLower(id) {
		case "createwebhook":
			mws = append(mws, a.idempotent(func(c echo.Context) string { return "account:" + accountFrom(c.Request().Context()).ID }, a.replayCreate))
		case "ingestevent", "ingesteventbatch":
			mws = append(mws, a.idempotent(func(echo.Context) string { return "ingest" }, nil))
		}
		// The embedded spec may carry normalised ids; registration uses the raw
		// (lower-camel) ones. Key both so no operation runs unvalidated.
		perOp[id] = mws
		perOp[strings.ToLower(id[:1])+id[1:]] = mws
	}
	var impl apiserver.StrictServerInterface = handlers{a}
	if cfg.Handlers != nil {
		if impl = cfg.Handlers(impl); impl == nil {
			return nil, errors.New("api: Config.Handlers returned nil")
		}
	}
	apiserver.RegisterHandlersWithOptions(e, apiserver.NewStrictHandler(impl, nil),
		apiserver.RegisterHandlersOptions{BaseURL: cfg.BasePath, OperationMiddlewares: perOp})
	a.echo = e
	return a, nil
}

// ipExtractor finds the client address (Echo's RealIP). Echo's fallback
// without an extractor believes X-Forwarded-For and X-Real-IP from anyone,
// and its XFF extractor trusts every loopback and private peer by default:
// both are turned off here, so only the configured proxies are believed.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// batchLimit gives batches ten times the single-request limit.
func batchLimit(single string) string {
	var n float64
	var unit string
	if _, err := fmt.Sscanf(single, "%g%s", &n, &unit); err != nil || n <= 0 {
		return "10M"
	}
	return strconv.FormatFloat(n*10, 'f', -1, 64) + unit
}

// Echo returns the router, for mounting further routes (metrics, docs).
func (a *API) Echo() *echo.Echo { return a.echo }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.echo.ServeHTTP(w, r) }
