package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestSendEvent(t *testing.T) {
	e := newCLIEnv(t)
	var w webhookJSON
	e.whJSON(t, &w, "create", "--name", "Sink", "--url", "http://127.0.0.1:9/", "--event", "outbound.delivered", "--filter-user", "api-user")

	type result struct {
		Success    bool   `json:"success"`
		EventID    string `json:"event_id"`
		Deliveries int    `json:"deliveries"`
		Duplicate  *bool  `json:"duplicate"`
	}
	var r result
	o, er, code := e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--user", "api-user", "--output", "json")
	if code != 0 || jsonUnmarshal(o, &r) != nil || !r.Success || !strings.HasPrefix(r.EventID, "evt_") || r.Deliveries != 1 {
		t.Fatalf("send-event json: %d %q %q", code, o, er)
	}
	// The user filter: another user's event matches no webhook.
	r = result{}
	o, _, _ = e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--user", "other-user", "-o", "json")
	if jsonUnmarshal(o, &r) != nil || r.Deliveries != 0 {
		t.Fatalf("filtered event: %q", o)
	}

	// --data-file, and from stdin.
	file := filepath.Join(t.TempDir(), "data.json")
	os.WriteFile(file, []byte(`{"to": "user@example.com", "big": 12345678901234567, "nested": {"a": [1, 2]}}`), 0o600)
	o, er, code = e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--user", "api-user", "--id", "evt_file_1", "--source-uid", "m-file", "--data-file", file)
	if code != 0 || !strings.Contains(o, "Published event evt_file_1: 1 delivery queued.") {
		t.Fatalf("send-event table: %d %q %q", code, o, er)
	}
	var q queryJSON
	e.whJSON(t, &q, "query", "--event-id", "evt_file_1")
	if len(q.Events) != 1 || q.Events[0].SourceUID != "m-file" || q.Events[0].EventType != "outbound.delivered" {
		t.Fatalf("query of the published event: %+v", q)
	}
	var full struct {
		Events []struct {
			Payload map[string]any `json:"payload"`
		} `json:"events"`
	}
	o, _, _ = e.wh(t, "query", "--event-id", "evt_file_1", "-o", "json")
	if jsonUnmarshal(o, &full) != nil || full.Events[0].Payload["to"] != "user@example.com" {
		t.Fatalf("payload: %s", o)
	}

	// The same id again: a duplicate, nothing queued.
	o, _, code = e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--id", "evt_file_1")
	if code != 0 || !strings.Contains(o, "duplicate") {
		t.Fatalf("duplicate: %d %q", code, o)
	}
	r = result{}
	o, _, _ = e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--id", "evt_file_1", "-o", "json")
	if jsonUnmarshal(o, &r) != nil || r.Duplicate == nil || !*r.Duplicate || r.Deliveries != 0 {
		t.Fatalf("duplicate json: %q", o)
	}

	// Credentials from the environment; data from stdin.
	t.Setenv("JETWEBHOOKS_BASE_URL", e.base)
	t.Setenv("JETWEBHOOKS_INGEST_TOKEN", "test-ingest")
	cmd := newRootCmd()
	cmd.SetArgs([]string{"send-event", "--type", "outbound.delivered", "--account-id", e.accountID, "--user", "api-user", "--data-file", "-"})
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetIn(strings.NewReader(`{"from": "stdin"}`))
	if err := cmd.ExecuteContext(t.Context()); err != nil || !strings.Contains(out.String(), "1 delivery queued") {
		t.Fatalf("stdin data: %v %q", err, out.String())
	}
}
