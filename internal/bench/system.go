package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// loopback is what the in-process server and the reference may reach.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// loopbackClient is the delivery engine's client type with loopback allowed.
func loopbackClient(timeout time.Duration) *http.Client {
	return egress.NewPolicy(loopback).NewClient(timeout)
}

// system is what the generator talks to: an in-process server or a target.
type system struct {
	backend   string
	client    *client.Client
	accountID string
	// metricsURL is the service's /metrics.
	metricsURL string
	// idle, in process, reports whether no delivery is queued or in flight.
	idle func(ctx context.Context) bool
	// counters, in process, reads the engine's counters.
	counters func() EngineCounters
	closers  []func()
	// fifo creates the webhooks ordered.
	fifo bool
	// rateLimit, when positive, is the webhooks' rate_limit.
	rateLimit int
}

func (s *system) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// openLocal starts a server in process over the backend cfg.DB names and
// serves its API on a loopback port.
func openLocal(ctx context.Context, cfg *Config) (_ *system, err error) {
	sys := &system{}
	defer func() {
		// On failure, undo what was started (the named result is nil by then).
		if err != nil {
			sys.close()
		}
	}()
	st, backend, err := openBackend(ctx, cfg.DB, cfg.SQLiteSynchronous, sys)
	if err != nil {
		return nil, err
	}
	sys.backend = backend
	srv, ingestToken, err := newServer(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	sys.closers = append(sys.closers, func() { stop(); <-done; srv.Close() })

	sys.accountID = srv.Bootstrap.AccountID
	sys.metricsURL = "http://" + ln.Addr().String() + "/metrics"
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
	}}
	sys.client, err = client.New("http://"+ln.Addr().String(), srv.Bootstrap.APIKey,
		client.WithIngestToken(ingestToken), client.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	sys.counters = func() EngineCounters { return scrapeEngine(srv.MetricsHandler()) }
	s := srv.Store()
	sys.idle = func(ctx context.Context) bool {
		qs, err := s.QueueStats(ctx, time.Now())
		return err == nil && qs.Due == 0 && qs.Scheduled == 0
	}
	return sys, nil
}

// newServer builds the in-process server with the run's engine settings, a
// generated secret key and ingest token, loopback egress and no API rate
// limit.
func newServer(ctx context.Context, cfg *Config, st store.Store) (*server.Server, string, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	ingestToken := "ing_" + base64.RawURLEncoding.EncodeToString(tok)
	srv, err := server.New(ctx, server.Config{
		IngestToken:           ingestToken,
		SecretKey:             key,
		EgressAllow:           loopback,
		RetrySchedule:         cfg.RetrySchedule,
		DeliveryTimeout:       cfg.DeliveryTimeout,
		Concurrency:           cfg.Concurrency,
		PerWebhookConcurrency: cfg.Concurrency,
		RateLimit:             -1,
		Logger:                cfg.Logger,
		ShutdownTimeout:       5 * time.Second,
		Retention:             cfg.Retention,
		PurgeInterval:         cfg.PurgeInterval,
	}, st)
	if err != nil {
		return nil, "", fmt.Errorf("server: %w", err)
	}
	if srv.Bootstrap == nil || srv.Bootstrap.APIKey == "" {
		return nil, "", errors.New("server: the database is not empty (no first account was created); give a fresh one")
	}
	return srv, ingestToken, nil
}

// openBackend opens an empty store for dsn and registers its cleanup.
func openBackend(ctx context.Context, dsn, sqliteSync string, sys *system) (store.Store, string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, drop, err := createPostgresDB(ctx, dsn)
		if err != nil {
			return nil, "", err
		}
		sys.closers = append(sys.closers, drop)
		st, err := server.OpenStore(ctx, db, "")
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		sys.closers = append(sys.closers, func() { st.Close() })
		return st, "postgres", nil
	}
	path := dsn
	if path == "" {
		dir, err := os.MkdirTemp("", "jetwebhooks-bench-")
		if err != nil {
			return nil, "", err
		}
		sys.closers = append(sys.closers, func() { os.RemoveAll(dir) })
		path = filepath.Join(dir, "bench.db")
	} else {
		if _, err := os.Stat(path); err == nil {
			return nil, "", fmt.Errorf("%s exists: bench needs a new database file and removes it afterwards", path)
		}
		sys.closers = append(sys.closers, func() {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
		})
	}
	st, err := server.OpenStore(ctx, path, sqliteSync)
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite: %w", err)
	}
	sys.closers = append(sys.closers, func() { st.Close() })
	return st, "sqlite", nil
}

// createPostgresDB creates a fresh database on the server admin names and
// returns its URL and a function that drops it.
func createPostgresDB(ctx context.Context, admin string) (string, func(), error) {
	base, err := url.Parse(admin)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	name := "jwbench_" + newRunID()
	// pool_* parameters are the store's (pgxpool); a plain connection refuses them.
	plain := *base
	q := plain.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	plain.RawQuery = q.Encode()
	admin = plain.String()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", base.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(cctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", name, err)
		}
	}
	u := *base
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), drop, nil
}

// openTarget prepares a client for an existing deployment.
func openTarget(_ context.Context, t *Target) (*system, error) {
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
	}}
	c, err := client.New(t.URL, t.APIKey, client.WithIngestToken(t.IngestToken), client.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("--target: %w", err)
	}
	return &system{backend: "target", client: c, accountID: t.AccountID, metricsURL: strings.TrimSuffix(t.URL, "/") + "/metrics"}, nil
}

// createWebhooks creates n webhooks to base/h/0 … base/h/{n-1}, subscribed
// to outbound.delivered, through the API.
func (s *system) createWebhooks(ctx context.Context, base string, n int) ([]string, error) {
	uuids := make([]string, 0, n)
	for k := range n {
		req := client.CreateWebhookRequest{
			Name:   fmt.Sprintf("bench %d", k),
			URL:    fmt.Sprintf("%s/h/%d", base, k),
			Events: []client.SubscribableEventType{"outbound.delivered"},
		}
		if s.fifo {
			req.Ordering = client.Ptr(client.OrderingFIFO)
		}
		if s.rateLimit > 0 {
			req.RateLimit = client.Ptr(s.rateLimit)
		}
		for try := 0; ; try++ {
			w, err := s.client.CreateWebhook(ctx, req)
			var apiErr *client.Error
			if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests && try < 20 {
				time.Sleep(max(apiErr.RetryAfter, 200*time.Millisecond))
				continue
			}
			if err != nil {
				s.deleteWebhooks(uuids)
				return nil, fmt.Errorf("create webhook %d: %w", k, err)
			}
			uuids = append(uuids, w.UUID.String())
			break
		}
	}
	return uuids, nil
}

// deleteWebhooks removes the run's webhooks (what matters on a target).
func (s *system) deleteWebhooks(uuids []string) {
	if s.backend != "target" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, u := range uuids {
		for try := 0; ; try++ {
			err := s.client.DeleteWebhook(ctx, u)
			var apiErr *client.Error
			if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests && try < 20 {
				time.Sleep(max(apiErr.RetryAfter, 200*time.Millisecond))
				continue
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: delete webhook %s: %v\n", u, err)
			}
			break
		}
	}
}
