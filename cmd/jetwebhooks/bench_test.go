package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/servertest"
)

// runBenchCLI runs `jetwebhooks bench args…` as run() does, registering the
// bench command on the root if the root does not have it yet.
func runBenchCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	if c, _, err := root.Find([]string{"bench"}); err != nil || c == root {
		root.AddCommand(newBenchCmd())
	}
	var o, e bytes.Buffer
	root.SetArgs(append([]string{"bench"}, args...))
	root.SetOut(&o)
	root.SetErr(&e)
	err := root.ExecuteContext(t.Context())
	code = exitOK
	if err != nil {
		e.WriteString("Error: " + err.Error() + "\n")
		var ec interface{ exitCode() int }
		var ue usageError
		switch {
		case errors.As(err, &ec):
			code = ec.exitCode()
		case errors.As(err, &ue):
			code = exitUsage
		default:
			code = exitFailure
		}
	}
	return o.String(), e.String(), code
}

// lastJSONLine decodes the last line of out.
func lastJSONLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	return m
}

func TestBenchSmallRun(t *testing.T) {
	out, errOut, code := runBenchCLI(t, "--events", "500", "--fanout", "2", "--rate", "0", "--batch", "50",
		"--raw-requests", "500", "--sqlite-synchronous", "NORMAL", "--payload-bytes", "100")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "published 1000 = delivered 1000 + missing 0") || strings.Contains(out, "VOID") {
		t.Errorf("summary:\n%s", out)
	}
	m := lastJSONLine(t, out)
	for _, k := range []string{"backend", "events", "deliveries", "deliveries_per_s", "raw_http_per_s", "ratio",
		"p50_ms", "p90_ms", "p99_ms", "max_ms", "lost", "duplicates", "peak_rss_mb", "rate", "fanout", "batch",
		"concurrency", "go_version", "cpus", "cpu_model", "date"} {
		if _, ok := m[k]; !ok {
			t.Errorf("result line lacks %q", k)
		}
	}
	if m["events"] != 500.0 || m["deliveries"] != 1000.0 || m["lost"] != 0.0 || m["fanout"] != 2.0 || m["batch"] != 50.0 {
		t.Errorf("result line: %v", m)
	}
	if m["deliveries_per_s"].(float64) <= 0 || m["raw_http_per_s"].(float64) <= 0 || m["p99_ms"].(float64) <= 0 {
		t.Errorf("implausible numbers: %v", m)
	}
}

func TestBenchErrorRateRetries(t *testing.T) {
	sched := "0s" + strings.Repeat(",10ms", 24)
	out, errOut, code := runBenchCLI(t, "--events", "200", "--fanout", "2", "--error-rate", "0.2",
		"--retry-schedule", sched, "--raw-requests", "-1", "--sqlite-synchronous", "NORMAL")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	m := lastJSONLine(t, out)
	if m["delivered"] != 400.0 || m["lost"] != 0.0 || m["receiver_500s"].(float64) < 20 {
		t.Errorf("want all 400 delivered through retries: %v", m)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--events", "10", "--duration", "1s"},
		{"--batch", "5000"},
		{"--error-rate", "1.5"},
		{"--retry-schedule", "soon"},
		{"--warmup", "lots"},
		{"--memory", "--target", "http://127.0.0.1:1"},
		{"--rate-limit", "1001"},
		{"--rate-limit", "-1"},
		{"--memory", "--rate-limit", "10"},
		{"--target", "http://127.0.0.1:1"}, // no credentials
		{"extra-arg"},
	} {
		if out, errOut, code := runBenchCLI(t, args...); code != exitUsage {
			t.Errorf("bench %v: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

// benchTarget serves an in-process jetwebhooks for --target runs.
func benchTarget(t *testing.T) (url string, boot *server.Bootstrap, ingestToken string) {
	t.Helper()
	ingestToken = "ing_bench_cli_test_token_0123456789"
	url, boot = servertest.Start(t, ingestToken)
	return url, boot, ingestToken
}

func TestBenchVoidRun(t *testing.T) {
	url, boot, _ := benchTarget(t)
	out, errOut, code := runBenchCLI(t, "--target", url, "--api-key", boot.APIKey, "--ingest-token", "ing_not_the_token",
		"--account-id", boot.AccountID, "--events", "100", "--raw-requests", "-1")
	if code != exitBenchVoid {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitBenchVoid, out, errOut)
	}
	if !strings.Contains(out, "VOID RUN") || !strings.Contains(errOut, "VOID") {
		t.Errorf("the void verdict is not loud:\n%s\n%s", out, errOut)
	}
	if m := lastJSONLine(t, out); m["void"] != true || !strings.Contains(m["void_reason"].(string), "ingest") {
		t.Errorf("result line: %v", m)
	}
	if strings.Contains(out+errOut, boot.APIKey) {
		t.Error("the API key was printed")
	}
}

// soakLines returns the soak report lines of out, each as its key=value
// fields.
func soakLines(t *testing.T, out string) []map[string]string {
	t.Helper()
	var reps []map[string]string
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "soak ")
		if !ok {
			continue
		}
		rep := map[string]string{}
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			rep[k] = v
		}
		reps = append(reps, rep)
	}
	return reps
}

