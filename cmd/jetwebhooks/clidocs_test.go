package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIDocsAreCurrent fails when docs/cli.md differs from what the command
// tree generates: a flag or command changed without `make cli-docs`.
func TestCLIDocsAreCurrent(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", cliDocsPath))
	if err != nil {
		t.Fatalf("%v (run make cli-docs)", err)
	}
	for _, kv := range os.Environ() {
		if name, v, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "JETWEBHOOKS_") {
			t.Setenv(name, v) // restored after writeCLIDocs clears it
		}
	}
	var got bytes.Buffer
	if err := writeCLIDocs(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("%s is stale: run make cli-docs and commit it", cliDocsPath)
	}
	// The README points at it rather than keeping its own flag list.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "docs/cli.md") {
		t.Fatal("README.md does not link the generated CLI reference docs/cli.md")
	}
}

// TestMakeRunHonoursPortAndAddr checks make run's address overrides and its
// "first build" notice (make -n prints the commands without running them).
func TestMakeRunHonoursPortAndAddr(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	for _, c := range []struct {
		vars []string
		want string
	}{
		{nil, "--addr 127.0.0.1:8080 "},
		{[]string{"PORT=9123"}, "--addr 127.0.0.1:9123 "},
		{[]string{"PORT=9123", "ADDR=0.0.0.0:7000"}, "--addr 0.0.0.0:7000 "},
	} {
		args := append([]string{"-n", "-C", filepath.Join("..", ".."), "run"}, c.vars...)
		cmd := exec.Command("make", args...)
		cmd.Env = nil
		for _, kv := range cleanEnv() {
			if !strings.HasPrefix(kv, "PORT=") && !strings.HasPrefix(kv, "ADDR=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %v: %v\n%s", args, err, out)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("make run %v: want %q in\n%s", c.vars, c.want, out)
		}
		if !strings.Contains(string(out), "the first build can take a few minutes") {
			t.Errorf("make run does not say it is compiling:\n%s", out)
		}
	}
}
