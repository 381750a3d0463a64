package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPortalCommands: `portal link` prints a link that signs a browser in
// once; `portal revoke` ends the sessions; with --portal=false no link is
// minted and the refusal is the server's.
func TestPortalCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	out, _, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Portal", "--json")
	if code != 0 {
		t.Fatal("create account failed")
	}
	var acc struct {
		APIKey string `json:"api_key"`
	}
	json.Unmarshal([]byte(out), &acc)
	p := startServe(t, db, "--portal-link-ttl", "2m")
	base := []string{"--base-url", "http://" + p.addr, "--api-key", acc.APIKey}

	out, errOut, code := runCLI(t, append([]string{"portal", "link"}, base...)...)
	link := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(link, "http://"+p.addr+"/portal/login?token=pl_") || !strings.Contains(errOut, "Works once, until") {
		t.Fatalf("portal link: %d %q %q", code, out, errOut)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, want := range []int{http.StatusSeeOther, http.StatusForbidden} {
		resp, err := noRedirect.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("opening the link, time %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	out, _, code = runCLI(t, append([]string{"portal", "link", "--output", "json"}, base...)...)
	var l struct {
		URL       string `json:"url"`
		ExpiresAt int64  `json:"expires_at"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.URL == "" || l.ExpiresAt == 0 {
		t.Fatalf("portal link --output json: %d %s", code, out)
	}
	if left := l.ExpiresAt - time.Now().Unix(); left < 100 || left > 121 {
		t.Errorf("with --portal-link-ttl 2m the link expires in %d s", left)
	}
	out, _, code = runCLI(t, append([]string{"portal", "revoke"}, base...)...)
	if code != 0 || !strings.Contains(out, "Signed out 1 portal session") {
		t.Fatalf("portal revoke: %d %s", code, out)
	}

	offDB := filepath.Join(t.TempDir(), "off2.db")
	out, _, _ = runCLI(t, "accounts", "create", "--db", offDB, "--name", "Off", "--json")
	json.Unmarshal([]byte(out), &acc)
	off2 := startServe(t, offDB, "--portal=false")
	_, errOut, code = runCLI(t, "portal", "link", "--base-url", "http://"+off2.addr, "--api-key", acc.APIKey)
	if code != exitAPI || !strings.Contains(errOut, "portal is switched off") {
		t.Fatalf("portal link with the portal off: %d %q", code, errOut)
	}
}