// checkSoak checks a soak run's report lines: every one has the database
// size and the RSS read from the service, and latencies and a rate for the
// deliveries that arrived.
func checkSoak(t *testing.T, out string) {
	t.Helper()
	reps := soakLines(t, out)
	if len(reps) < 2 {
		t.Fatalf("%d soak report lines, want one a second of a 3 s run:\n%s", len(reps), out)
	}
	delivered := 0.0
	for _, rep := range reps {
		for _, k := range []string{"t", "db_mb", "rss_mb", "p50_ms", "p99_ms", "deliveries", "deliveries_per_s"} {
			if rep[k] == "" || rep[k] == "?" {
				t.Fatalf("soak line lacks %s: %v", k, rep)
			}
		}
		var db, rss, n float64
		fmtSscan(rep["db_mb"], &db)
		fmtSscan(rep["rss_mb"], &rss)
		fmtSscan(rep["deliveries"], &n)
		if db <= 0 || rss <= 0 {
			t.Fatalf("soak line with no database size or RSS: %v", rep)
		}
		delivered += n
	}
	if delivered == 0 {
		t.Fatalf("no deliveries reported in any interval:\n%s", out)
	}
	m := lastJSONLine(t, out)
	if m["mode"] != "soak" || m["lost"] != 0.0 || m["void"] != false {
		t.Fatalf("result line: %v", m)
	}
	if soak, ok := m["soak"].([]any); !ok || len(soak) != len(reps) {
		t.Fatalf("result line's soak reports = %v, want the %d printed", m["soak"], len(reps))
	}
}

func TestBenchSoakInProcess(t *testing.T) {
	out, errOut, code := runBenchCLI(t, "--soak", "3s", "--rate", "200", "--report-every", "1s", "--retention", "1s",
		"--purge-interval", "500ms", "--sqlite-synchronous", "NORMAL")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	checkSoak(t, out)
}

func TestBenchSoakAgainstTarget(t *testing.T) {
	url, boot, tok := benchTarget(t)
	out, errOut, code := runBenchCLI(t, "--target", url, "--api-key", boot.APIKey, "--ingest-token", tok,
		"--account-id", boot.AccountID, "--soak", "3s", "--rate", "200", "--report-every", "1s")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	checkSoak(t, out)
}

func TestBenchSoakUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--soak", "3s"}, // no rate
		{"--soak", "3s", "--rate", "10", "--events", "5"},
		{"--soak", "3s", "--rate", "10", "--target", "http://127.0.0.1:1", "--api-key", "k", "--ingest-token", "t",
			"--account-id", "a", "--retention", "1s"},
	} {
		if out, errOut, code := runBenchCLI(t, args...); code != exitUsage {
			t.Errorf("bench %v: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

func fmtSscan(s string, v *float64) { _, _ = fmt.Sscan(s, v) }

// TestBenchRunsAgainstTarget: --runs repeats the run against one service and
// reports each, as the queue-churn test needs; in process it is refused.
func TestBenchRunsAgainstTarget(t *testing.T) {
	url, boot, tok := benchTarget(t)
	out, errOut, code := runBenchCLI(t, "--target", url, "--api-key", boot.APIKey, "--ingest-token", tok,
		"--account-id", boot.AccountID, "--runs", "2", "--events", "200", "--rate", "0", "--batch", "1", "--raw-requests", "-1")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"run 1 of 2", "run 2 of 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `"mode":"throughput"`); n != 2 {
		t.Errorf("%d JSON result lines, want 2", n)
	}
	if _, _, code := runBenchCLI(t, "--runs", "2", "--events", "10"); code != exitUsage {
		t.Errorf("--runs in process: exit %d, want %d", code, exitUsage)
	}
}
