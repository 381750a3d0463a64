package accounts_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

func TestCreateAndResolveKey(t *testing.T) {
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, key, err := accounts.Create(t.Context(), st, "Acme", []string{"api-user", "api-user"}, []string{"Example.COM"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "api_") || len(key) != 4+43 {
		t.Fatalf("key %q has the wrong shape", key)
	}
	if len(acc.Users) != 1 || acc.Domains[0] != "example.com" {
		t.Fatalf("owned names not normalised: %+v", acc)
	}
	got, err := st.AccountByKeyHash(t.Context(), accounts.HashKey(key))
	if err != nil || got.ID != acc.ID {
		t.Fatalf("key does not resolve to its account: %v %v", got, err)
	}
	_, key2, _ := accounts.Create(t.Context(), st, "Other", nil, nil, time.Now())
	if key2 == key {
		t.Fatal("two accounts got the same key")
	}
	for _, bad := range [][]string{{"bad domain"}, {"-x.com"}, {"nodot"}} {
		if _, _, err := accounts.Create(t.Context(), st, "X", nil, bad, time.Now()); err == nil {
			t.Fatalf("domain %q accepted", bad)
		}
	}
	if _, _, err := accounts.Create(t.Context(), st, "  ", nil, nil, time.Now()); err == nil {
		t.Fatal("blank name accepted")
	}
}
