package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// binPath is the jetwebhooks binary built once for the tests that need a real
// process (signals, SIGKILL).
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jwbin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "jetwebhooks")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(t.Context(), args, &o, &e)
	return o.String(), e.String(), code
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a `jetwebhooks serve` process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func startServe(t *testing.T, db string, extra ...string) *proc {
	t.Helper()
	p := &proc{addr: freeAddr(t), done: make(chan struct{})}
	// --validate-responses: every answer the tests cause is held to the
	// spec; a mismatch is logged and fails the test at cleanup.
	args := append([]string{"serve", "--addr", p.addr, "--db", db, "--egress-allow", "127.0.0.0/8", "--ingest-token", "test-ingest",
		"--validate-responses"}, extra...)
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if out := p.output(); strings.Contains(out, "contract violation") {
			t.Errorf("serve answered outside the spec:\n%s", out)
		}
	})
	waitFor(t, 10*time.Second, "server to answer /healthz", func() bool {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFirstStartPrintsCredentialsOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	p := startServe(t, db)
	out := p.output()
	key := regexp.MustCompile(`API key:\s+(api_\S+)`).FindStringSubmatch(out)
	if key == nil {
		t.Fatalf("first start did not print an API key:\n%s", out)
	}
	if strings.Contains(out, "ingest token:") {
		t.Fatalf("a configured ingest token must not be printed:\n%s", out)
	}
	// The printed key works.
	c, err := client.New("http://"+p.addr, key[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListWebhooks(t.Context()); err != nil {
		t.Fatalf("printed key does not work: %v", err)
	}
	// Graceful shutdown on SIGTERM exits 0.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d\n%s", code, p.output())
	}
	// A second start on the same database prints nothing secret.
	p2 := startServe(t, db)
	if strings.Contains(p2.output(), "api_") {
		t.Fatalf("second start printed a key again:\n%s", p2.output())
	}
}

func TestGeneratedIngestTokenIsShownOnceAndKept(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	addr := freeAddr(t)
	cmd := exec.Command(binPath, "serve", "--addr", addr, "--db", db)
	first := &proc{}
	cmd.Stdout = lockedWriter{first}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bootstrap output", func() bool { return strings.Contains(first.output(), "ingest token:") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	tok := regexp.MustCompile(`ingest token:\s+(ing_\S+)`).FindStringSubmatch(first.output())
	if tok == nil {
		t.Fatalf("no ingest token printed:\n%s", first.output())
	}
	// Restarted without --ingest-token, the generated token still authorises ingest.
	p := &proc{addr: freeAddr(t), done: make(chan struct{})}
	p.cmd = exec.Command(binPath, "serve", "--addr", p.addr, "--db", db)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
	waitFor(t, 10*time.Second, "restart", func() bool {
		r, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	if strings.Contains(p.output(), "ing_") {
		t.Fatal("the ingest token was printed again")
	}
	for tokVal, want := range map[string]int{tok[1]: 400, "wrong": 401} {
		req, _ := http.NewRequest("POST", "http://"+p.addr+"/events", strings.NewReader(`{"account_id":"acc_nope","type":"outbound.delivered"}`))
		req.Header.Set("Authorization", "Bearer "+tokVal)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want { // 400: authorised, then the unknown account is refused
			t.Fatalf("token %q: status %d, want %d", tokVal[:min(4, len(tokVal))], resp.StatusCode, want)
		}
	}
}

func TestAccountsCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	out, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Acme", "--user", "api-user", "--domain", "Example.com")
	if code != 0 {
		t.Fatalf("create: code %d, %s", code, errOut)
	}
	key := strings.TrimSpace(out)
	if !regexp.MustCompile(`^api_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("create printed %q, want the key alone", out)
	}
	out, _, code = runCLI(t, "accounts", "create", "--db", db, "--name", "Beta", "--json")
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("create --json: code %d, %q", code, out)
	}
	for _, k := range []string{"id", "name", "api_key", "users", "domains"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("create --json lacks %q: %s", k, out)
		}
	}
	out, _, code = runCLI(t, "accounts", "list", "--db", db, "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Fatalf("list --json: code %d, %s", code, out)
	}
	if strings.Contains(out, "api_") {
		t.Fatal("accounts list shows a key")
	}
	if list[0]["domains"].([]any)[0] != "example.com" {
		t.Fatalf("domain not normalised: %v", list[0])
	}
	out, _, _ = runCLI(t, "accounts", "list", "--db", db)
	if !strings.Contains(out, "Acme") || !strings.Contains(out, "ID") {
		t.Fatalf("table output: %s", out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	cases := [][]string{
		{"serve", "--bogus"},
		{"serve", "--db", db, "--retry-schedule", "soon"},
		{"serve", "--db", db, "--egress-allow", "not-a-cidr"},
		{"serve", "--db", db, "--log-level", "loud"},
		{"serve", "--db", db, "--trusted-proxies", "10.0.0.1/8"},
		{"serve", "--db", db, "--auth-failure-window", "0s"},
		{"serve", "--db", db, "--retention", "0s"},
		{"serve", "--db", db, "--purge-interval", "0s"},
		{"serve", "--db", db, "--retention", "soon"},
		{"accounts", "create", "--db", db},
	}
	for _, args := range cases {
		_, errOut, code := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "Error:") {
			t.Errorf("%v: exit %d (want %d), stderr %q", args, code, exitUsage, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "X", "--domain", "not a domain"); code != exitFailure || !strings.Contains(errOut, "domain") {
		t.Errorf("invalid domain: exit %d, %q", code, errOut)
	}
}

// TestCrashLosesNothing kills the server with SIGKILL while thousands of
// deliveries are pending and checks that, after a restart on the same
// database, every acknowledged event arrives at least once.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const events = 3000
	var mu sync.Mutex
	got := map[string]int{}
	var verified, failed int
	secret := make(chan string, 1)
	var sec string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		if sec == "" {
			select {
			case sec = <-secret:
			default:
			}
		}
		s := sec
		mu.Unlock()
		v, err := signature.NewVerifier([]string{s})
		ok := err == nil
		if ok {
			_, err = v.Verify(r.Header, body)
			ok = err == nil
		}
		time.Sleep(20 * time.Millisecond) // slow enough that a backlog exists when we kill
		mu.Lock()
		got[r.Header.Get("X-Webhook-ID")]++
		if ok {
			verified++
		} else {
			failed++
		}
		mu.Unlock()
	}))
	defer recv.Close()

	db := filepath.Join(t.TempDir(), "jw.db")
	out, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Crash", "--json")
	if code != 0 {
		t.Fatalf("create account: %s", errOut)
	}
	var acc struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	json.Unmarshal([]byte(out), &acc)
	flags := []string{"--delivery-timeout", "2s", "--lease", "5s", "--concurrency", "32", "--retry-schedule", "0s,200ms,200ms,200ms,200ms,200ms,200ms,200ms"}
	p := startServe(t, db, flags...)
	c, _ := client.New("http://"+p.addr, acc.APIKey, client.WithIngestToken("test-ingest"))
	w, err := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "crash", URL: recv.URL + "/hook", Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	secret <- *w.Secret

	ids := map[string]bool{}
	for b := 0; b < events/1000; b++ {
		batch := make([]client.Event, 1000)
		for i := range batch {
			id := fmt.Sprintf("evt_crash_%d_%d", b, i)
			ids[id] = true
			batch[i] = client.Event{ID: &id, AccountID: acc.ID, Type: "outbound.delivered", Data: client.MustData(map[string]any{"n": i})}
		}
		res, err := c.PublishEvents(t.Context(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1000 || res[0].Deliveries != 1 {
			t.Fatalf("publish results: %d, first %+v", len(res), res[0])
		}
	}
	// Let deliveries get going, then kill the process outright.
	waitFor(t, 10*time.Second, "first deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 50 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	mu.Lock()
	atKill := len(got)
	mu.Unlock()
	if atKill >= events {
		t.Fatalf("all %d events were delivered before the kill; the test proves nothing", events)
	}
	t.Logf("delivered before SIGKILL: %d of %d", atKill, events)

	p2 := startServe(t, db, flags...)
	c, _ = client.New("http://"+p2.addr, acc.APIKey)
	waitFor(t, 60*time.Second, "every event after restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= events
	})
	mu.Lock()
	dups := 0
	for id, n := range got {
		if !ids[id] {
			t.Fatalf("unexpected event id %q", id)
		}
		dups += n - 1
	}
	t.Logf("duplicates after the crash: %d (bounded by in-flight work, 32 workers)", dups)
	if dups > 32+128 {
		t.Fatalf("%d duplicates exceed what the dead node could have had in flight", dups)
	}
	if failed > 0 {
		t.Fatalf("%d deliveries failed signature verification", failed)
	}
	mu.Unlock()
	// The history agrees: every record ends a success.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := c.QueryEvents(context.Background(), client.QueryRequest{Status: ptr(client.QueryStatus("success")), Limit: ptr(1)})
		if err == nil && rs.Total == events {
			break
		}
		if time.Now().After(deadline) {
			counts := map[string]int{}
			for _, st := range []string{"pending", "retry", "success", "failed"} {
				r, _ := c.QueryEvents(context.Background(), client.QueryRequest{Status: ptr(client.QueryStatus(st)), Limit: ptr(1)})
				if r != nil {
					counts[st] = r.Total
				}
			}
			t.Fatalf("history does not record every delivery as a success: %v", counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }
