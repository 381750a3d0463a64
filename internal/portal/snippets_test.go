package portal_test

// The verification code of the docs page must be correct: each snippet is
// run, in its own language, against deliveries signed by the delivery
// engine's signer (signature.Signer), including a secret rotation (two
// signatures) and the ways a forged or stale delivery differs.

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/portal"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// snippetCase is one delivery to verify and whether it must pass.
type snippetCase struct {
	Name    string            `json:"name"`
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Now     int64             `json:"now"`
	Want    bool              `json:"want"`
}

func snippetCases(t *testing.T) []snippetCase {
	t.Helper()
	cur, err := signature.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	old, _ := signature.NewSecret()
	other, _ := signature.NewSecret()
	now := time.Unix(1767225600, 0)
	body := `{"id":"evt_abc123","service":"outbound","type":"outbound.delivered","created_at":1767225600,"data":{"uid":"message-uid","subject":"Café ✓"}}`
	sign := func(ts time.Time, secrets ...string) map[string]string {
		s, err := signature.NewSigner(secrets...)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		s.Sign(h, "evt_abc123", ts, []byte(body))
		out := map[string]string{}
		for k := range h {
			out[strings.ToLower(k)] = h.Get(k)
		}
		if !strings.HasPrefix(out["webhook-signature"], "v1,") {
			t.Fatalf("the signer made no Standard Webhooks signature: %v", out)
		}
		return out
	}
	with := func(h map[string]string, k, v string) map[string]string {
		c := map[string]string{}
		for a, b := range h {
			c[a] = b
		}
		c[k] = v
		return c
	}
	good := sign(now, cur)
	rotated := sign(now, cur, old) // during a rotation: new first, then old
	return []snippetCase{
		{"signed now", cur, good, body, now.Unix(), true},
		{"signed 4 minutes ago", cur, sign(now.Add(-4*time.Minute), cur), body, now.Unix(), true},
		{"rotation: checked with the old secret", old, rotated, body, now.Unix(), true},
		{"rotation: checked with the new secret", cur, rotated, body, now.Unix(), true},
		{"another secret", other, good, body, now.Unix(), false},
		{"body changed", cur, good, strings.Replace(body, "message-uid", "message-uie", 1), now.Unix(), false},
		{"id changed", cur, with(good, "webhook-id", "evt_abc124"), body, now.Unix(), false},
		{"timestamp changed", cur, with(good, "webhook-timestamp", "1767225601"), body, now.Unix(), false},
		{"signed 6 minutes ago", cur, sign(now.Add(-6*time.Minute), cur), body, now.Unix(), false},
		{"signed 6 minutes ahead", cur, sign(now.Add(6*time.Minute), cur), body, now.Unix(), false},
		{"no signature", cur, with(good, "webhook-signature", ""), body, now.Unix(), false},
		{"timestamp not a number", cur, with(good, "webhook-timestamp", "soon"), body, now.Unix(), false},
	}
}

// runSnippet copies the snippet and a harness into a temp dir, runs cmd
// there with the cases on stdin, and checks its JSON list of verdicts.
func runSnippet(t *testing.T, snippet, as string, harness map[string]string, name string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("JETWEBHOOKS_TEST_SNIPPETS") == "required" {
			t.Fatalf("%s is required (JETWEBHOOKS_TEST_SNIPPETS=required) but not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	dir := t.TempDir()
	code, err := portal.Snippets.ReadFile("snippets/" + snippet)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(code, []byte(portal.SecretPlaceholder)) {
		t.Fatalf("%s does not show where the secret goes", snippet)
	}
	files := map[string]string{as: string(code)}
	for k, v := range harness {
		files[k] = v
	}
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := snippetCases(t)
	in, _ := json.Marshal(cases)
	// go test gives the test no stdin: the cases are in a file too.
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", name, err, out, stderr.String())
	}
	// The verdicts are the last line (go test prints more).
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got []bool
	for _, l := range lines {
		if strings.HasPrefix(l, "VERDICTS ") {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "VERDICTS ")), &got); err != nil {
				t.Fatalf("verdicts %q: %v", l, err)
			}
		}
	}
	if len(got) != len(cases) {
		t.Fatalf("%s answered %d verdicts for %d cases:\n%s\n%s", name, len(got), len(cases), out, stderr.String())
	}
	for i, c := range cases {
		if got[i] != c.Want {
			t.Errorf("%s: %s: verified %v, want %v", snippet, c.Name, got[i], c.Want)
		}
	}
}

