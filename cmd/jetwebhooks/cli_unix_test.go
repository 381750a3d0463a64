package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// runBin runs the built binary in dir with env added to the environment and
// stdin, and returns its output and exit code.
func runBin(t *testing.T, dir string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	// A command that should exit but hangs fails the test instead of
	// blocking the suite.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// cleanEnv is the test's environment without JETWEBHOOKS_ variables.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JETWEBHOOKS_") {
			out = append(out, kv)
		}
	}
	return out
}

// oneError checks that stderr is exactly one plain "Error: …" line: no
// second copy of the message, no usage dump, no Go parser internals.
func oneError(t *testing.T, args []string, stderr string) {
	t.Helper()
	if n := strings.Count(stderr, "Error:"); n != 1 || !strings.HasPrefix(stderr, "Error: ") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("%v: want one Error line, got %q", args, stderr)
	}
	for _, raw := range []string{"Usage:", "strconv.", "invalid syntax", "missing protocol scheme", "parse \""} {
		if strings.Contains(stderr, raw) {
			t.Errorf("%v: stderr has %q, not plain words: %q", args, raw, stderr)
		}
	}
}

func TestUnknownCommandsAndBadFlagsExitTwo(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "jetwebhooks"`},
		{[]string{"accounts", "bogus"}, `unknown command "bogus" for "jetwebhooks accounts"`},
		{[]string{"ingest-token", "bogus"}, `unknown command "bogus" for "jetwebhooks ingest-token"`},
		{[]string{"webhooks", "bogus"}, `unknown command "bogus"`},
		{[]string{"serve", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"serve", "--concurrency", "abc"}, `--concurrency: "abc" is not an integer`},
		{[]string{"serve", "--delivery-timeout", "soon"}, `--delivery-timeout: "soon" is not a duration`},
		{[]string{"serve", "--sqlite-synchronous", "sometimes"}, `--sqlite-synchronous: "sometimes" is not FULL, NORMAL, EXTRA or OFF`},
		{[]string{"webhooks", "list", "--api-key", "k", "--base-url", ":/bad"}, `--base-url: ":/bad" is not a valid URL`},
		{[]string{"webhooks", "query", "--api-key", "k", "--limit", "ten"}, `--limit: "ten" is not an integer`},
	}
	for _, c := range cases {
		_, stderr, code := runBin(t, dir, nil, "", c.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %q", c.args, code, exitUsage, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, stderr, c.want)
		}
		oneError(t, c.args, stderr)
	}
	// A runtime failure exits 1, also with its error printed once.
	_, stderr, code := runBin(t, dir, nil, "", "accounts", "list", "--db", filepath.Join(dir, "none.db"))
	if code != exitFailure {
		t.Errorf("accounts list on a missing database: exit %d, want %d", code, exitFailure)
	}
	oneError(t, []string{"accounts", "list"}, stderr)
	// A group with no subcommand prints its help and succeeds.
	if out, _, code := runBin(t, dir, nil, "", "accounts"); code != 0 || !strings.Contains(out, "rotate-key") {
		t.Errorf("accounts alone: exit %d, %q", code, out)
	}
	// --help states the convention the code follows.
	out, _, _ := runBin(t, dir, nil, "", "--help")
	if !strings.Contains(out, "2 usage error") || !strings.Contains(out, "1 failure at run time") {
		t.Errorf("--help does not document the exit codes:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	dir := t.TempDir()
	out, _, code := runBin(t, dir, nil, "", "version")
	flagOut, _, flagCode := runBin(t, dir, nil, "", "--version")
	if code != 0 || flagCode != 0 || out != flagOut {
		t.Fatalf("version: exit %d %q; --version: exit %d %q", code, out, flagCode, flagOut)
	}
	if !strings.HasPrefix(out, "jetwebhooks ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Fatalf("version = %q", out)
	}
	// A release build sets the version with -ldflags -X.
	rel := filepath.Join(dir, "jetwebhooks-release")
	if b, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7", "-o", rel, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	o, err := exec.Command(rel, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v buildInfo
	if err := json.Unmarshal(o, &v); err != nil || v.Version != "v9.8.7" || v.GoVersion != runtime.Version() {
		t.Fatalf("version --json of a release build = %s (%v)", o, err)
	}
	if o, _ := exec.Command(rel, "--version").Output(); !strings.HasPrefix(string(o), "jetwebhooks v9.8.7 ") {
		t.Fatalf("--version of a release build = %q", o)
	}
}

func TestVersionReportsTheCommit(t *testing.T) {
	b := buildInfoFrom(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"},
	}})
	want := "jetwebhooks v1.2.3 (0123456789ab, 2026-01-02T03:04:05Z, modified) " + runtime.Version()
	if !strings.HasPrefix(b.String(), want) || b.Revision != "0123456789abcdef0123456789abcdef01234567" || !b.Modified {
		t.Fatalf("got %q %+v, want prefix %q", b.String(), b, want)
	}
	if got := buildInfoFrom(nil).Version; got != "(devel)" {
		t.Fatalf("no build info: version %q", got)
	}
}

func TestUpdateTakesTheUUIDAsArgument(t *testing.T) {
	e := newCLIEnv(t)
	var w webhookJSON
	e.whJSON(t, &w, "create", "--name", "Arg", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered")
	if _, errOut, code := e.wh(t, "update", w.UUID, "--name", "Renamed"); code != 0 {
		t.Fatalf("update UUID: exit %d %s", code, errOut)
	}
	var got webhookJSON
	e.whJSON(t, &got, "get", w.UUID)
	if got.Name != "Renamed" {
		t.Fatalf("name after update = %q", got.Name)
	}
	// --uuid stays as an alias; both at once must agree.
	if _, errOut, code := e.wh(t, "update", "--uuid", w.UUID, "--name", "Again"); code != 0 {
		t.Fatalf("update --uuid: exit %d %s", code, errOut)
	}
	if _, _, code := e.wh(t, "update", w.UUID, "--uuid", "0b6f1c2e-1111-4222-8333-444455556666", "--name", "X"); code != exitUsage {
		t.Fatalf("two different uuids: exit %d, want %d", code, exitUsage)
	}
}

func TestSecretsFromFileAndStdin(t *testing.T) {
	e := newCLIEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(e.key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"webhooks", "list", "--base-url", e.base, "-o", "json"}
	for name, c := range map[string]struct {
		env   []string
		stdin string
		args  []string
	}{
		"--api-key-file":           {args: []string{"--api-key-file", keyFile}},
		"--api-key-file -":         {stdin: e.key + "\n", args: []string{"--api-key-file", "-"}},
		"JETWEBHOOKS_API_KEY_FILE": {env: []string{"JETWEBHOOKS_API_KEY_FILE=" + keyFile}},
		"JETWEBHOOKS_API_KEY":      {env: []string{"JETWEBHOOKS_API_KEY=" + e.key}},
	} {
		out, errOut, code := runBin(t, dir, c.env, c.stdin, append(base, c.args...)...)
		e.record(out, errOut)
		if code != 0 || !strings.HasPrefix(out, "[") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	// The ingest token the same way, for send-event.
	tokFile := filepath.Join(dir, "tok")
	os.WriteFile(tokFile, []byte("test-ingest"), 0o600)
	if out, errOut, code := runBin(t, dir, nil, "", "send-event", "--base-url", e.base, "--ingest-token-file", tokFile,
		"--type", "outbound.delivered", "--account-id", e.accountID, "-o", "json"); code != 0 {
		t.Errorf("send-event --ingest-token-file: exit %d %s %s", code, out, errOut)
	}
	// Given twice, or empty: a usage error, and nothing is sent.
	for name, c := range map[string]struct {
		env   []string
		stdin string
		args  []string
	}{
		"flag and file":     {args: []string{"--api-key", e.key, "--api-key-file", keyFile}},
		"env and env file":  {env: []string{"JETWEBHOOKS_API_KEY=" + e.key, "JETWEBHOOKS_API_KEY_FILE=" + keyFile}},
		"empty stdin":       {args: []string{"--api-key-file", "-"}},
		"missing file":      {args: []string{"--api-key-file", filepath.Join(dir, "absent")}},
		"two readers stdin": {stdin: "x", args: []string{"--api-key-file", "-"}},
	} {
		args := append(base, c.args...)
		if name == "two readers stdin" {
			args = []string{"send-event", "--base-url", e.base, "--ingest-token-file", "-", "--data-file", "-", "--type", "outbound.delivered", "--account-id", e.accountID}
		}
		out, errOut, code := runBin(t, dir, c.env, c.stdin, args...)
		e.record(out, errOut)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr %q", name, code, exitUsage, errOut)
		}
	}
	// serve and listen read theirs from files too: a bad value in the file
	// is reported under the flag's name, proving the file was read.
	badKey := filepath.Join(dir, "bad-key")
	os.WriteFile(badKey, []byte("not-base64!\n"), 0o600)
	if _, errOut, code := runBin(t, dir, nil, "", "serve", "--db", filepath.Join(dir, "s.db"), "--secret-key-file", badKey); code != exitUsage || !strings.Contains(errOut, "--secret-key") {
		t.Errorf("serve --secret-key-file with a bad key: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runBin(t, dir, []string{"JETWEBHOOKS_WEBHOOK_SECRET_FILE=" + filepath.Join(dir, "absent")}, "", "listen", "--port", "0"); code != exitUsage || !strings.Contains(errOut, "JETWEBHOOKS_WEBHOOK_SECRET_FILE") {
		t.Errorf("listen with JETWEBHOOKS_WEBHOOK_SECRET_FILE naming a missing file: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runBin(t, dir, nil, "", "listen", "--port", "0", "--secret", "whsec_x", "--secret-file", badKey); code != exitUsage || !strings.Contains(errOut, "give the secret once") {
		t.Errorf("listen --secret and --secret-file: exit %d, %q", code, errOut)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 { // key, tok, bad-key: the refused serve created nothing
		t.Errorf("refused commands left files behind: %v", ents)
	}
	// Every secret flag has a file twin, and its help leads away from the
	// command line.
	for _, args := range [][]string{{"serve"}, {"webhooks", "list"}, {"send-event"}, {"listen"}, {"bench"}} {
		out, _, _ := runBin(t, dir, nil, "", append(args, "--help")...)
		for name, env := range secretFlags {
			if !regexp.MustCompile(`--`+name+` string`).MatchString(out) && !strings.Contains(out, "--"+name+" strings") {
				continue
			}
			if !strings.Contains(out, "--"+name+"-file") || !strings.Contains(out, "prefer "+env) {
				t.Errorf("%v --help: --%s has no --%s-file or does not lead with %s", args, name, name, env)
			}
		}
	}
}

func TestReadOnlyCommandsNeverCreateADatabase(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"accounts", "list"},
		{"accounts", "list", "--db", filepath.Join(dir, "sub", "jw.db")},
		{"accounts", "rotate-key", "--id", "acc_0123456789abcdef"},
		{"ingest-token", "status"},
		{"ingest-token", "rotate"},
	} {
		_, stderr, code := runBin(t, dir, nil, "", args...)
		if code != exitFailure || !strings.Contains(stderr, "no database at ") || !strings.Contains(stderr, "start `jetwebhooks serve` first or pass --db") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("read-only commands created %v in the directory", ents)
	}
}

func TestSecondServeOnOneSQLiteFileIsRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	first := startServe(t, db)
	cmd := exec.Command(binPath, "serve", "--db", db, "--addr", freeAddr(t), "--ingest-token", "x")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("a second serve on the same SQLite file kept running")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailure || !strings.Contains(errOut.String(), "already serving the database") {
		t.Fatalf("second serve: exit %d, stderr %q", code, errOut.String())
	}
	// The first keeps working, and a CLI command runs beside it.
	resp, err := http.Get("http://" + first.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first server after the refused start: %v", err)
	}
	resp.Body.Close()
	if out, stderr, code := runBin(t, t.TempDir(), nil, "", "accounts", "list", "--db", db); code != 0 || !strings.Contains(out, "default") {
		t.Fatalf("accounts list beside serve: exit %d %q %q", code, out, stderr)
	}
	if _, stderr, code := runBin(t, t.TempDir(), nil, "", "accounts", "create", "--db", db, "--name", "Beside"); code != 0 {
		t.Fatalf("accounts create beside serve: exit %d %q", code, stderr)
	}
	// Once the first stops, the file can be served again.
	first.cmd.Process.Kill()
	<-first.done
	startServe(t, db)
}

func TestIngestTokenStatusAndRotate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	if _, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Tok"); code != 0 {
		t.Fatal(errOut)
	}
	status := func() map[string]any {
		t.Helper()
		out, errOut, code := runCLI(t, "ingest-token", "status", "--db", db, "--json")
		var m map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
			t.Fatalf("status: exit %d %q %q", code, out, errOut)
		}
		return m
	}
	if m := status(); m["set"] != false {
		t.Fatalf("status before any serve = %v", m)
	}
	p := startServe(t, db) // --ingest-token test-ingest
	if m := status(); m["set"] != true || m["source"] != "configured" {
		t.Fatalf("status with serve --ingest-token = %v", m)
	}
	if out, _, _ := runCLI(t, "ingest-token", "status", "--db", db); strings.Contains(out, "test-ingest") || !strings.Contains(out, "given to serve") {
		t.Fatalf("status table = %q", out)
	}
	out, errOut, code := runCLI(t, "ingest-token", "rotate", "--db", db)
	tok := strings.TrimSpace(out)
	if code != 0 || !regexp.MustCompile(`^ing_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Fatalf("rotate: exit %d, stdout %q (want the token alone), stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "next start") {
		t.Errorf("rotate does not warn that serve's configured token returns at its next start: %q", errOut)
	}
	if m := status(); m["source"] != "rotated" {
		t.Fatalf("status after rotate = %v", m)
	}
	ingest := func(tok string) int {
		req, _ := http.NewRequest("POST", "http://"+p.addr+"/events", strings.NewReader(`{"account_id":"acc_nope","type":"outbound.delivered"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The running server switches within IngestTokenRefresh (2s); 400 is
	// authorised, then the unknown account refused.
	waitFor(t, 15*time.Second, "the running server to accept the rotated token", func() bool { return ingest(tok) == 400 })
	if code := ingest("test-ingest"); code != 401 {
		t.Fatalf("the old token after rotation: %d, want 401", code)
	}
}
