// Package server is jetwebhooks as a library: the JetEmail-compatible webhooks
// API, its storage and the delivery engine, assembled and ready to embed in a
// Go program or to run with `jetwebhooks serve`.
//
//	srv, err := server.Open(ctx, server.Config{DB: "./data/jetwebhooks.db"})
//	if err != nil { ... }
//	defer srv.Close()
//	go srv.Run(ctx)                       // HTTP API on cfg.Addr + delivery
//	srv.Publish(ctx, server.Event{...})   // publish without HTTP
//
// Open picks the backend from Config.DB. To choose and configure it yourself,
// open a store (sqlitestore.Open, pgstore.Open, or your own store.Store) and
// pass it to New; to serve Handler on a mux or an HTTP server of your own,
// run RunBackground beside it. Tests that need a live server use servertest.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/cache"
	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/internal/metrics"
	"github.com/jetwebhooks/jetwebhooks/internal/portal"
	"github.com/jetwebhooks/jetwebhooks/internal/secretbox"
	"github.com/jetwebhooks/jetwebhooks/internal/wireerrors"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// Event is an event to publish with Server.Publish. Its fields are those of
// POST /events: Type and AccountID are required; ID ("evt_…", optional) makes
// a repeated publish of the same event a no-op; User (outbound events) and
// Domain (inbound events) are matched against webhooks' filters; Data, or
// RawData as JSON (which wins and keeps every digit of its numbers), becomes
// the envelope's data object; CreatedAt defaults to the time of publishing.
type Event = ingest.Event

// PublishResult tells what publishing one event did.
type PublishResult = store.PublishResult

// InputError is the error Publish returns for an invalid event (Index is its
// position in the batch, Field and Reason what is wrong with it); nothing of
// the batch was stored. Find it with errors.As.
type InputError = ingest.InputError

// ContractViolation is one API response that openapi.yaml does not describe,
// as Config.OnContractViolation receives it: the request's Method and Path,
// the response's Status, and Err, what is wrong with it; its String method
// says all of that in one line.
type ContractViolation = contract.Violation

