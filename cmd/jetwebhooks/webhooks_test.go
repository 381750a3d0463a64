package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// cliEnv is a `serve` process with an account, and the outputs of every CLI
// call made against it (checked for the API key at the end of the test).
type cliEnv struct {
	p         *proc
	base      string
	key       string
	accountID string

	mu      sync.Mutex
	outputs []string
}

// newCLIEnv creates an account (owning api-user and example.com) and starts
// `serve` on its database with startServe's loopback egress and ingest token
// "test-ingest", plus extra serve flags.
func newCLIEnv(t *testing.T, extra ...string) *cliEnv {
	t.Helper()
	db := filepath.Join(t.TempDir(), "jw.db")
	out, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "CLI", "--user", "api-user", "--domain", "example.com", "--json")
	if code != 0 {
		t.Fatalf("accounts create: %d %s", code, errOut)
	}
	var acc struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{key: acc.APIKey, accountID: acc.ID}
	e.p = startServe(t, db, extra...)
	e.base = "http://" + e.p.addr
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, o := range e.outputs {
			if strings.Contains(o, e.key) {
				t.Errorf("the API key appears in CLI output:\n%s", o)
			}
		}
	})
	return e
}

// record keeps an output for the API-key check.
func (e *cliEnv) record(outs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outputs = append(e.outputs, outs...)
}

// wh runs `jetwebhooks webhooks ARGS --base-url … --api-key …`.
func (e *cliEnv) wh(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	full := append(append([]string{"webhooks"}, args...), "--base-url", e.base, "--api-key", e.key)
	o, er, code := runCLI(t, full...)
	e.record(o, er)
	return o, er, code
}

// whJSON runs a webhooks command with --output json, requires exit 0 and
// decodes stdout into v.
func (e *cliEnv) whJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	o, er, code := e.wh(t, append(args, "--output", "json")...)
	if code != 0 {
		t.Fatalf("webhooks %v: exit %d\nstdout: %s\nstderr: %s", args, code, o, er)
	}
	if err := json.Unmarshal([]byte(o), v); err != nil {
		t.Fatalf("webhooks %v: stdout is not JSON: %v\n%s", args, err, o)
	}
}

// send runs `jetwebhooks send-event ARGS` with the ingest token.
func (e *cliEnv) send(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	full := append(append([]string{"send-event"}, args...), "--base-url", e.base, "--ingest-token", "test-ingest")
	o, er, code := runCLI(t, full...)
	e.record(o, er)
	return o, er, code
}

type webhookJSON struct {
	UUID          string    `json:"uuid"`
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	Secret        *string   `json:"secret"`
	Events        []string  `json:"events"`
	Status        string    `json:"status"`
	FilterUsers   *[]string `json:"filter_users"`
	FilterDomains *[]string `json:"filter_domains"`
	CreatedAt     int64     `json:"created_at"`
}

