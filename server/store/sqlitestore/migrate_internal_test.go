package sqlitestore

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// TestUpgradeErasesRecordedSecrets: a database written by a version that
// kept the answer of a keyed create (with the webhook's secret in clear)
// keeps, after the upgrade, only the webhook's uuid, and the secret's bytes
// are gone from the file and its WAL; the key still replays.
func TestUpgradeErasesRecordedSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fsSub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_OldVersionKeptThisInClear0123456789abcdefg"
	const uuid = "00000000-0000-4000-8000-00000000beef"
	body := `{"success":true,"message":"Webhook created successfully","webhook":{"uuid":"` + uuid + `","secret":"` + secret + `"}}`
	if _, err := db.Exec(`INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES
		('account:acc_1', 'old-create', x'01', 200, ?, ?), ('ingest', 'old-publish', x'02', 202, ?, ?)`,
		[]byte(body), time.Now().UnixMilli(), []byte(`{"success":true,"event_id":"evt_1"}`), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	reserve := func(scope, key string, hash []byte) *store.IdempotencyRecord {
		rec, err := st.ReserveIdempotencyKey(t.Context(), &store.ReserveIdempotencyParams{
			IdempotencyLease: store.IdempotencyLease{Scope: scope, Key: key, Token: "t"}, RequestHash: hash,
			Now: now, LeaseUntil: now.Add(time.Minute), ExpiredBefore: now.Add(-24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := reserve("account:acc_1", "old-create", []byte{1}); rec == nil || rec.Status != 200 || rec.ResourceUUID != uuid || len(rec.Body) != 0 {
		t.Fatalf("upgraded create record = %+v, want status 200, resource %s, no body", rec, uuid)
	}
	if rec := reserve("ingest", "old-publish", []byte{2}); rec == nil || !strings.Contains(string(rec.Body), "evt_1") {
		t.Fatalf("upgraded ingest record = %+v, want its answer kept", rec)
	}
	st.Close()
	for _, f := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%s still holds the secret an earlier version recorded", filepath.Base(f))
		}
	}
}
