package secretbox_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/secretbox"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

func mustKey(t *testing.T) []byte {
	k, err := secretbox.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRotateTamper(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	b1, _ := secretbox.New(k1)
	sealed, err := b1.Seal("whsec_abc")
	// The whole plaintext must not show: a fragment as short as "abc" turns
	// up in a random hex key id or base64 ciphertext about once in 200 runs.
	if err != nil || !strings.HasPrefix(sealed, "enc:v1:"+secretbox.KeyID(k1)+":") || strings.Contains(sealed, "whsec_abc") {
		t.Fatalf("sealed = %q, %v", sealed, err)
	}
	if again, _ := b1.Seal("whsec_abc"); again == sealed {
		t.Fatal("two seals of the same secret are identical (nonce reuse)")
	}
	// After rotation: new key seals, old ciphertexts still open.
	b2, _ := secretbox.New(k2, k1)
	if got, err := b2.Open(sealed); err != nil || got != "whsec_abc" {
		t.Fatalf("open after rotation = %q, %v", got, err)
	}
	if s2, _ := b2.Seal("x"); !strings.Contains(s2, secretbox.KeyID(k2)) {
		t.Fatal("rotated box does not seal with the new key")
	}
	// Without the old key the old ciphertext is refused, not garbled.
	b3, _ := secretbox.New(k2)
	if _, err := b3.Open(sealed); err == nil {
		t.Fatal("opened a ciphertext without its key")
	}
	// Tampering is detected, including relabelling the key id.
	// One character in the middle of the ciphertext changes: every bit of it
	// counts there (the last characters of unpadded base64 carry bits the
	// decoder may drop, so overwriting them with "AA" left the ciphertext
	// unchanged about once in 100 runs).
	mid := len(sealed) - (len(sealed)-strings.LastIndex(sealed, ":"))/2
	repl := byte('A')
	if sealed[mid] == 'A' {
		repl = 'B'
	}
	tampered := sealed[:mid] + string(repl) + sealed[mid+1:]
	if _, err := b1.Open(tampered); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	// Legacy plaintext passes through.
	if got, _ := b1.Open("whsec_legacy"); got != "whsec_legacy" {
		t.Fatal("plaintext legacy value not passed through")
	}
	if _, err := secretbox.New([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "jetwebhooks.key")
	k, created, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k) != 32 {
		t.Fatalf("create: %v %v %d", err, created, len(k))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o", fi.Mode().Perm())
	}
	k2, created, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k, k2) {
		t.Fatalf("reload: %v %v", err, created)
	}
	os.Chmod(path, 0o644)
	if _, _, err := secretbox.LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("world-readable key file accepted")
	}
	if _, err := secretbox.ParseKey("bm90IDMyIGJ5dGVz"); err == nil {
		t.Fatal("short key parsed")
	}
}

// The wrapped store still satisfies the whole storage contract.
func TestConformanceThroughBox(t *testing.T) {
	box, _ := secretbox.New(mustKey(t))
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), sqlitestore.Options{Synchronous: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		return secretbox.Wrap(st, box)
	})
}

// The database file holds no secret in clear.
func TestNoSecretInClearOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.db")
	st, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(mustKey(t))
	ws := secretbox.Wrap(st, box)
	now := time.Now()
	if _, err := ws.CreateAccount(t.Context(), &store.CreateAccountParams{ID: "acc_1", Name: "a", KeyHash: []byte("h"), Now: now}); err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_UNIQUEMARKERc2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	if err := ws.CreateWebhook(t.Context(), &store.Webhook{UUID: "00000000-0000-4000-8000-000000000001", AccountID: "acc_1",
		Name: "n", URL: "https://example.com", Secret: secret, Events: []string{"outbound.delivered"}, Enabled: true,
		CreatedAt: now, LastModified: now}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ws.GetWebhook(t.Context(), "acc_1", "00000000-0000-4000-8000-000000000001")
	if err != nil || got.Secret != secret {
		t.Fatalf("round trip = %q, %v", got.Secret, err)
	}
	st.Close()
	for _, name := range []string{"t.db", "t.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte("UNIQUEMARKER")) {
			t.Fatalf("%s contains the secret in clear", name)
		}
	}
}