type queryJSON struct {
	Events []struct {
		ID               string `json:"id"`
		UUID             string `json:"uuid"`
		EventType        string `json:"event_type"`
		LatestStatus     string `json:"latest_status"`
		TotalAttempts    int    `json:"total_attempts"`
		LastResponseCode *int   `json:"last_response_code"`
		SourceUID        string `json:"source_uid"`
		Replayed         bool   `json:"replayed"`
	} `json:"events"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func TestWebhooksCommandsJSON(t *testing.T) {
	e := newCLIEnv(t)

	var created webhookJSON
	e.whJSON(t, &created, "create", "--name", "Local hook", "--url", "http://127.0.0.1:9/hook",
		"--event", "outbound.delivered", "--event", "outbound.bounced,inbound.received",
		"--filter-user", "api-user", "--filter-domain", "example.com", "--status", "1")
	if created.UUID == "" || created.Secret == nil || !strings.HasPrefix(*created.Secret, "whsec_") {
		t.Fatalf("create: no uuid or secret: %+v", created)
	}
	if len(created.Events) != 3 || created.Status != "enabled" || created.FilterUsers == nil || (*created.FilterUsers)[0] != "api-user" {
		t.Fatalf("create: %+v", created)
	}

	var list []webhookJSON
	e.whJSON(t, &list, "list")
	if len(list) != 1 || list[0].UUID != created.UUID || list[0].Secret != nil {
		t.Fatalf("list: %+v", list)
	}

	var got webhookJSON
	e.whJSON(t, &got, "get", "--uuid", created.UUID)
	if got.Secret == nil || *got.Secret != *created.Secret {
		t.Fatalf("get: secret %v, want the created one", got.Secret)
	}
	e.whJSON(t, &got, "get", created.UUID) // positional, as JetEmail's CLI takes it
	if got.UUID != created.UUID {
		t.Fatalf("get by argument: %+v", got)
	}

	var upd struct {
		Success bool   `json:"success"`
		UUID    string `json:"uuid"`
	}
	e.whJSON(t, &upd, "update", "--uuid", created.UUID, "--name", "Renamed", "--status", "0",
		"--event", "outbound.opened", "--clear-filter-users", "--url", "http://127.0.0.1:9/other")
	if !upd.Success || upd.UUID != created.UUID {
		t.Fatalf("update: %+v", upd)
	}
	got = webhookJSON{}
	e.whJSON(t, &got, "get", created.UUID)
	if got.Name != "Renamed" || got.Status != "disabled" || len(got.Events) != 1 || got.Events[0] != "outbound.opened" ||
		got.FilterUsers != nil || got.FilterDomains == nil || got.URL != "http://127.0.0.1:9/other" {
		t.Fatalf("after update: %+v", got)
	}
	e.whJSON(t, &upd, "update", "--uuid", created.UUID, "--clear-filter-domains", "--filter-user", "api-user")
	got = webhookJSON{}
	e.whJSON(t, &got, "get", created.UUID)
	if got.FilterDomains != nil || got.FilterUsers == nil {
		t.Fatalf("after clearing domains: %+v", got)
	}

	var q queryJSON
	e.whJSON(t, &q, "query", "--uuid", created.UUID, "--limit", "10", "--offset", "0",
		"--status", "success", "--event-type", "outbound.queued", "--date-from", "2020-01-01", "--date-to", "2099-12-31T00:00:00Z")
	if q.Total != 0 || q.Events == nil || q.Limit != 10 {
		t.Fatalf("query: %+v", q)
	}

	var del struct {
		Success bool   `json:"success"`
		UUID    string `json:"uuid"`
	}
	e.whJSON(t, &del, "delete", "--uuid", created.UUID)
	if !del.Success || del.UUID != created.UUID {
		t.Fatalf("delete: %+v", del)
	}
	list = nil
	e.whJSON(t, &list, "list")
	if list == nil || len(list) != 0 {
		t.Fatalf("list after delete is not []: %+v", list)
	}
}

func TestWebhooksTableOutput(t *testing.T) {
	e := newCLIEnv(t)
	out, errOut, code := e.wh(t, "list")
	if code != 0 || !strings.Contains(out, "No webhooks") {
		t.Fatalf("empty list: %d %q %q", code, out, errOut)
	}
	out, _, code = e.wh(t, "create", "--name", "Table", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered")
	for _, want := range []string{"UUID:", "Name:", "URL:", "Status:", "Events:", "Filter users:", "Filter domains:", "Secret:", "whsec_", "Created:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("create table lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	uuid := regexp.MustCompile(`UUID:\s+(\S+)`).FindStringSubmatch(out)[1]

	out, _, code = e.wh(t, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "UUID NAME STATUS EVENTS URL" {
		t.Fatalf("list table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != uuid || f[1] != "Table" || f[2] != "enabled" || f[3] != "outbound.delivered" || f[4] != "http://127.0.0.1:9/" {
		t.Fatalf("list row: %q", lines[1])
	}
	if strings.Contains(out, "whsec_") {
		t.Fatal("list shows a secret")
	}

	if _, _, code := e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--source-uid", "m-table"); code != 0 {
		t.Fatal("send-event failed")
	}
	out, _, code = e.wh(t, "query")
	if code != 0 {
		t.Fatalf("query: %d", code)
	}
	header := strings.Join(strings.Fields(strings.SplitN(out, "\n", 2)[0]), " ")
	if header != "EVENT ID TYPE STATUS ATTEMPTS CODE WEBHOOK SOURCE UID CREATED LAST FAILURE" {
		t.Fatalf("query header %q:\n%s", header, out)
	}
	if !strings.Contains(out, "m-table") || !strings.Contains(out, uuid) || !strings.Contains(out, "1–1 of 1") {
		t.Fatalf("query table:\n%s", out)
	}
	out, _, code = e.wh(t, "update", "--uuid", uuid, "--status", "disabled")
	if code != 0 || !strings.Contains(out, "Updated webhook "+uuid) {
		t.Fatalf("update: %d %s", code, out)
	}
	out, _, code = e.wh(t, "delete", uuid)
	if code != 0 || !strings.Contains(out, "Deleted webhook "+uuid) {
		t.Fatalf("delete: %d %s", code, out)
	}
}

func TestWebhooksUsageErrorsExitTwo(t *testing.T) {
	// A closed port: a usage error must be found before any request (which
	// would exit 4).
	closed := "http://" + freeAddr(t)
	conn := []string{"--base-url", closed, "--api-key", "api_usage_test_key"}
	const uuid = "0b6f1c2e-1111-4222-8333-444455556666"
	cases := [][]string{
		{"webhooks", "create", "--name", "x", "--url", "http://h.example/", "--event", "outbound.delivered", "--status", "7"},
		{"webhooks", "create", "--url", "http://h.example/", "--event", "outbound.delivered"},
		{"webhooks", "create", "--name", "x", "--event", "outbound.delivered"},
		{"webhooks", "create", "--name", "x", "--url", "http://h.example/"},
		{"webhooks", "create", "--name", "x", "--url", "http://h.example/", "--event", "outbound.nope"},
		{"webhooks", "update", "--status", "1"},
		{"webhooks", "update", "--uuid", uuid},
		{"webhooks", "update", "--uuid", uuid, "--status", "7"},
		{"webhooks", "update", "--uuid", "not-a-uuid", "--status", "1"},
		{"webhooks", "update", "--uuid", uuid, "--filter-user", "u", "--clear-filter-users"},
		{"webhooks", "get"},
		{"webhooks", "get", "a", "--uuid", "b"},
		{"webhooks", "get", "a", "b"},
		{"webhooks", "delete"},
		{"webhooks", "query", "--date-from", "yesterday"},
		{"webhooks", "query", "--status", "bogus"},
		{"webhooks", "query", "--event-type", "outbound"},
		{"webhooks", "query", "--limit", "0"},
		{"webhooks", "query", "--limit", "ten"},
		{"webhooks", "replay"},
		{"webhooks", "replay", "--event-id", "evt_1", "--source-uid", "m"},
		{"webhooks", "replay", "--event-id", "evt_1", "--uuid", "nope"},
		{"webhooks", "list", "--output", "yaml"},
		{"webhooks", "list", "--bogus"},
		{"webhooks", "list", "extra"},
		{"webhooks", "bogus"},
		{"send-event", "--account-id", "acc_1"},
		{"send-event", "--type", "outbound.nope", "--account-id", "acc_1"},
		{"send-event", "--type", "outbound.delivered"},
		{"send-event", "--type", "outbound.delivered", "--account-id", "acc_1", "--data", "[1]"},
		{"send-event", "--type", "outbound.delivered", "--account-id", "acc_1", "--data", "{"},
		{"send-event", "--type", "outbound.delivered", "--account-id", "acc_1", "--data", "{}", "--data-file", "x.json"},
		{"send-event", "--type", "outbound.delivered", "--account-id", "acc_1", "--data-file", filepath.Join(t.TempDir(), "missing.json")},
	}
	for _, args := range cases {
		full := append(append([]string{}, args...), conn...)
		if args[0] == "send-event" {
			full = append(append([]string{}, args...), "--base-url", closed, "--ingest-token", "tok")
		}
		_, errOut, code := runCLI(t, full...)
		if code != exitUsage || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("%v: exit %d (want %d), stderr %q", args, code, exitUsage, errOut)
		}
		if strings.Contains(errOut, "api_usage_test_key") {
			t.Errorf("%v: stderr shows the API key", args)
		}
	}

	if _, errOut, code := runCLI(t, "webhooks", "list", "--base-url", "ftp://example.com", "--api-key", "k"); code != exitUsage || !strings.Contains(errOut, "--base-url") {
		t.Errorf("ftp base URL: exit %d, %q", code, errOut)
	}

	// No credential at all.
	t.Setenv("JETWEBHOOKS_API_KEY", "")
	t.Setenv("JETWEBHOOKS_INGEST_TOKEN", "")
	for _, args := range [][]string{
		{"webhooks", "list", "--base-url", closed},
		{"send-event", "--type", "outbound.delivered", "--account-id", "acc_1", "--base-url", closed},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "is required") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

func TestWebhooksAPIErrorsExitThree(t *testing.T) {
	e := newCLIEnv(t)
	_, errOut, code := e.wh(t, "get", "--uuid", "0b6f1c2e-1111-4222-8333-444455556666")
	if code != exitAPI || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "Webhook not found") {
		t.Fatalf("get unknown: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = e.wh(t, "delete", "no-such-webhook")
	if code != exitAPI || !strings.Contains(errOut, "404") {
		t.Fatalf("delete unknown: exit %d, stderr %q", code, errOut)
	}
	// The server's message and its field details.
	_, errOut, code = e.wh(t, "create", "--name", "bad!", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered")
	if code != exitAPI || !strings.Contains(errOut, "400") || !strings.Contains(errOut, "/name") {
		t.Fatalf("create invalid name: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = e.wh(t, "create", "--name", "filter", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered", "--filter-user", "someone-else")
	if code != exitAPI || !strings.Contains(errOut, "someone-else") {
		t.Fatalf("create foreign filter: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = e.wh(t, "replay", "--event-id", "evt_unknown")
	if code != exitAPI || !strings.Contains(errOut, "404") {
		t.Fatalf("replay unknown: exit %d, stderr %q", code, errOut)
	}
	// A wrong key is the server's 401, and is not echoed.
	wrong := "api_wrongwrongwrongwrongwrongwrongwrongwrong1"
	o, errOut, code := runCLI(t, "webhooks", "list", "--base-url", e.base, "--api-key", wrong)
	if code != exitAPI || !strings.Contains(errOut, "401") || strings.Contains(o+errOut, wrong) {
		t.Fatalf("wrong key: exit %d, stderr %q", code, errOut)
	}
	o, errOut, code = runCLI(t, "send-event", "--type", "outbound.delivered", "--account-id", e.accountID, "--base-url", e.base, "--ingest-token", "wrong-token")
	if code != exitAPI || !strings.Contains(errOut, "401") || strings.Contains(o+errOut, "wrong-token") {
		t.Fatalf("wrong ingest token: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = e.send(t, "--type", "outbound.delivered", "--account-id", "acc_nope")
	if code != exitAPI || !strings.Contains(errOut, "400") {
		t.Fatalf("unknown account: exit %d, stderr %q", code, errOut)
	}
}

func TestNetworkErrorsExitFour(t *testing.T) {
	closed := "http://" + freeAddr(t)
	key := "api_network_test_key_0123456789"
	for _, args := range [][]string{
		{"webhooks", "list", "--base-url", closed, "--api-key", key},
		{"webhooks", "get", "--uuid", "x", "--base-url", closed, "--api-key", key},
		{"webhooks", "query", "--base-url", closed, "--api-key", key, "-o", "json"},
		{"send-event", "--type", "outbound.delivered", "--account-id", "acc_1", "--base-url", closed, "--ingest-token", key},
	} {
		o, errOut, code := runCLI(t, args...)
		if code != exitNetwork || !strings.Contains(errOut, "could not reach the server at "+closed) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if strings.Contains(o+errOut, key) {
			t.Errorf("%v: output shows the key", args)
		}
	}
}

// TestAPIKeyNeverPrinted covers the key given through the environment: no
// help text (flag defaults) and no output shows it.
func TestAPIKeyNeverPrinted(t *testing.T) {
	e := newCLIEnv(t)
	t.Setenv("JETWEBHOOKS_API_KEY", e.key)
	t.Setenv("JETWEBHOOKS_BASE_URL", e.base)
	t.Setenv("JETWEBHOOKS_INGEST_TOKEN", "test-ingest")
	var all bytes.Buffer
	root := newRootCmd()
	for _, name := range []string{"webhooks", "listen", "send-event"} {
		c, _, _ := root.Find([]string{name})
		walk(c, func(c *cobra.Command) {
			args := append(strings.Fields(c.CommandPath())[1:], "--help")
			o, er, code := runCLI(t, args...)
			if code != 0 {
				t.Errorf("%v: exit %d %s", args, code, er)
			}
			all.WriteString(o + er)
		})
	}
	o, er, code := runCLI(t, "webhooks", "create", "--name", "env", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered", "-o", "json")
	if code != 0 {
		t.Fatalf("create with env credentials: %d %s", code, er)
	}
	all.WriteString(o + er)
	for _, args := range [][]string{
		{"webhooks", "list"}, {"webhooks", "list", "-o", "json"}, {"webhooks", "query"},
		{"webhooks", "get", "nope"}, {"webhooks", "replay", "--event-id", "evt_nope"},
		{"send-event", "--type", "outbound.delivered", "--account-id", e.accountID},
		{"webhooks", "list", "--base-url", "http://" + freeAddr(t)},
	} {
		o, er, _ := runCLI(t, args...)
		all.WriteString(o + er)
	}
	if strings.Contains(all.String(), e.key) {
		t.Fatal("the API key appears in output")
	}
	if strings.Contains(all.String(), "test-ingest") {
		t.Fatal("the ingest token appears in output")
	}
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func TestEveryCLICommandHasExampleAndHelp(t *testing.T) {
	root := newRootCmd()
	for _, name := range []string{"webhooks", "listen", "send-event"} {
		c, _, err := root.Find([]string{name})
		if err != nil || c.Name() != name {
			t.Fatalf("%s not registered", name)
		}
		walk(c, func(c *cobra.Command) {
			if strings.TrimSpace(c.Example) == "" {
				t.Errorf("%s has no Example", c.CommandPath())
			}
			args := append(strings.Fields(c.CommandPath())[1:], "--help")
			o, _, code := runCLI(t, args...)
			if code != 0 || !strings.Contains(o, "Examples:") {
				t.Errorf("%v: exit %d, no Examples in help", args, code)
			}
		})
	}
}

func TestShellCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		o, er, code := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(o, "jetwebhooks") {
			t.Errorf("completion %s: exit %d %s", shell, code, er)
		}
	}
	for args, want := range map[string]string{
		"webhooks ":                              "replay",
		"webhooks create --event out":            "outbound.delivered",
		"webhooks query --status ":               "failed",
		"webhooks query --event-type outbound.q": "outbound.queued",
		"webhooks list --output ":                "json",
		"send-event --type inb":                  "inbound.received",
	} {
		a := append([]string{"__complete"}, strings.Split(args, " ")...)
		o, er, code := runCLI(t, a...)
		if code != 0 || !strings.Contains(o, want) {
			t.Errorf("__complete %q: exit %d, %q %q", args, code, o, er)
		}
	}
	// Webhook uuids complete from the API when the connection is configured.
	e := newCLIEnv(t)
	var w webhookJSON
	e.whJSON(t, &w, "create", "--name", "Complete me", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered")
	o, _, code := runCLI(t, "__complete", "webhooks", "get", "--base-url", e.base, "--api-key", e.key, "")
	e.record(o)
	if code != 0 || !strings.Contains(o, w.UUID+"\tComplete me") {
		t.Fatalf("uuid completion: %q", o)
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[[2]string]int64{
		{"1704825600", ""}:                1704825600,
		{"2024-01-09T18:40:00Z", ""}:      1704825600,
		{"2024-01-09T19:40:00+01:00", ""}: 1704825600,
		{"2024-01-09", ""}:                1704758400,
		{"2024-01-09", "end"}:             1704758400 + 86399,
	} {
		got, err := parseDate("date-from", in[0], in[1] == "end")
		if err != nil || got != want {
			t.Errorf("parseDate(%q, %v) = %d, %v; want %d", in[0], in[1], got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5", "2024-13-01", "1.5"} {
		if _, err := parseDate("date-to", bad, false); err == nil {
			t.Errorf("parseDate(%q) accepted", bad)
		}
	}
}

func TestEventTypeListsMatchTheContract(t *testing.T) {
	if len(allEvents) != 15 || len(subscribableEvents) != 14 {
		t.Fatalf("event lists: %d all, %d subscribable", len(allEvents), len(subscribableEvents))
	}
	if _, err := parseEvents("event", subscribableEvents); err != nil {
		t.Fatal(err)
	}
	if _, err := parseEvents("event", []string{"outbound.queued"}); err == nil {
		t.Fatal("outbound.queued must not be subscribable")
	}
	for _, ev := range allEvents {
		if _, err := parseEventType("type", ev); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing in one goroutine
// while the test reads in another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listenProc is `jetwebhooks listen` run in-process by run() in a goroutine.
type listenProc struct {
	out  *syncBuffer
	url  string
	stop func() int // cancels and returns the exit code
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

func startListen(t *testing.T, args ...string) *listenProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"listen"}, args...), out, out) }()
	l := &listenProc{out: out}
	var once sync.Once
	code := -1
	l.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("listen did not stop after cancel")
			}
		})
		return code
	}
	t.Cleanup(func() { l.stop() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			l.url = m[1]
			return l
		}
		select {
		case c := <-done:
			t.Fatalf("listen exited with %d before it was ready:\n%s", c, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen not ready:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// count returns how many times s occurs in the listener's output.
func (l *listenProc) count(s string) int { return strings.Count(l.out.String(), s) }

func (e *cliEnv) waitQuery(t *testing.T, what string, ok func(q queryJSON) bool, args ...string) queryJSON {
	t.Helper()
	var q queryJSON
	waitFor(t, 15*time.Second, what, func() bool {
		q = queryJSON{}
		e.whJSON(t, &q, append([]string{"query"}, args...)...)
		return ok(q)
	})
	return q
}

func mustFree(t *testing.T) (host, port string) {
	t.Helper()
	addr := freeAddr(t)
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}

func TestWebhooksDeliveryControlsFlags(t *testing.T) {
	e := newCLIEnv(t)
	var created struct {
		UUID      string  `json:"uuid"`
		Ordering  *string `json:"ordering"`
		RateLimit *int    `json:"rate_limit"`
	}
	e.whJSON(t, &created, "create", "--name", "Ledger", "--url", "http://127.0.0.1:9/hook",
		"--event", "outbound.delivered", "--ordering", "fifo", "--rate-limit", "10")
	if created.Ordering == nil || *created.Ordering != "fifo" || created.RateLimit == nil || *created.RateLimit != 10 {
		t.Fatalf("create: %+v", created)
	}
	var upd struct{ Success bool }
	e.whJSON(t, &upd, "update", created.UUID, "--ordering", "unordered", "--rate-limit", "0")
	var got struct {
		Ordering  *string `json:"ordering"`
		RateLimit *int    `json:"rate_limit"`
	}
	e.whJSON(t, &got, "get", created.UUID)
	if got.Ordering != nil || got.RateLimit != nil {
		t.Fatalf("after clearing the controls: %+v", got)
	}
	for _, args := range [][]string{
		{"update", created.UUID, "--ordering", "lifo"},
		{"update", created.UUID, "--rate-limit", "1001"},
	} {
		if _, _, code := e.wh(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
}
