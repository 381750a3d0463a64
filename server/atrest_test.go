package server_test

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/contract"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// TestNoSecretInClearAtRest drives a server through creates (with and
// without Idempotency-Keys), replays, rotations and deletions, then reads
// everything the database holds as raw bytes (the SQLite file, its WAL and
// shared memory; every row of every PostgreSQL table) and looks for each
// secret the API handed out: webhook secrets, the API key, the ingest token.
func TestNoSecretInClearAtRest(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		secrets := exerciseSecrets(t, filepath.Join(dir, "rest.db"))
		var raw []byte
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, b...)
		}
		if len(raw) == 0 {
			t.Fatal("nothing on disk to search")
		}
		assertNoSecret(t, string(raw), secrets)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.Database(t)
		secrets := exerciseSecrets(t, dsn)
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for _, tb := range tables {
			var dump *string
			if err := conn.QueryRow(t.Context(), `SELECT string_agg(t::text, E'\n') FROM `+pgx.Identifier{tb}.Sanitize()+` t`).Scan(&dump); err != nil {
				t.Fatalf("dump %s: %v", tb, err)
			}
			if dump != nil {
				all.WriteString(*dump)
			}
		}
		if !strings.Contains(all.String(), "webhooks") && len(tables) < 5 {
			t.Fatalf("only %d tables dumped: %v", len(tables), tables)
		}
		assertNoSecret(t, all.String(), secrets)
	})
}

// exerciseSecrets runs a server on dsn, uses every path that hands out or
// replaces a secret, and returns the secrets it saw.
func exerciseSecrets(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := t.Context()
	st, err := server.OpenStore(ctx, dsn, "NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := server.New(ctx, server.Config{
		SecretKey: []byte("0123456789abcdef0123456789abcdef"), RateLimit: -1, Logger: slog.New(slog.DiscardHandler),
		EgressAllow:         []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		OnContractViolation: func(v contract.Violation) { t.Errorf("contract violation: %s", v) },
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Bootstrap == nil {
		t.Fatal("no first-start credentials")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(sctx, ln); close(done) }()
	defer func() { cancel(); <-done }()

	secrets := []string{srv.Bootstrap.APIKey, srv.Bootstrap.IngestToken}
	c, err := client.New("http://"+ln.Addr().String(), srv.Bootstrap.APIKey, client.WithIngestToken(srv.Bootstrap.IngestToken))
	if err != nil {
		t.Fatal(err)
	}
	seen := func(w *client.Webhook, err error) *client.Webhook {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if w.Secret == nil || !strings.HasPrefix(*w.Secret, "whsec_") {
			t.Fatalf("webhook %s came without its secret", w.UUID)
		}
		secrets = append(secrets, *w.Secret)
		return w
	}
	req := func(name string) client.CreateWebhookRequest {
		return client.CreateWebhookRequest{Name: name, URL: "https://example.com/" + name,
			Events: []client.SubscribableEventType{"outbound.delivered"}}
	}
	var hooks []*client.Webhook
	for _, name := range []string{"kept", "rotated", "deleted"} {
		key := client.WithIdempotencyKey("at-rest-" + name)
		hooks = append(hooks, seen(c.CreateWebhook(ctx, req(name), key)))
		seen(c.CreateWebhook(ctx, req(name), key)) // a replay
	}
	seen(c.CreateWebhook(ctx, req("no-key")))
	seen(c.RotateSecret(ctx, hooks[0].UUID.String(), time.Hour)) // the old one kept for the grace
	seen(c.RotateSecret(ctx, hooks[1].UUID.String(), 0))
	seen(c.CreateWebhook(ctx, req("rotated"), client.WithIdempotencyKey("at-rest-rotated"))) // replay after rotation
	if err := c.DeleteWebhook(ctx, hooks[2].UUID.String()); err != nil {
		t.Fatal(err)
	}
	var apiErr *client.Error
	if _, err := c.CreateWebhook(ctx, req("deleted"), client.WithIdempotencyKey("at-rest-deleted")); !errors.As(err, &apiErr) || apiErr.StatusCode != 409 {
		t.Fatalf("replay of a deleted webhook's create: %v, want 409", err)
	}
	if _, err := c.PublishEvent(ctx, client.Event{AccountID: srv.Bootstrap.AccountID, Type: "outbound.delivered"},
		client.WithIdempotencyKey("at-rest-publish")); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, exerciseHeaderValues(t, c)...)
	return secrets
}

// assertNoSecret fails for every secret found in raw, as text or as the hex
// PostgreSQL shows bytea in.
func assertNoSecret(t *testing.T, raw string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		forms := []string{s, hex.EncodeToString([]byte(s))}
		if rest, ok := strings.CutPrefix(s, "whsec_"); ok {
			forms = append(forms, rest, hex.EncodeToString([]byte(rest)))
		}
		for _, f := range forms {
			if strings.Contains(raw, f) {
				t.Errorf("a secret (%s…) is stored in clear", s[:min(len(s), 10)])
			}
		}
	}
}
