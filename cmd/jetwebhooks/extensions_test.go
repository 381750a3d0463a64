package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
)

func TestRotateSecretAndTestCommands(t *testing.T) {
	var hits atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte("thanks"))
	}))
	defer recv.Close()
	db := filepath.Join(t.TempDir(), "jw.db")
	out, _, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Ext", "--json")
	if code != 0 {
		t.Fatal("create account failed")
	}
	var acc struct {
		APIKey string `json:"api_key"`
	}
	json.Unmarshal([]byte(out), &acc)
	p := startServe(t, db)
	base := []string{"--base-url", "http://" + p.addr, "--api-key", acc.APIKey}
	c, _ := client.New("http://"+p.addr, acc.APIKey)
	w, err := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "ok", URL: recv.URL + "/ok", Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	id := w.UUID.String()

	out, errOut, code := runCLI(t, append([]string{"webhooks", "rotate-secret", id, "--grace", "1h", "--output", "json"}, base...)...)
	if code != 0 {
		t.Fatalf("rotate-secret: %d %s", code, errOut)
	}
	var rot client.Webhook
	if err := json.Unmarshal([]byte(out), &rot); err != nil || *rot.Secret == *w.Secret || rot.PreviousSecretExpiresAt.IsNull() {
		t.Fatalf("rotate-secret output: %s (%v)", out, err)
	}
	out, _, code = runCLI(t, append([]string{"webhooks", "rotate-secret", "--uuid", id}, base...)...)
	if code != 0 || !strings.Contains(out, "Secret:") || !strings.Contains(out, "Old secret signs until:") {
		t.Fatalf("rotate-secret table: %d %s", code, out)
	}
	if _, _, code := runCLI(t, append([]string{"webhooks", "rotate-secret", id, "--grace", "200h"}, base...)...); code != exitUsage {
		t.Fatalf("--grace 200h: exit %d, want %d", code, exitUsage)
	}

	out, errOut, code = runCLI(t, append([]string{"webhooks", "test", id, "--event-type", "outbound.bounced", "--output", "json"}, base...)...)
	if code != 0 {
		t.Fatalf("test: %d %s", code, errOut)
	}
	var res client.TestResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Delivered || res.Status != "success" {
		t.Fatalf("test output: %s", out)
	}
	if got, _ := res.StatusCode.Get(); got != 200 {
		t.Fatalf("test status code = %d", got)
	}
	failing, _ := c.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "bad", URL: recv.URL + "/fail", Events: []client.SubscribableEventType{"outbound.delivered"}})
	out, _, code = runCLI(t, append([]string{"webhooks", "test", failing.UUID.String()}, base...)...)
	if code != 0 || !strings.Contains(out, "NOT delivered") || !strings.Contains(out, "HTTP 503") || !strings.Contains(out, "Error (http_status): HTTP 503") {
		t.Fatalf("test of a failing endpoint: %d %s", code, out)
	}
	if _, errOut, code := runCLI(t, append([]string{"webhooks", "test", "00000000-0000-4000-8000-000000000000"}, base...)...); code != 3 || !strings.Contains(errOut, "404") {
		t.Fatalf("test of an unknown webhook: exit %d, %s", code, errOut)
	}
	if hits.Load() != 2 {
		t.Fatalf("receiver got %d requests, want 2 (one per test)", hits.Load())
	}
}

func TestAccountsRotateKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jw.db")
	out, _, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Rot", "--json")
	if code != 0 {
		t.Fatal("create account failed")
	}
	var acc struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	json.Unmarshal([]byte(out), &acc)
	out, errOut, code := runCLI(t, "accounts", "rotate-key", "--db", db, "--id", acc.ID)
	newKey := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(newKey, "api_") || newKey == acc.APIKey {
		t.Fatalf("rotate-key: %d %q %s", code, out, errOut)
	}
	p := startServe(t, db)
	oldC, _ := client.New("http://"+p.addr, acc.APIKey)
	newC, _ := client.New("http://"+p.addr, newKey)
	if _, err := oldC.ListWebhooks(t.Context()); err == nil {
		t.Fatal("the old key still works after rotation")
	}
	if _, err := newC.ListWebhooks(t.Context()); err != nil {
		t.Fatalf("the new key does not work: %v", err)
	}
	if _, errOut, code := runCLI(t, "accounts", "rotate-key", "--db", db, "--id", "acc_nope"); code != exitFailure || !strings.Contains(errOut, "no account") {
		t.Fatalf("unknown account: exit %d %s", code, errOut)
	}
	if _, _, code := runCLI(t, "accounts", "rotate-key", "--db", db); code != exitUsage {
		t.Fatalf("missing --id: exit %d", code)
	}
}
