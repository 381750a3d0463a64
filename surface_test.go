package jetwebhooks_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// publicPackages is every package of the module that users may import,
// relative to the module root ("." is the root package). Whatever is
// importable is a promise to users, so this list is small on purpose: what a
// client user, an embedder or a store author needs. Everything else lives
// under internal/ (or is a command or an example). README.md, "Layout", says
// why each one is public.
var publicPackages = []string{
	".",                        // the spec, embedded
	"client",                   // the Go client
	"gen/apiclient",            // generated from openapi.yaml; client wraps it
	"gen/apiserver",            // generated; server.Config.Handlers names it
	"gen/models",               // generated; client re-exports its types
	"nullable",                 // the type of the models' nullable fields
	"server",                   // the service, embeddable
	"server/servertest",        // a real server for other packages' tests
	"server/store",             // the storage contract
	"server/store/pgstore",     // the PostgreSQL backend
	"server/store/sqlitestore", // the SQLite backend
	"server/store/storetest",   // the conformance suite a store author runs
	"signature",                // signing and verifying deliveries
}

// TestPublicSurface pins the module's importable packages to publicPackages:
// a new package outside internal/, cmd/ and examples/ fails it until it is
// moved under internal/ or added to the list deliberately.
func TestPublicSurface(t *testing.T) {
	var found []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel := filepath.ToSlash(p)
		name := d.Name()
		if rel != "." {
			// What the go command ignores, what users cannot import, and
			// what is not Go: none of it is public API.
			switch {
			case strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"),
				name == "testdata", name == "vendor", name == "node_modules", name == "internal",
				rel == "cmd", rel == "examples":
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
				found = append(found, rel)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("no packages found: is the test running in the module root?")
	}
	for _, p := range found {
		if !slices.Contains(publicPackages, p) {
			t.Errorf("package %s is importable by users, but not meant to be public: move it under internal/ "+
				"(github.com/jetwebhooks/jetwebhooks/internal/%s), or, if users need it, add it to publicPackages "+
				"in surface_test.go deliberately and say why in README.md's Layout", p, path.Base(p))
		}
	}
	for _, p := range publicPackages {
		if !slices.Contains(found, p) {
			t.Errorf("public package %s is gone: remove it from publicPackages in surface_test.go (and from README.md's Layout)", p)
		}
	}
}
