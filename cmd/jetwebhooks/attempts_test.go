package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWebhooksAttemptsShowWhy: against a real `serve`, one event goes to four
// failing receivers; `webhooks query` shows each last failure compactly,
// `webhooks attempts` lists every attempt with its class, status, message
// and body excerpt (as a table and as JSON), and the server's log has one
// info line per failed attempt without the secret or the body.
func TestWebhooksAttemptsShowWhy(t *testing.T) {
	e := newCLIEnv(t, "--retry-schedule", "0s,100ms,100ms", "--delivery-timeout", "500ms")

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "database is down\nretry later")
	}))
	t.Cleanup(failing.Close)
	// The hanging receiver reads the request (so its context ends when the
	// server gives up and closes the connection) and never answers.
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(stop) })
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/new-hook", http.StatusFound)
	}))
	t.Cleanup(moved.Close)
	_, closed := mustFree(t)

	type target struct {
		url, class, status, msg, body string
		uuid, secret                  string
	}
	targets := map[string]*target{
		"Failing": {url: failing.URL + "/hook", class: "http_status", status: "500", msg: "HTTP 500", body: "database is down retry later"},
		"Hanging": {url: hanging.URL + "/hook", class: "timeout", status: "-", msg: "timed out after 500ms", body: "-"},
		"Closed":  {url: "http://127.0.0.1:" + closed + "/hook", class: "connection_refused", status: "-", msg: "connection refused", body: "-"},
		"Moved": {url: moved.URL + "/hook", class: "redirect", status: "302",
			msg: "HTTP 302 redirect not followed: Location https://example.com/new-hook", body: "-"},
	}
	for name, tg := range targets {
		var w webhookJSON
		e.whJSON(t, &w, "create", "--name", name, "--url", tg.url, "--event", "outbound.bounced")
		tg.uuid, tg.secret = w.UUID, *w.Secret
	}
	if _, er, code := e.send(t, "--type", "outbound.bounced", "--account-id", e.accountID, "--id", "evt_why_1",
		"--data", `{"to":"private-recipient@example.com"}`); code != 0 {
		t.Fatalf("send-event: %s", er)
	}
	e.waitQuery(t, "all four deliveries to be dead-lettered", func(q queryJSON) bool {
		return len(q.Events) == 4
	}, "--event-id", "evt_why_1", "--status", "failed")

	// The query table: one compact "class: message" per record.
	out, _, code := e.wh(t, "query", "--event-id", "evt_why_1")
	if code != 0 {
		t.Fatalf("query: exit %d", code)
	}
	for name, tg := range targets {
		want := tg.class + ": " + tg.msg
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, tg.uuid) {
				found = strings.Contains(line, want) && strings.Contains(line, "(retries exhausted; dead-lettered)")
			}
		}
		if !found {
			t.Errorf("%s: the query table has no row for %s showing %q:\n%s", name, tg.uuid, want, out)
		}
	}

	for name, tg := range targets {
		out, er, code := e.wh(t, "attempts", tg.uuid, "evt_why_1")
		if code != 0 {
			t.Fatalf("%s: attempts: exit %d: %s", name, code, er)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "# TIME DURATION STATUS CLASS ERROR RESPONSE BODY" {
			t.Fatalf("%s: attempts table:\n%s", name, out)
		}
		for i, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) < 6 || f[0] != string(rune('1'+i)) || f[3] != tg.status || f[4] != tg.class {
				t.Errorf("%s: attempt row %d = %q, want #%d, status %s, class %s", name, i+1, line, i+1, tg.status, tg.class)
			}
			if !strings.Contains(line, tg.msg) || !strings.HasSuffix(strings.TrimSpace(line), tg.body) {
				t.Errorf("%s: attempt row %d = %q, want %q and body %q", name, i+1, line, tg.msg, tg.body)
			}
			if _, err := time.Parse(time.RFC3339, f[1]); err != nil {
				t.Errorf("%s: attempt row %d time %q: %v", name, i+1, f[1], err)
			}
		}

		var as []struct {
			Attempt      int     `json:"attempt"`
			StatusCode   *int    `json:"status_code"`
			ErrorClass   *string `json:"error_class"`
			Error        *string `json:"error"`
			ResponseBody string  `json:"response_body"`
			DurationMs   *int64  `json:"duration_ms"`
		}
		e.whJSON(t, &as, "attempts", tg.uuid, "evt_why_1")
		if len(as) != 3 {
			t.Fatalf("%s: %d attempts in JSON, want 3", name, len(as))
		}
		for i, a := range as {
			if a.Attempt != i+1 || a.ErrorClass == nil || *a.ErrorClass != tg.class || a.Error == nil || !strings.HasPrefix(*a.Error, tg.msg) ||
				(tg.status == "-") != (a.StatusCode == nil) || a.DurationMs == nil {
				t.Errorf("%s: JSON attempt %d = %+v", name, i+1, a)
			}
		}
		if name == "Failing" && as[0].ResponseBody != "database is down\nretry later" {
			t.Errorf("JSON response_body = %q, want the receiver's answer", as[0].ResponseBody)
		}
	}

	// The server's log: one info line per failed attempt, with the webhook,
	// the event, the attempt number, the class and the status; never the
	// secret, a signature or the payload.
	logs := e.p.output()
	for name, tg := range targets {
		for n := 1; n <= 3; n++ {
			found := false
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, "delivery attempt failed") && strings.Contains(line, "webhook="+tg.uuid) &&
					strings.Contains(line, "event=evt_why_1") && strings.Contains(line, "attempt="+string(rune('0'+n))) &&
					strings.Contains(line, "class="+tg.class) && strings.Contains(line, "level=INFO") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no info log line for attempt %d:\n%s", name, n, logs)
			}
		}
		for _, leak := range []string{tg.secret, strings.TrimPrefix(tg.secret, "whsec_")} {
			if strings.Contains(logs, leak) {
				t.Errorf("the server log holds %s's secret", name)
			}
		}
	}
	for _, leak := range []string{"private-recipient", "v1,", "database is down"} {
		if strings.Contains(logs, leak) {
			t.Errorf("the server log holds %q:\n%s", leak, logs)
		}
	}

	// Mistakes: a usage error, and a delivery that does not exist.
	if _, _, code := e.wh(t, "attempts", targets["Failing"].uuid); code != 2 {
		t.Errorf("attempts with one argument: exit %d, want 2", code)
	}
	if _, er, code := e.wh(t, "attempts", targets["Failing"].uuid, "evt_nobody"); code != 3 || !strings.Contains(er, "Delivery not found") {
		t.Errorf("attempts of an unknown event: exit %d, %q; want 3 and the server's message", code, er)
	}
}