// Config configures a server. Zero values take the documented defaults.
type Config struct {
	// Addr is the listen address of Run (default "127.0.0.1:8080").
	Addr string
	// DB is a SQLite file path (default "./data/jetwebhooks.db") or a
	// postgres:// URL.
	DB string
	// IngestToken authorises POST /events. Empty: a token generated at the
	// first start is used (its hash is stored; the token is shown once).
	IngestToken string
	// EgressAllow opens address ranges the egress policy refuses by default
	// (loopback, private, …); for local development and tests only.
	EgressAllow []netip.Prefix
	// RetrySchedule holds the delay before each delivery attempt; its length
	// is the number of attempts (default JetEmail's: at once, then after
	// 30 s, 2 min, 10 min, 1 h and 4 h). DeliveryTimeout bounds one attempt,
	// connection to last byte (default 10 s). Concurrency is the number of
	// attempts in flight at once (default 256).
	RetrySchedule   []time.Duration
	DeliveryTimeout time.Duration
	Concurrency     int
	// PerWebhookConcurrency caps the attempts in flight to one webhook, so a
	// slow endpoint cannot take every worker (default 64, or Concurrency/2
	// if that is less; negative: no cap).
	PerWebhookConcurrency int
	// PollInterval is the longest the engine sleeps without checking for
	// due deliveries (default 1 s). Lease is how long a claimed delivery is
	// held before another node may take it over (default 2×DeliveryTimeout
	// + 5 s).
	PollInterval time.Duration
	Lease        time.Duration
	// NodeID names this node in delivery leases (default hostname-pid).
	NodeID string
	// SQLiteSynchronous: see sqlitestore.Options.
	SQLiteSynchronous string
	// SecretKey encrypts webhook secrets at rest (AES-256-GCM, 32 bytes).
	// Open defaults it, for SQLite only, to a key file created next to the
	// database (jetwebhooks.key, mode 0600); PostgreSQL needs it set, the
	// same on every node. New requires it.
	SecretKey []byte
	// PreviousSecretKeys still open secrets sealed before a key rotation.
	PreviousSecretKeys [][]byte
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RateLimit and RateBurst limit requests per API key (default 50/s,
	// burst 100; negative disables); IngestRateLimit and IngestRateBurst the
	// ingest token (default unlimited).
	RateLimit, IngestRateLimit float64
	RateBurst, IngestRateBurst int
	// AuthFailureBudget and AuthFailureWindow limit requests with a wrong
	// API key or ingest token per client address (default 20 per minute;
	// negative budget: unlimited); TrustedProxies are the proxies whose
	// X-Forwarded-For names the client (the right-most entry that is not
	// itself a trusted proxy; empty: the peer is the client).
	AuthFailureBudget int
	AuthFailureWindow time.Duration
	TrustedProxies    []netip.Prefix
	// MetricsAddr, if set, serves /metrics on a listener of its own (say,
	// an internal interface) instead of beside the API.
	MetricsAddr string
	// MetricsListener, if set, serves /metrics on this listener (it wins
	// over MetricsAddr); embedding programs and tests pass one already bound.
	MetricsListener net.Listener
	// AutoDisableAfter disables a webhook whose deliveries have all failed
	// for this long (default 5 days; negative: never). A 410 Gone disables
	// it at once either way.
	AutoDisableAfter time.Duration
	// MaintenanceInterval is how often the janitor runs: auto-disable,
	// erasing expired rotated secrets and idempotency keys (default 1 min).
	MaintenanceInterval time.Duration
	// Handlers, if set, replaces the API operations' implementation behind
	// the same authentication, rate limits, validation, idempotency and error
	// mapping: it gets ours and returns what serves the requests (a struct
	// embedding ours that overrides one method, or one built on
	// Unimplemented).
	Handlers func(ours apiserver.StrictServerInterface) apiserver.StrictServerInterface
	// BasePath serves everything under a path prefix ("/hooks": the API at
	// /hooks/webhooks, the spec at /hooks/openapi.yaml, the docs at
	// /hooks/docs/, health and metrics below it too), for mounting Handler
	// on an existing mux or Echo app as it is, without http.StripPrefix.
	// Empty: the root.
	BasePath string
	// Retention is how long finished history is kept: an event goes, with
	// its deliveries and their attempts, once it is older than this and all
	// its deliveries finished (succeeded, failed or dead-lettered) longer
	// than this ago (default 30 days; negative: kept forever). Durations
	// under an hour are accepted (tests, soak benchmarks) and warned about.
	Retention time.Duration
	// PurgeInterval is how often the retention purge runs (default 1 min).
	PurgeInterval time.Duration
	// PurgeBatch is how many events one purge transaction deletes at most
	// (default 128); batches follow each other, paced, until nothing is left.
	PurgeBatch int
	// ShutdownTimeout bounds graceful shutdown of the HTTP server (default 10 s).
	ShutdownTimeout time.Duration
	// KeyCacheTTL is how long an API key's account is kept in memory
	// (default 2 s; negative: not cached). A key rotated through this server
	// stops working at once; one rotated by another process or node (the
	// accounts command, another node) keeps working here for up to this long.
	KeyCacheTTL time.Duration
	// WebhookCacheTTL is how long a webhook read by the API is kept in
	// memory (negative: not cached). Changes through this server are seen at
	// once; changes through another node only after this long, so the
	// default is 2 s where one process owns the database (SQLite) and 0 (not
	// cached) for stores several nodes share (PostgreSQL).
	WebhookCacheTTL time.Duration
	// IdempotencyLease bounds how long a request holds its Idempotency-Key
	// (default DefaultIdempotencyLease, 45 s): after a crash, a retry of the
	// same request runs once the lease has passed.
	IdempotencyLease time.Duration
	// OnContractViolation, if set, receives every response to an API
	// operation that openapi.yaml does not describe (servertest sets it).
	// For tests and development: each response is buffered and validated.
	OnContractViolation func(ContractViolation)
	// Portal configures the customer portal (on by default, at /portal/).
	Portal PortalConfig
}

// PortalConfig configures the customer portal (README, "The customer
// portal").
type PortalConfig struct {
	// Off switches the portal off: no pages, and POST /portal/sessions
	// answers 503.
	Off bool
	// URL is the portal's public URL, its path ending in /portal (default
	// http://<listen address><BasePath>/portal, from the listener Serve
	// uses; set it when serving Handler yourself). Minted links point there;
	// a path before /portal is a prefix the server is reached under.
	URL string
	// FrameAncestors may embed the portal in a frame (CSP frame-ancestors
	// sources); none by default.
	FrameAncestors []string
	// SecureCookie marks the session cookie Secure; it is whenever URL is https.
	SecureCookie bool
	// LinkTTL is how long a minted link works (default 10 min).
	LinkTTL time.Duration
	// IdleTimeout ends a session unused for this long (default 30 min);
	// SessionTTL ends it whatever happens (default 12 h).
	IdleTimeout, SessionTTL time.Duration
}

// Unimplemented answers every API operation with 501 in the JSON error
// shape; embed it in a Config.Handlers implementation that serves only some.
type Unimplemented = api.Unimplemented

// AccountFrom returns the account an API request authenticated as, for
// operations given through Config.Handlers.
func AccountFrom(ctx context.Context) *store.Account { return api.AccountFrom(ctx) }

// DefaultIdempotencyLease is Config.IdempotencyLease's default: a little
// over the longest request the server answers (its write timeout is 30 s).
const DefaultIdempotencyLease = api.DefaultIdempotencyLease

// Server is a running jetwebhooks: store, API and delivery engine.
type Server struct {
	cfg       Config
	store     store.Store
	ownsStore bool
	api       *api.API
	handler   http.Handler
	engine    *delivery.Engine
	// vacuumer cleans the backend's delivery queue (PostgreSQL); nil if the
	// backend needs no help.
	vacuumer  store.QueueVacuumer
	publisher *ingest.Publisher
	metrics   *metrics.Metrics
	links     *portal.Links
	linksMu   sync.Mutex // guards links.BaseURL between Serve and MintPortalLink
	log       *slog.Logger
	// Bootstrap holds what a first start generated (nil otherwise).
	Bootstrap *Bootstrap
	closeOnce sync.Once
	// ingestHash is the ingest token hash the API started with.
	ingestHash []byte
}

// Bootstrap is what the first start on an empty database created. The secrets
// in it exist nowhere else: show them once, then forget them.
type Bootstrap struct {
	AccountID   string
	APIKey      string
	IngestToken string
}

// OpenStore opens the store a DSN names: a postgres:// or postgresql:// URL,
// or else a SQLite file path.
func OpenStore(ctx context.Context, dsn, sqliteSync string) (store.Store, error) {
	if isPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	return sqlitestore.Open(ctx, dsn, sqlitestore.Options{Synchronous: sqliteSync})
}

func (c Config) loggerOrDefault() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the store cfg.DB names and builds a server over it; Close closes both.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DB == "" {
		cfg.DB = "./data/jetwebhooks.db"
	}
	if cfg.SecretKey == nil {
		if isPostgres(cfg.DB) {
			return nil, errors.New("a PostgreSQL deployment needs --secret-key (JETWEBHOOKS_SECRET_KEY): base64 of 32 random bytes, the same on every node; generate one with `openssl rand -base64 32`")
		}
		key, created, err := secretbox.LoadOrCreateKeyFile(filepath.Join(filepath.Dir(cfg.DB), "jetwebhooks.key"))
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		if created {
			cfg.loggerOrDefault().Info("created the key that encrypts webhook secrets; back it up with the database", "file", filepath.Join(filepath.Dir(cfg.DB), "jetwebhooks.key"))
		}
		cfg.SecretKey = key
	}
	st, err := OpenStore(ctx, cfg.DB, cfg.SQLiteSynchronous)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s, err := New(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.ownsStore = true
	return s, nil
}

// New builds a server over an open store (which the caller closes). On an
// empty database it creates a first account and an ingest token and reports
// them in Server.Bootstrap.
func New(ctx context.Context, cfg Config, st store.Store) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.NodeID == "" {
		host, _ := os.Hostname()
		cfg.NodeID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	box, err := secretbox.New(cfg.SecretKey, cfg.PreviousSecretKeys...)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	// The cache sits outside the secret box: a cached webhook's secret is
	// opened once, not on every read (it is in memory either way while
	// deliveries are signed; at rest it stays sealed).
	backend := st
	st = cache.Wrap(secretbox.Wrap(st, box), cacheOptions(cfg, st))
	if cfg.AutoDisableAfter == 0 {
		cfg.AutoDisableAfter = 5 * 24 * time.Hour
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = time.Minute
	}
	cfg.applyRetentionDefaults()
	s := &Server{cfg: cfg, store: st, log: cfg.Logger, metrics: metrics.New(st, cfg.Now)}
	if sz, ok := backend.(store.Sizer); ok {
		s.metrics.WatchDatabaseSize(sz)
	}
	s.vacuumer, _ = backend.(store.QueueVacuumer)
	boot, tokenHash, err := s.bootstrap(ctx)
	if err != nil {
		return nil, err
	}
	s.Bootstrap = boot
	s.ingestHash = tokenHash
	s.warnShortRetention()

	policy := egress.NewPolicy(cfg.EgressAllow)
	timeout := cfg.DeliveryTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	s.engine, err = delivery.New(st, delivery.Config{
		Owner:                 cfg.NodeID,
		Schedule:              cfg.RetrySchedule,
		Timeout:               timeout,
		Concurrency:           cfg.Concurrency,
		PerWebhookConcurrency: cfg.PerWebhookConcurrency,
		PollInterval:          cfg.PollInterval,
		Lease:                 cfg.Lease,
		Client:                policy.NewClient(timeout),
		Now:                   cfg.Now,
		Logger:                cfg.Logger,
		Observer:              s.metrics,
	})
	if err != nil {
		return nil, err
	}
	s.publisher = &ingest.Publisher{Store: st, Now: cfg.Now, Published: s.engine.Wake, Accepted: s.metrics.Ingested}
	var links api.PortalLinks
	if l, err := s.portalLinks(st); err != nil {
		return nil, err
	} else if l != nil {
		links = l // a nil *portal.Links must stay a nil interface
	}
	s.api, err = api.New(ctx, api.Config{IngestTokenHash: tokenHash, Egress: policy, Logger: cfg.Logger, Now: cfg.Now,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, IngestRateLimit: cfg.IngestRateLimit, IngestRateBurst: cfg.IngestRateBurst,
		AuthFailureBudget: cfg.AuthFailureBudget, AuthFailureWindow: cfg.AuthFailureWindow, TrustedProxies: cfg.TrustedProxies,
		AuthRefused: s.metrics.AuthRefused, Tester: s.engine, IdempotencyLease: cfg.IdempotencyLease, BasePath: cfg.BasePath, Handlers: cfg.Handlers, Portal: links}, st, s.publisher)
	if err != nil {
		return nil, err
	}
	e := s.api.Echo()
	e.Use(s.metrics.Middleware())
	if err := s.mountOps(e); err != nil {
		return nil, fmt.Errorf("mount operational routes: %w", err)
	}
	if err := s.mountPortal(e, st); err != nil {
		return nil, err
	}
	s.handler = s.api
	if cfg.OnContractViolation != nil {
		if s.handler, err = contract.Check(s.api, cfg.OnContractViolation); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// cacheOptions applies the cache defaults: a store that can wake other nodes
// (store.Waker) is shared by several, so webhooks changed elsewhere would be
// served stale; API keys are cached everywhere, since a revocation taking two
// seconds to reach every node is an accepted trade.
func cacheOptions(cfg Config, st store.Store) cache.Options {
	ttl := func(v, def time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	hookDefault := 2 * time.Second
	if _, shared := st.(store.Waker); shared {
		hookDefault = 0
	}
	return cache.Options{KeyTTL: ttl(cfg.KeyCacheTTL, 2*time.Second), WebhookTTL: ttl(cfg.WebhookCacheTTL, hookDefault), Now: cfg.Now}
}

// MetricsHandler serves the Prometheus metrics in their text format, as
// /metrics does, for a program that serves them where it likes.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Maintain runs the janitor's chores once: disable webhooks failing for
// longer than AutoDisableAfter, erase rotated secrets whose grace ended and
// idempotency keys older than a day. Run calls it every MaintenanceInterval.
func (s *Server) Maintain(ctx context.Context) error {
	now := s.cfg.Now()
	var errs []error
	if s.cfg.AutoDisableAfter > 0 {
		ws, err := s.store.DisableFailingWebhooks(ctx, now.Add(-s.cfg.AutoDisableAfter), now)
		if err != nil {
			errs = append(errs, err)
		}
		for _, w := range ws {
			s.log.Warn("webhook disabled: every delivery failed for too long", "account", w.AccountID, "webhook", w.UUID, "failing_since", w.FailingSince)
		}
	}
	if _, err := s.store.PurgeExpiredSecrets(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.store.PurgeIdempotencyKeys(ctx, now.Add(-24*time.Hour)); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.store.PurgePortalSessions(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// queueVacuumEvery is how often the queue's need for a vacuum is checked: a
// saturated node churns tens of thousands of row versions a minute.
const queueVacuumEvery = 5 * time.Second

// queueVacuum keeps the backend's delivery queue clean (see
// store.QueueVacuumer), so claims stay cheap whether autovacuum keeps up or
// is off.
func (s *Server) queueVacuum(ctx context.Context) {
	if s.vacuumer == nil {
		return
	}
	repeat(ctx, queueVacuumEvery, false, func(ctx context.Context) {
		start := time.Now()
		did, err := s.vacuumer.VacuumQueue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("vacuum the delivery queue", "err", err)
		case did:
			s.metrics.QueueVacuumed()
			s.log.Debug("vacuumed the delivery queue", "took", time.Since(start))
		}
	})
}

func (s *Server) janitor(ctx context.Context) {
	repeat(ctx, s.cfg.MaintenanceInterval, true, func(ctx context.Context) {
		if err := s.Maintain(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("maintenance", "err", err)
		}
	})
}

// repeat calls fn every d until ctx ends, and first at once when atStart.
// The background loops (maintenance, purge, queue vacuum, ingest token)
// share it, so each is only what it does.
func repeat(ctx context.Context, d time.Duration, atStart bool, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	if atStart {
		fn(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn(ctx)
	}
}

const ingestTokenSetting = "ingest_token_sha256"

// bootstrap creates what an empty database needs to be usable at once, and
// settles the ingest token: the configured one, or one generated at the first
// start whose hash every later start (and every node) reads back.
func (s *Server) bootstrap(ctx context.Context) (*Bootstrap, []byte, error) {
	var boot Bootstrap
	var tokenHash []byte
	if s.cfg.IngestToken != "" {
		h := sha256.Sum256([]byte(s.cfg.IngestToken))
		tokenHash = h[:]
		// Stored like a generated one, so every server re-reading the
		// stored hash (watchIngestToken) agrees with this one.
		if err := recordIngestToken(ctx, s.store, tokenHash, IngestTokenConfigured, s.cfg.Now()); err != nil {
			return nil, nil, err
		}
	} else {
		tok, err := randomToken("ing_")
		if err != nil {
			return nil, nil, err
		}
		h := sha256.Sum256([]byte(tok))
		stored, created, err := s.store.PutSettingIfAbsent(ctx, ingestTokenSetting, h[:])
		if err != nil {
			return nil, nil, fmt.Errorf("ingest token: %w", err)
		}
		tokenHash = stored
		if created {
			boot.IngestToken = tok
			if err := recordIngestToken(ctx, s.store, tokenHash, IngestTokenGenerated, s.cfg.Now()); err != nil {
				return nil, nil, err
			}
		}
	}
	// Only the node that wins this marker creates the first account, so nodes
	// starting together on an empty PostgreSQL database make one, not several.
	if _, first, err := s.store.PutSettingIfAbsent(ctx, "bootstrapped", []byte("1")); err != nil {
		return nil, nil, fmt.Errorf("bootstrap: %w", err)
	} else if first {
		accs, err := s.store.ListAccounts(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("bootstrap: %w", err)
		}
		if len(accs) == 0 {
			acc, key, err := accounts.Create(ctx, s.store, "default", []string{"api-user"}, []string{"example.com"}, s.cfg.Now())
			if err != nil {
				return nil, nil, fmt.Errorf("bootstrap account: %w", err)
			}
			boot.AccountID, boot.APIKey = acc.ID, key
		}
	}
	if boot == (Bootstrap{}) {
		return nil, tokenHash, nil
	}
	return &boot, tokenHash, nil
}

func randomToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Handler returns the HTTP API. A program serving it on an http.Server of
// its own should serve it through InstallWireErrors, as Serve does, or the
// answers Go's HTTP server gives before the handler runs (431, some 400s)
// stay text/plain.
func (s *Server) Handler() http.Handler { return s.handler }

// InstallWireErrors readies hs to answer, in the API's JSON error shape, the
// requests Go's HTTP server refuses on its own before any handler runs
// (headers too large, malformed request lines, bad percent-encoding in the
// path: 431, 400 and the like, otherwise text/plain), and returns the
// function to serve it with in place of hs.Serve:
//
//	hs := &http.Server{Handler: mux}
//	serve := server.InstallWireErrors(hs)
//	err := serve(ln)
//
// It wraps each accepted connection, so give serve a plain TCP listener: a
// TLS listener wrapped here would hide the *tls.Conn net/http looks for.
func InstallWireErrors(hs *http.Server) (serve func(net.Listener) error) {
	return wireerrors.Install(hs)
}

// Store returns the store.
func (s *Server) Store() store.Store { return s.store }

// Publish publishes events without HTTP, exactly as POST /events/batch does:
// validated, stored with their deliveries in one transaction, delivered.
func (s *Server) Publish(ctx context.Context, events ...Event) ([]PublishResult, error) {
	return s.publisher.Publish(ctx, events)
}

// RunBackground runs everything the server does besides answering requests,
// until ctx ends: the delivery engine, the maintenance loop (auto-disable,
// erasing rotated secrets and old idempotency keys), the retention purge,
// the queue vacuum (PostgreSQL) and the re-reading of a rotated ingest token.
// A program that serves Handler on an HTTP server of its own runs this
// beside it; Run and Serve run it themselves. It returns once all of it has
// stopped.
func (s *Server) RunBackground(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); s.janitor(ctx) }()
	go func() { defer wg.Done(); s.purger(ctx) }()
	go func() { defer wg.Done(); s.queueVacuum(ctx) }()
	go func() { defer wg.Done(); s.watchIngestToken(ctx, s.ingestHash) }()
	err := s.engine.Run(ctx)
	wg.Wait()
	return err
}

// RunDelivery is RunBackground.
//
// Deprecated: it once ran the engine alone, silently skipping maintenance;
// use RunBackground, which it now calls.
func (s *Server) RunDelivery(ctx context.Context) error { return s.RunBackground(ctx) }

// Run serves the API on cfg.Addr and runs the delivery engine until ctx ends,
// then shuts down gracefully: stop accepting, finish requests, stop claiming,
// finish attempts in flight.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
//
// Both listeners (the API's and the metrics') are served through
// InstallWireErrors: Go's HTTP server answers some requests itself before any
// handler runs (headers too large, malformed lines, bad percent-encoding in
// the path), in text/plain, and the connection is the only place where those
// answers can still become the API's JSON error shape.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	engineDone := make(chan error, 1)
	go func() { engineDone <- s.RunBackground(engineCtx) }()
	if mln := s.cfg.MetricsListener; mln != nil || s.cfg.MetricsAddr != "" {
		ms := &http.Server{Handler: s.metricsOnly(), ReadHeaderTimeout: 10 * time.Second,
			MaxHeaderBytes: 64 << 10, ErrorLog: hs.ErrorLog}
		if mln == nil {
			var err error
			if mln, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
				stopEngine()
				<-engineDone
				return fmt.Errorf("metrics listen: %w", err)
			}
		}
		go wireerrors.Install(ms)(mln)
		defer ms.Close()
		s.log.Info("serving metrics", "addr", mln.Addr().String())
	}

	s.portalListening(ln)
	serveErr := make(chan error, 1)
	serve := wireerrors.Install(hs)
	go func() { serveErr <- serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "node", s.cfg.NodeID)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := hs.Shutdown(shutCtx); serr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", serr)
	}
	// Requests are done, so nothing new is published; now stop delivering.
	stopEngine()
	<-engineDone
	s.log.Info("stopped")
	return err
}

// Close releases the store if Open opened it.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ownsStore {
			err = s.store.Close()
		}
	})
	return err
}
