package pgstore_test

import (
	"testing"

	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

// BenchmarkStore runs the storage benchmarks on a fresh database per
// sub-benchmark run; skipped unless JETWEBHOOKS_TEST_POSTGRES is set.
func BenchmarkStore(b *testing.B) {
	pgtest.ServerURL(b) // skip early, once, without a server
	storetest.Bench(b, func(b *testing.B) store.Store {
		b.Helper()
		s, err := pgstore.Open(b.Context(), pgtest.NewDatabase(b), pgstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
