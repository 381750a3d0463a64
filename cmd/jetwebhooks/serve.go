package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/secretbox"
	"github.com/jetwebhooks/jetwebhooks/server"
)

func newServeCmd() *cobra.Command {
	var (
		addr, db, ingestToken, egressAllow, schedule, logLevel, logFormat, sqliteSync string
		secretKey, previousKeys, metricsAddr, trustedProxies                          string
		autoDisable, authFailureWindow                                                time.Duration
		rateLimit, ingestRateLimit                                                    float64
		rateBurst, ingestRateBurst, perWebhook, authFailureBudget                     int
		timeout, lease, keyCache, hookCache, idemLease                                time.Duration
		concurrency                                                                   int
		validateResponses                                                             bool
		retention, purgeInterval                                                      time.Duration
	)
	portal := &portalFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API and the delivery engine",
		Long: `Run the JetEmail-compatible webhooks API and deliver events.

With no flags it serves on 127.0.0.1:8080 and keeps its data in SQLite at
./data/jetwebhooks.db. On the first start it creates an account and an ingest
token and prints them once.`,
		Example: `  jetwebhooks serve
  jetwebhooks serve --addr 0.0.0.0:8080 --db postgres://user@db/jetwebhooks
  JETWEBHOOKS_EGRESS_ALLOW=127.0.0.0/8 jetwebhooks serve   # local receivers (development only)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Secrets come from the environment only here, never as flag
			// defaults, so --help cannot print them.
			secretFromEnv(cmd, "ingest-token", &ingestToken, "JETWEBHOOKS_INGEST_TOKEN")
			secretFromEnv(cmd, "secret-key", &secretKey, "JETWEBHOOKS_SECRET_KEY")
			secretFromEnv(cmd, "previous-secret-keys", &previousKeys, "JETWEBHOOKS_PREVIOUS_SECRET_KEYS")
			log, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return err
			}
			allow, err := egress.ParsePrefixes(egressAllow)
			if err != nil {
				return usagef("--egress-allow: %v", err)
			}
			proxies, err := egress.ParsePrefixes(trustedProxies)
			if err != nil {
				return usagef("--trusted-proxies: %v", err)
			}
			if authFailureWindow <= 0 {
				return usagef("--auth-failure-window must be positive")
			}
			sched, err := parseSchedule(schedule)
			if err != nil {
				return usagef("--retry-schedule: %v", err)
			}
			if timeout <= 0 {
				return usagef("--delivery-timeout must be positive")
			}
			switch strings.ToUpper(sqliteSync) {
			case "FULL", "NORMAL", "EXTRA", "OFF":
			default:
				return usagef("--sqlite-synchronous: %q is not FULL, NORMAL, EXTRA or OFF", sqliteSync)
			}
			if idemLease < 0 {
				return usagef("--idempotency-lease must not be negative")
			}
			if retention == 0 {
				return usagef("--retention must not be 0; a negative value keeps history forever")
			}
			if purgeInterval <= 0 {
				return usagef("--purge-interval must be positive")
			}
			var key []byte
			var prev [][]byte
			if secretKey != "" {
				if key, err = secretbox.ParseKey(secretKey); err != nil {
					return usagef("--secret-key: %v", err)
				}
			}
			for _, p := range strings.Split(previousKeys, ",") {
				if strings.TrimSpace(p) == "" {
					continue
				}
				k, err := secretbox.ParseKey(p)
				if err != nil {
					return usagef("--previous-secret-keys: %v", err)
				}
				prev = append(prev, k)
			}
			cfg := server.Config{
				SecretKey: key, PreviousSecretKeys: prev, MetricsAddr: metricsAddr, AutoDisableAfter: autoDisable,
				PerWebhookConcurrency: perWebhook,
				RateLimit:             rateLimit, RateBurst: rateBurst, IngestRateLimit: ingestRateLimit, IngestRateBurst: ingestRateBurst,
				AuthFailureBudget: authFailureBudget, AuthFailureWindow: authFailureWindow, TrustedProxies: proxies,
				Addr: addr, DB: db, IngestToken: ingestToken, EgressAllow: allow,
				RetrySchedule: sched, DeliveryTimeout: timeout, Concurrency: concurrency, Lease: lease,
				SQLiteSynchronous: sqliteSync, Logger: log, KeyCacheTTL: keyCache, WebhookCacheTTL: hookCache,
				IdempotencyLease: idemLease,
				Retention:        retention, PurgeInterval: purgeInterval,
			}
			cfg.Portal = portal.config()
			if validateResponses {
				cfg.OnContractViolation = func(v contract.Violation) {
					log.Error("contract violation: the answer does not match openapi.yaml", "method", v.Method, "path", v.Path, "status", v.Status, "err", v.Err)
				}
			}
			unlock, err := lockDatabase(db) // one server per SQLite file
			if err != nil {
				return err
			}
			defer unlock()
			srv, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			if b := srv.Bootstrap; b != nil {
				printBootstrap(cmd.OutOrStdout(), b, addr)
			}
			if len(allow) > 0 {
				log.Warn("egress policy opened for these ranges; do not use in production", "allow", egressAllow)
			}
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	portal.register(cmd)
	f.StringVar(&addr, "addr", envOr("JETWEBHOOKS_ADDR", "127.0.0.1:8080"), "listen address (env JETWEBHOOKS_ADDR)")
	f.StringVar(&db, "db", envOr("JETWEBHOOKS_DB", "./data/jetwebhooks.db"), "SQLite file path or postgres:// URL (env JETWEBHOOKS_DB)")
	f.StringVar(&ingestToken, "ingest-token", "", "token that authorises POST /events; default: generated at first start (env JETWEBHOOKS_INGEST_TOKEN)")
	f.StringVar(&egressAllow, "egress-allow", envOr("JETWEBHOOKS_EGRESS_ALLOW", ""), "comma-separated CIDRs webhooks may reach despite the egress policy, e.g. 127.0.0.0/8,::1/128 (env JETWEBHOOKS_EGRESS_ALLOW)")
	f.StringVar(&schedule, "retry-schedule", envOr("JETWEBHOOKS_RETRY_SCHEDULE", "0s,30s,2m,10m,1h,4h"), "delay before each attempt; its length is the number of attempts (env JETWEBHOOKS_RETRY_SCHEDULE)")
	f.DurationVar(&timeout, "delivery-timeout", envDuration("JETWEBHOOKS_DELIVERY_TIMEOUT", 10*time.Second), "timeout of one delivery attempt (env JETWEBHOOKS_DELIVERY_TIMEOUT)")
	f.IntVar(&perWebhook, "per-webhook-concurrency", envInt("JETWEBHOOKS_PER_WEBHOOK_CONCURRENCY", 0), "attempts in flight to one webhook at most, so a slow endpoint cannot take every worker; 0: 64, or half of --concurrency if less; negative: no cap (env JETWEBHOOKS_PER_WEBHOOK_CONCURRENCY)")
	f.DurationVar(&lease, "lease", envDuration("JETWEBHOOKS_LEASE", 0), "how long a claimed delivery is held before another worker may take it over; must exceed --delivery-timeout (default 2×timeout+5s) (env JETWEBHOOKS_LEASE)")
	f.IntVar(&concurrency, "concurrency", envInt("JETWEBHOOKS_CONCURRENCY", 256), "delivery attempts in flight at once (env JETWEBHOOKS_CONCURRENCY)")
	f.StringVar(&sqliteSync, "sqlite-synchronous", envOr("JETWEBHOOKS_SQLITE_SYNCHRONOUS", "FULL"), "SQLite synchronous mode: FULL survives power loss, NORMAL only process crashes (env JETWEBHOOKS_SQLITE_SYNCHRONOUS)")
	f.StringVar(&secretKey, "secret-key", "", "base64 of 32 random bytes that encrypts webhook secrets at rest; required with PostgreSQL; SQLite defaults to a key file next to the database (env JETWEBHOOKS_SECRET_KEY)")
	f.StringVar(&previousKeys, "previous-secret-keys", "", "comma-separated earlier secret keys, still accepted for decryption after a key rotation (env JETWEBHOOKS_PREVIOUS_SECRET_KEYS)")
	f.StringVar(&metricsAddr, "metrics-addr", envOr("JETWEBHOOKS_METRICS_ADDR", ""), "serve /metrics on this address instead of beside the API (env JETWEBHOOKS_METRICS_ADDR)")
	f.DurationVar(&autoDisable, "auto-disable-after", envDuration("JETWEBHOOKS_AUTO_DISABLE_AFTER", 5*24*time.Hour), "disable a webhook whose deliveries all failed for this long; negative: never (env JETWEBHOOKS_AUTO_DISABLE_AFTER)")
	f.Float64Var(&rateLimit, "rate-limit", envFloat("JETWEBHOOKS_RATE_LIMIT", 50), "requests per second allowed per API key; negative: unlimited (env JETWEBHOOKS_RATE_LIMIT)")
	f.IntVar(&rateBurst, "rate-burst", envInt("JETWEBHOOKS_RATE_BURST", 100), "burst allowed per API key (env JETWEBHOOKS_RATE_BURST)")
	f.Float64Var(&ingestRateLimit, "ingest-rate-limit", envFloat("JETWEBHOOKS_INGEST_RATE_LIMIT", 0), "requests per second allowed with the ingest token; 0: unlimited (env JETWEBHOOKS_INGEST_RATE_LIMIT)")
	f.IntVar(&ingestRateBurst, "ingest-rate-burst", envInt("JETWEBHOOKS_INGEST_RATE_BURST", 0), "burst allowed with the ingest token (env JETWEBHOOKS_INGEST_RATE_BURST)")
	f.IntVar(&authFailureBudget, "auth-failure-budget", envInt("JETWEBHOOKS_AUTH_FAILURE_BUDGET", 20), "requests with a wrong API key or ingest token allowed per client address per --auth-failure-window; past it the address gets 429 until the budget refills; negative: unlimited (env JETWEBHOOKS_AUTH_FAILURE_BUDGET)")
	f.DurationVar(&authFailureWindow, "auth-failure-window", envDuration("JETWEBHOOKS_AUTH_FAILURE_WINDOW", time.Minute), "the window of --auth-failure-budget: the budget comes back at budget/window (env JETWEBHOOKS_AUTH_FAILURE_WINDOW)")
	f.StringVar(&trustedProxies, "trusted-proxies", envOr("JETWEBHOOKS_TRUSTED_PROXIES", ""), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client address; empty: the peer address is the client and X-Forwarded-For is ignored (env JETWEBHOOKS_TRUSTED_PROXIES)")
	f.DurationVar(&keyCache, "key-cache-ttl", envDuration("JETWEBHOOKS_KEY_CACHE_TTL", 0), "how long an API key's account is kept in memory; a key rotated by another process or node still works here for up to this long; 0: default 2s, negative: no cache (env JETWEBHOOKS_KEY_CACHE_TTL)")
	f.DurationVar(&hookCache, "webhook-cache-ttl", envDuration("JETWEBHOOKS_WEBHOOK_CACHE_TTL", 0), "how long a webhook read by the API is kept in memory; changes through another node are seen after this long; 0: default 2s on SQLite, no cache on PostgreSQL; negative: no cache (env JETWEBHOOKS_WEBHOOK_CACHE_TTL)")
	f.DurationVar(&idemLease, "idempotency-lease", envDuration("JETWEBHOOKS_IDEMPOTENCY_LEASE", server.DefaultIdempotencyLease), "how long a request holds its Idempotency-Key; if the request dies (crash, lost database), a retry with the same key and body runs after this long (env JETWEBHOOKS_IDEMPOTENCY_LEASE)")
	f.BoolVar(&validateResponses, "validate-responses", false, "check every API answer against openapi.yaml and log each mismatch (development and tests; buffers every answer)")
	_ = f.MarkHidden("validate-responses")
	f.DurationVar(&retention, "retention", envDuration("JETWEBHOOKS_RETENTION", 30*24*time.Hour), "how long finished history is kept: an event, its deliveries and their attempts are deleted once it is older than this and all its deliveries finished longer ago; pending and retrying deliveries are never deleted; negative: keep forever (env JETWEBHOOKS_RETENTION)")
	f.DurationVar(&purgeInterval, "purge-interval", envDuration("JETWEBHOOKS_PURGE_INTERVAL", time.Minute), "how often history past --retention is deleted, in small batches (env JETWEBHOOKS_PURGE_INTERVAL)")
	f.StringVar(&logLevel, "log-level", envOr("JETWEBHOOKS_LOG_LEVEL", "info"), "debug, info, warn or error (env JETWEBHOOKS_LOG_LEVEL)")
	f.StringVar(&logFormat, "log-format", envOr("JETWEBHOOKS_LOG_FORMAT", "text"), "text or json (env JETWEBHOOKS_LOG_FORMAT)")
	return cmd
}

// secretFromEnv fills a secret flag from the environment unless it was given.
func secretFromEnv(cmd *cobra.Command, flag string, dst *string, env string) {
	if !cmd.Flags().Changed(flag) {
		if v, ok := os.LookupEnv(env); ok {
			*dst = v
		}
	}
}

func printBootstrap(w io.Writer, b *server.Bootstrap, addr string) {
	fmt.Fprintln(w, "First start: created what you need to try the API. These secrets are shown only now.")
	if b.APIKey != "" {
		fmt.Fprintf(w, "  account id:   %s (owns user api-user and inbound domain example.com)\n", b.AccountID)
		fmt.Fprintf(w, "  API key:      %s\n", b.APIKey)
	}
	if b.IngestToken != "" {
		fmt.Fprintf(w, "  ingest token: %s   (for POST /events)\n", b.IngestToken)
	}
	if b.APIKey != "" {
		fmt.Fprintf(w, `
Create a webhook:
  curl -s http://%s/webhooks \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"name": "My Webhook", "url": "https://example.com/webhook", "events": ["outbound.delivered", "outbound.bounced"]}'

`, addr, b.APIKey)
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format: %q is not text or json", format)
}

// parseSchedule reads "0s,30s,2m": the delay before each attempt.
func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration like 30s or 2m", part)
		}
		if d < 0 {
			return nil, fmt.Errorf("%q is negative", part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("needs at least one entry")
	}
	if len(out) > 50 {
		return nil, fmt.Errorf("at most 50 attempts")
	}
	return out, nil
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, ok := os.LookupEnv(name); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func envInt(name string, def int) int {
	if v, ok := os.LookupEnv(name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}
