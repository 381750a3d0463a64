package delivery_test

import (
	"context"
	"database/sql"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// The engine's tests run unchanged against each backend: every test that
// builds an env runs on SQLite as a top-level test, and again on PostgreSQL
// as a subtest of TestPostgres (skipped, with one notice, without
// JETWEBHOOKS_TEST_POSTGRES). The backend is chosen by the test's name.
var storageTests = map[string]func(*testing.T){
	"TestFallbackPickupsCounted":            TestFallbackPickupsCounted,
	"TestDeliverSuccessSignedBothSchemes":   TestDeliverSuccessSignedBothSchemes,
	"TestDeliverJetEmailVector":             TestDeliverJetEmailVector,
	"TestRetryAfter500ThenSuccess":          TestRetryAfter500ThenSuccess,
	"TestRetryAfter":                        TestRetryAfter,
	"TestPermanentFailure4xx":               TestPermanentFailure4xx,
	"TestTimeoutIsRetried":                  TestTimeoutIsRetried,
	"TestNetworkErrorsRetried":              TestNetworkErrorsRetried,
	"TestRedirectNotFollowed":               TestRedirectNotFollowed,
	"TestDeadLetterThenReplay":              TestDeadLetterThenReplay,
	"TestEgressRefusal":                     TestEgressRefusal,
	"TestFanOutFiltersAndDisabled":          TestFanOutFiltersAndDisabled,
	"TestDisabledAfterPublishNotSent":       TestDisabledAfterPublishNotSent,
	"TestResponseBodyTruncatedAndSanitised": TestResponseBodyTruncatedAndSanitised,
	"TestGracefulShutdownFinishesInFlight":  TestGracefulShutdownFinishesInFlight,
	"TestLeaseTakeover":                     TestLeaseTakeover,
	"TestThroughputExactlyOnce":             TestThroughputExactlyOnce,
	"TestBrokenConnectionsRetried":          TestBrokenConnectionsRetried,
	"TestClaimsBoundedByConcurrency":        TestClaimsBoundedByConcurrency,
	"TestSlowWebhookCannotStarveOthers":     TestSlowWebhookCannotStarveOthers,
	"TestNewValidatesConfig":                TestNewValidatesConfig,
	"TestFailureReasons":                    TestFailureReasons,
	"TestSuccessHasNoFailureReason":         TestSuccessHasNoFailureReason,
	"TestFIFODeliversInOrder":               TestFIFODeliversInOrder,
	"TestFIFOTwoEngines":                    TestFIFOTwoEngines,
	"TestRateLimitAtReceiver":               TestRateLimitAtReceiver,
	"TestRateLimit429SlowsDown":             TestRateLimit429SlowsDown,
}

func TestPostgres(t *testing.T) {
	pgtest.ServerURL(t) // skips (or fails in CI) as the variable says
	for name, fn := range storageTests {
		t.Run(strings.TrimPrefix(name, "Test"), fn)
	}
}

// openBackend opens the store for t: PostgreSQL under TestPostgres, else SQLite.
func openBackend(t *testing.T) (store.Store, func(accountID, eventID string) ([]byte, error)) {
	t.Helper()
	ctx := context.Background()
	if strings.HasPrefix(t.Name(), "TestPostgres/") {
		dsn := pgtest.NewDatabase(t)
		st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		return st, func(accountID, eventID string) ([]byte, error) {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return nil, err
			}
			defer conn.Close(ctx)
			var body []byte
			err = conn.QueryRow(ctx, `SELECT body FROM events WHERE account_id = $1 AND id = $2`, accountID, eventID).Scan(&body)
			return body, err
		}
	}
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/jetwebhooks.db", sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st, func(accountID, eventID string) ([]byte, error) {
		db, err := sql.Open("sqlite", "file:"+st.Path()+"?mode=ro")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		var body []byte
		err = db.QueryRow(`SELECT body FROM events WHERE account_id = ? AND id = ?`, accountID, eventID).Scan(&body)
		return body, err
	}
}

// TestEveryStorageTestRunsOnEachBackend keeps storageTests complete: every
// test of this package that builds an env must be listed.
func TestEveryStorageTestRunsOnEachBackend(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "delivery_test" {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Name.Name == "TestPostgres" {
				continue
			}
			usesEnv := false
			ast.Inspect(fn, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "newEnv" {
						usesEnv = true
					}
				}
				return true
			})
			if _, listed := storageTests[fn.Name.Name]; usesEnv && !listed {
				t.Errorf("%s uses the store but is not in storageTests, so it never runs on PostgreSQL", fn.Name.Name)
			}
		}
	}
}
