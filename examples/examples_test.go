// Package examples holds small programs that use jetwebhooks the three ways
// it is meant to be used; TestExamplesRun builds and runs each.
package examples_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExamplesRun builds every example and runs it to completion: each
// makes a round trip against itself and prints "ok" last.
func TestExamplesRun(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"nethttp", "echo", "custom", "receiver"} {
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
