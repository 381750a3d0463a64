// Package examples holds small programs that use jetwebhooks the three ways
// it is meant to be used; TestExamplesRun builds and runs each.
package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExamplesRun builds every example and runs it to completion: each
// makes a round trip against itself and prints "ok" last.
func TestExamplesRun(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"nethttp", "echo", "custom", "receiver", "readme"} {
		t.Run(name, func(t *testing.T) {
			exe := filepath.Join(bin, name)
			if out, err := exec.Command("go", "build", "-o", exe, "./"+name).CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, exe).CombinedOutput()
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
				t.Fatalf("run: %v\n%s", err, out)
			}
		})
	}
}

// snippetRegion is a region of examples/readme/main.go that README.md shows.
var snippetRegion = regexp.MustCompile(`(?s)\n[ \t]*// README: (\w+)\n(.*?)\n[ \t]*// README: end`)

// TestREADMESnippets: every Go snippet region of examples/readme appears in
// README.md exactly (one level of indentation removed), and README.md shows
// no Go code block that is not one of them or an import line.
func TestREADMESnippets(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("readme", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]bool{}
	for _, m := range snippetRegion.FindAllStringSubmatch(string(src), -1) {
		lines := strings.Split(m[2], "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		code := strings.Join(lines, "\n")
		regions[code] = true
		if !strings.Contains(string(readme), "```go\n"+code+"\n```") {
			t.Errorf("README.md does not show region %q of examples/readme as it is:\n%s", m[1], code)
		}
	}
	if len(regions) < 4 {
		t.Fatalf("found %d regions in examples/readme, want client, verify, embed and publish", len(regions))
	}
	for _, m := range regexp.MustCompile("(?s)```go\n(.*?)\n```").FindAllStringSubmatch(string(readme), -1) {
		if !regions[m[1]] && !regexp.MustCompile(`^import "[^"]+"$`).MatchString(m[1]) {
			t.Errorf("README.md shows Go code that no test runs:\n%s", m[1])
		}
	}
}

// TestREADMEFromAnotherModule builds the README's program in a throwaway
// module outside this repository that requires this module (a replace to
// the checkout), as a user would, and runs it.
func TestREADMEFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("module outside the repository skipped in -short mode")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("readme", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/readme-user\n\ngo 1.26\n\nrequire github.com/jetwebhooks/jetwebhooks v0.0.0\n\n" +
		"replace github.com/jetwebhooks/jetwebhooks => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	if out := run("run", "."); !strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Fatalf("the README's program outside the module:\n%s", out)
	}
}