func TestSnippetGo(t *testing.T) {
	t.Parallel()
	runSnippet(t, "verify.go.txt", "main.go", map[string]string{
		"go.mod": "module snippet\n\ngo 1.22\n",
		"harness_test.go": `package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

func TestCases(t *testing.T) {
	var cases []struct {
		Secret  string            ` + "`json:\"secret\"`" + `
		Headers map[string]string ` + "`json:\"headers\"`" + `
		Body    string            ` + "`json:\"body\"`" + `
		Now     int64             ` + "`json:\"now\"`" + `
	}
	raw, err := os.ReadFile("cases.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	out := []bool{}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		out = append(out, verifyWebhook(c.Secret, h, []byte(c.Body), time.Unix(c.Now, 0)) == nil)
	}
	b, _ := json.Marshal(out)
	fmt.Println("VERDICTS " + string(b))
}
`}, "go", "test", "-count=1", "-v", "-run", "TestCases", ".")
}

func TestSnippetNode(t *testing.T) {
	t.Parallel()
	runSnippet(t, "verify.js", "verify.js", map[string]string{"harness.js": `
const { verifyWebhook } = require("./verify.js");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log("VERDICTS " + JSON.stringify(cases.map((c) => verifyWebhook(c.secret, c.headers, Buffer.from(c.body, "utf8"), c.now))));
`}, "node", "harness.js")
}

func TestSnippetPython(t *testing.T) {
	t.Parallel()
	runSnippet(t, "verify.py", "verify.py", map[string]string{"harness.py": `
import json, sys
from verify import verify_webhook
cases = json.load(sys.stdin)
print("VERDICTS " + json.dumps([verify_webhook(c["secret"], c["headers"], c["body"].encode(), c["now"]) for c in cases]))
`}, "python3", "harness.py")
}

func TestSnippetPHP(t *testing.T) {
	t.Parallel()
	runSnippet(t, "verify.php", "verify.php", map[string]string{"harness.php": `<?php
require __DIR__ . '/verify.php';
$cases = json_decode(file_get_contents('php://stdin'), true);
$out = [];
foreach ($cases as $c) {
    $h = $c['headers'];
    $out[] = verify_webhook($c['secret'], $h['webhook-id'] ?? '', $h['webhook-timestamp'] ?? '', $h['webhook-signature'] ?? '', $c['body'], $c['now']);
}
echo 'VERDICTS ' . json_encode($out) . "\n";
`}, "php", "harness.php")
}

func TestSnippetRuby(t *testing.T) {
	t.Parallel()
	runSnippet(t, "verify.rb", "verify.rb", map[string]string{"harness.rb": `
require "json"
require_relative "verify"
cases = JSON.parse($stdin.read)
out = cases.map do |c|
  h = c["headers"]
  verify_webhook(c["secret"], h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"], c["body"].b, c["now"])
end
puts "VERDICTS " + JSON.generate(out)
`}, "ruby", "harness.rb")
}

// TestDocsInsertSecret: the docs page shows the placeholder until asked,
// then the chosen endpoint's secret, in every language.
func TestDocsInsertSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	w := e.hook(e.A, "Orders", "https://example.com/h")
	b, _ := e.signedIn(e.A)
	p := b.get(e.url + "/portal/docs")
	if strings.Contains(p.body, *w.Secret) || strings.Count(p.body, portal.SecretPlaceholder) != 5 {
		t.Fatalf("docs before asking: secret shown or placeholder missing")
	}
	p = b.get(e.url + "/portal/docs?" + url.Values{"webhook": {w.UUID.String()}, "reveal": {"secret"}}.Encode())
	p.body = html.UnescapeString(p.body) // a secret's "+" is written &#43;
	if p.status != http.StatusOK || strings.Count(p.body, *w.Secret) != 5 || strings.Contains(p.body, portal.SecretPlaceholder) {
		t.Fatalf("docs with the secret: %d, %d copies of it", p.status, strings.Count(p.body, *w.Secret))
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a page with a secret may be stored: %q", p.header.Get("Cache-Control"))
	}
}
