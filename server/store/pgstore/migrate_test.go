package pgstore_test

import (
	"database/sql"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
)

// TestMigrationClassifiesOldAttempts: attempts recorded before error_class
// existed get the class their status code and the engine's earlier messages
// imply when the database is upgraded; what cannot be told apart stays empty.
func TestMigrationClassifiesOldAttempts(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	sqlDB, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS("migrations"), goose.WithTableName("jetwebhooks_goose_db_version"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		code  any // nil: NULL
		err   string
		class string
	}{
		{200, "", ""},
		{500, "HTTP 500", store.ErrorClassHTTPStatus},
		{404, "HTTP 404", store.ErrorClassHTTPStatus},
		{302, "HTTP 302 redirect not followed (retries exhausted; dead-lettered)", store.ErrorClassRedirect},
		{nil, "timed out after 10s", store.ErrorClassTimeout},
		{nil, "connection refused", store.ErrorClassConnectionRefused},
		{nil, "TLS handshake failed", store.ErrorClassTLS},
		{nil, "destination refused by the egress policy (private or reserved address)", store.ErrorClassDestinationRefused},
		{nil, "DNS lookup failed", store.ErrorClassDestinationRefused},
		{nil, "connection closed by the receiver", store.ErrorClassConnectionFailed},
		{nil, "webhook url is not a valid request target", ""},
	}
	for _, s := range []string{
		`INSERT INTO accounts (id, name, created_at) VALUES ('acc_old', 'Old', 1)`,
		`INSERT INTO events (seq, id, account_id, type, service, data, body, created_at)
			VALUES (1, 'evt_old', 'acc_old', 'outbound.delivered', 'outbound', '{}', '{}', 1)`,
		`INSERT INTO deliveries (id, event_seq, account_id, webhook_uuid, webhook_url, status, attempts, next_attempt_at, created_at, updated_at)
			VALUES (1, 1, 'acc_old', '00000000-0000-4000-8000-000000000001', 'https://example.com/h', 'failed', 11, 1, 1, 1)`,
	} {
		if _, err := sqlDB.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cases {
		if _, err := sqlDB.ExecContext(ctx, `INSERT INTO attempts (delivery_id, at, duration_ms, status_code, error, response_body)
			VALUES (1, $1, 5, $2, $3, '')`, 1000+i, c.code, c.err); err != nil {
			t.Fatal(err)
		}
	}

	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	as, err := st.ListAttempts(ctx, "acc_old", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != len(cases) {
		t.Fatalf("%d attempts after the upgrade, want %d", len(as), len(cases))
	}
	for i, c := range cases {
		if as[i].ErrorClass != c.class || as[i].Error != c.err {
			t.Errorf("attempt (%v, %q): class %q, error %q; want class %q and the error unchanged", c.code, c.err, as[i].ErrorClass, as[i].Error, c.class)
		}
	}
}
