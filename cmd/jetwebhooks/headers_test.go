package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type headedJSON struct {
	UUID    string            `json:"uuid"`
	Name    string            `json:"name"`
	Headers map[string]string `json:"headers"`
}

// TestWebhookHeadersCLI: webhooks create and update take custom headers
// from --header, from a file and from stdin; update replaces, keeps or
// clears them; get shows them to the key's holder; a real receiver gets
// them on a test send; and mistakes are usage errors or the server's
// refusal, none quoting a value.
func TestWebhookHeadersCLI(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	}))
	defer rcv.Close()
	e := newCLIEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "headers")
	if err := os.WriteFile(file, []byte("# the receiver's credentials\nAuthorization: Bearer from-file-t0ken\r\n\nX-Region:eu-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var created headedJSON
	e.whJSON(t, &created, "create", "--name", "Headed", "--url", rcv.URL+"/hook", "--event", "outbound.delivered",
		"--header", "X-Tenant: acme", "--header", "X-Tabbed:  a\tb ", "--headers-file", file)
	want := map[string]string{"X-Tenant": "acme", "X-Tabbed": "a\tb", "Authorization": "Bearer from-file-t0ken", "X-Region": "eu-1"}
	if !sameHeaders(created.Headers, want) {
		t.Fatalf("create: headers %q, want %q", created.Headers, want)
	}

	// The table shows them to the key's holder, one row each.
	out, errOut, code := e.wh(t, "get", created.UUID)
	if code != 0 || !strings.Contains(out, "X-Tenant: acme") || !strings.Contains(out, "Authorization: Bearer from-file-t0ken") {
		t.Fatalf("get: exit %d\n%s%s", code, out, errOut)
	}
	// A real receiver gets them.
	if out, errOut, code := e.wh(t, "test", created.UUID); code != 0 {
		t.Fatalf("test: exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Get("X-Tenant") != "acme" || got[0].Get("Authorization") != "Bearer from-file-t0ken" ||
		got[0].Get("Content-Type") != "application/json" {
		t.Errorf("the receiver got %v", got)
	}
	mu.Unlock()

	// From stdin, through the binary.
	out, errOut, code = runBin(t, dir, nil, "X-From-Stdin: st-value\n", "webhooks", "create", "--name", "Stdin", "--url", rcv.URL+"/s",
		"--event", "outbound.delivered", "--headers-file", "-", "--base-url", e.base, "--api-key", e.key, "-o", "json")
	e.record(out, errOut)
	if code != 0 || !strings.Contains(out, `"X-From-Stdin": "st-value"`) {
		t.Fatalf("create --headers-file -: exit %d\n%s%s", code, out, errOut)
	}

	// Update: other fields keep them, --header replaces the set,
	// --clear-headers removes it.
	var after headedJSON
	e.whJSON(t, new(map[string]any), "update", created.UUID, "--name", "Renamed")
	e.whJSON(t, &after, "get", created.UUID)
	if !sameHeaders(after.Headers, want) {
		t.Fatalf("after --name: %q", after.Headers)
	}
	e.whJSON(t, new(map[string]any), "update", created.UUID, "--header", "X-Only: one")
	after = headedJSON{}
	e.whJSON(t, &after, "get", created.UUID)
	if !sameHeaders(after.Headers, map[string]string{"X-Only": "one"}) {
		t.Fatalf("after --header: %q", after.Headers)
	}
	e.whJSON(t, new(map[string]any), "update", created.UUID, "--clear-headers")
	after = headedJSON{}
	e.whJSON(t, &after, "get", created.UUID)
	if after.Headers != nil {
		t.Fatalf("after --clear-headers: %q", after.Headers)
	}
	if out, _, _ := e.wh(t, "get", created.UUID); strings.Contains(out, "Header:") {
		t.Errorf("get shows headers after clearing:\n%s", out)
	}

	// Mistakes: usage errors (exit 2) or the server's refusal (exit 3),
	// each one line that names the problem and not the value.
	const secret = "must-not-be-echoed"
	for _, c := range []struct {
		args    []string
		code    int
		mention string
	}{
		{[]string{"update", created.UUID, "--header", "Authorization Bearer " + secret}, exitUsage, `expected "Name: value"`},
		{[]string{"update", created.UUID, "--header", ": " + secret}, exitUsage, `expected "Name: value"`},
		{[]string{"update", created.UUID, "--header", "X-A: " + secret, "--header", "x-a: " + secret}, exitUsage, "given twice"},
		{[]string{"update", created.UUID, "--header", "X-A: " + secret, "--clear-headers"}, exitUsage, "contradicts"},
		{[]string{"update", created.UUID, "--headers-file", filepath.Join(dir, "absent")}, exitUsage, "--headers-file"},
		{[]string{"update", created.UUID, "--header", "Host: " + secret}, exitAPI, `"Host" is reserved`},
		{[]string{"update", created.UUID, "--header", "X-Webhook-Signature: " + secret}, exitAPI, "signatures"},
		{[]string{"update", created.UUID, "--header", "Bad Name: " + secret}, exitAPI, "not a valid header name"},
		{[]string{"create", "--name", "Refused", "--url", rcv.URL, "--event", "outbound.delivered", "--header", "Content-Type: " + secret}, exitAPI, "reserved"},
	} {
		out, errOut, code := e.wh(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.mention) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.mention)
		}
		if c.code == exitUsage {
			oneError(t, c.args, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%v: the output quotes the value: %s%s", c.args, out, errOut)
		}
	}
	// Two readers of stdin cannot both have it.
	out, errOut, code = runBin(t, dir, nil, "X-A: 1\n", "webhooks", "update", created.UUID, "--headers-file", "-",
		"--api-key-file", "-", "--base-url", e.base)
	e.record(out, errOut)
	if code != exitUsage || !strings.Contains(errOut, "stdin") {
		t.Errorf("--headers-file - with --api-key-file -: exit %d, %q", code, errOut)
	}
	after = headedJSON{}
	e.whJSON(t, &after, "get", created.UUID)
	if after.Headers != nil || after.Name != "Renamed" {
		t.Errorf("refused updates changed the webhook: %+v", after)
	}
}

func sameHeaders(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
