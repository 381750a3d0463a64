package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/server/store/storetest"
)

func benchOpener(sync string) storetest.BenchOpener {
	return func(b *testing.B) store.Store {
		b.Helper()
		s, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{Synchronous: sync})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
}

// BenchmarkStore runs the storage benchmarks with the service's default,
// synchronous=FULL (every commit survives power loss: one fsync each).
func BenchmarkStore(b *testing.B) { storetest.Bench(b, benchOpener("FULL")) }

// BenchmarkStoreSyncNormal runs them with synchronous=NORMAL (commits survive
// a process crash, not power loss), to show what the fsync costs.
func BenchmarkStoreSyncNormal(b *testing.B) { storetest.Bench(b, benchOpener("NORMAL")) }
