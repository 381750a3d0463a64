package secretbox_test

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/secretbox"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// Header values are sealed one by one on every write (create and update),
// opened on every read (webhooks and claims), and never reach the database
// file or its WAL in clear; names stay readable.
func TestHeaderValuesSealed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.db")
	st, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := mustKey(t)
	box, _ := secretbox.New(key)
	ws := secretbox.Wrap(st, box)
	ctx := t.Context()
	now := time.Now()
	if _, err := ws.CreateAccount(ctx, &store.CreateAccountParams{ID: "acc_1", Name: "a", KeyHash: []byte("h"), Now: now}); err != nil {
		t.Fatal(err)
	}
	const id = "00000000-0000-4000-8000-000000000001"
	first := map[string]string{"Authorization": "Bearer FIRSTMARKERc2VjcmV0", "X-Tenant": "TENANTMARKER"}
	w := &store.Webhook{UUID: id, AccountID: "acc_1", Name: "n", URL: "https://example.com", Secret: "whsec_c2VjcmV0",
		Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: now, LastModified: now, Headers: maps.Clone(first)}
	if err := ws.CreateWebhook(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(w.Headers, first) {
		t.Fatalf("CreateWebhook changed the caller's map: %q", w.Headers)
	}
	got, err := ws.GetWebhook(ctx, "acc_1", id)
	if err != nil || !maps.Equal(got.Headers, first) {
		t.Fatalf("round trip = %q, %v", got.Headers, err)
	}
	raw, err := st.GetWebhook(ctx, "acc_1", id)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range raw.Headers {
		if !strings.HasPrefix(v, "enc:v1:") {
			t.Fatalf("header %s is stored unsealed", name)
		}
	}
	second := map[string]string{"Authorization": "Bearer SECONDMARKERc2VjcmV0"}
	up, err := ws.UpdateWebhook(ctx, &store.UpdateWebhookParams{AccountID: "acc_1", UUID: id, SetHeaders: true, Headers: second, Now: now})
	if err != nil || !maps.Equal(up.Headers, second) {
		t.Fatalf("update = %q, %v", up.Headers, err)
	}
	if _, err := ws.PublishEvents(ctx, []*store.Event{{ID: "evt_1", AccountID: "acc_1", Type: "outbound.delivered", Service: "outbound",
		Data: []byte(`{}`), Body: []byte(`{}`), CreatedAt: now}}, now); err != nil {
		t.Fatal(err)
	}
	cs, err := ws.ClaimDeliveries(ctx, &store.ClaimParams{Owner: "t", Limit: 10, Now: now, Lease: time.Minute})
	if err != nil || len(cs) != 1 || !maps.Equal(cs[0].Headers, second) || cs[0].HeadersUnusable {
		t.Fatalf("claim = %+v, %v", cs, err)
	}

	// A claim whose header was sealed with a key this process does not
	// have is marked, not sent with ciphertext.
	other, _ := secretbox.New(mustKey(t))
	tc, err := secretbox.Wrap(st, other).CreateTestDelivery(ctx, &store.Event{ID: "evt_2", AccountID: "acc_1", Type: "outbound.delivered",
		Service: "outbound", Data: []byte(`{}`), Body: []byte(`{}`), CreatedAt: now}, id, now)
	if err != nil {
		t.Fatal(err)
	}
	if !tc.HeadersUnusable || tc.Headers != nil {
		t.Fatalf("claim with unopenable headers = %+v", tc)
	}
	st.Close()
	for _, name := range []string{"t.db", "t.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, marker := range []string{"FIRSTMARKER", "SECONDMARKER", "TENANTMARKER"} {
			if bytes.Contains(data, []byte(marker)) {
				t.Fatalf("%s contains a header value (%s) in clear", name, marker)
			}
		}
	}
}
