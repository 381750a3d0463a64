package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

const bothVerified = "signature: verified (X-Webhook-Signature: ok; webhook-signature: ok)"

// TestTerminalLoop is the README's "From the terminal" loop: listen, create a
// webhook pointing at it, send-event, see it verified, query, replay.
func TestTerminalLoop(t *testing.T) {
	e := newCLIEnv(t)
	_, port := mustFree(t)
	url := "http://127.0.0.1:" + port + "/"

	var w webhookJSON
	e.whJSON(t, &w, "create", "--name", "Local listener", "--url", url, "--event", "outbound.delivered", "--filter-user", "api-user")
	// The secret from the environment, next to an old one (rotation).
	old, _ := signature.NewSecret()
	t.Setenv("JETWEBHOOKS_WEBHOOK_SECRET", old+","+*w.Secret)
	l := startListen(t, "--port", port)
	if l.url != url {
		t.Fatalf("listening on %s, want %s", l.url, url)
	}

	var pub struct {
		Success    bool   `json:"success"`
		EventID    string `json:"event_id"`
		Deliveries int    `json:"deliveries"`
	}
	o, er, code := e.send(t, "--type", "outbound.delivered", "--account-id", e.accountID, "--user", "api-user",
		"--source-uid", "message-uid-loop", "--source-action", "ACCEPTED", "--id", "evt_loop_1",
		"--data", `{"to": "user@example.com", "n": 1}`, "--output", "json")
	if code != 0 {
		t.Fatalf("send-event: %d %s", code, er)
	}
	if err := jsonUnmarshal(o, &pub); err != nil || pub.EventID != "evt_loop_1" || pub.Deliveries != 1 || !pub.Success {
		t.Fatalf("send-event output %q: %v", o, err)
	}

	waitFor(t, 15*time.Second, "the listener to print the verified event", func() bool {
		out := l.out.String()
		return strings.Contains(out, "outbound.delivered  evt_loop_1  (delivery #1") && strings.Contains(out, bothVerified)
	})
	out := l.out.String()
	for _, want := range []string{`"to": "user@example.com"`, `"type": "outbound.delivered"`, "<-- 200 OK"} {
		if !strings.Contains(out, want) {
			t.Fatalf("listener output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, *w.Secret) || strings.Contains(out, old) {
		t.Fatal("listen printed a secret")
	}

	q := e.waitQuery(t, "the delivery to be recorded as a success", func(q queryJSON) bool {
		return len(q.Events) == 1 && q.Events[0].LatestStatus == "success"
	}, "--event-id", "evt_loop_1")
	if ev := q.Events[0]; ev.UUID != w.UUID || ev.TotalAttempts != 1 || ev.LastResponseCode == nil || *ev.LastResponseCode != 200 || ev.SourceUID != "message-uid-loop" {
		t.Fatalf("query: %+v", ev)
	}

	var rep struct {
		Success    bool   `json:"success"`
		EventID    string `json:"event_id"`
		Status     string `json:"status"`
		Deliveries *int   `json:"deliveries"`
	}
	e.whJSON(t, &rep, "replay", "--event-id", "evt_loop_1")
	if !rep.Success || rep.EventID != "evt_loop_1" || rep.Status != "enqueued" || rep.Deliveries == nil || *rep.Deliveries != 1 {
		t.Fatalf("replay: %+v", rep)
	}
	waitFor(t, 15*time.Second, "the replayed event to arrive", func() bool {
		return strings.Contains(l.out.String(), "evt_loop_1  (delivery #2") && l.count(bothVerified) == 2
	})
	// Replay by source uid, to this webhook only, in the table format.
	o, _, code = e.wh(t, "replay", "--source-uid", "message-uid-loop", "--uuid", w.UUID)
	if code != 0 || !strings.Contains(o, "evt_loop_1") || !strings.Contains(o, "1 delivery") {
		t.Fatalf("replay by source uid: %d %q", code, o)
	}
	waitFor(t, 15*time.Second, "the third arrival", func() bool { return l.count(bothVerified) == 3 })
	// The history marks the record as replayed, in JSON and in the table.
	e.waitQuery(t, "the replayed delivery to be recorded", func(q queryJSON) bool {
		return len(q.Events) == 1 && q.Events[0].TotalAttempts == 3 && q.Events[0].Replayed
	}, "--event-id", "evt_loop_1")
	if o, _, code := e.wh(t, "query", "--event-id", "evt_loop_1"); code != 0 || !strings.Contains(o, "success (replayed)") {
		t.Fatalf("query table after a replay: %d\n%s", code, o)
	}

	if code := l.stop(); code != 0 {
		t.Fatalf("listen exit code %d after cancel", code)
	}
	if !strings.Contains(l.out.String(), "stopped") {
		t.Fatal("listen did not say it stopped")
	}
}

// TestListenRespond500Retries: --respond 500 makes the server retry on its
// schedule until the delivery is dead-lettered.
func TestListenRespond500Retries(t *testing.T) {
	e := newCLIEnv(t, "--retry-schedule", "0s,100ms,100ms")
	_, port := mustFree(t)
	var w webhookJSON
	e.whJSON(t, &w, "create", "--name", "Failing", "--url", "http://127.0.0.1:"+port+"/hook", "--event", "outbound.bounced")
	l := startListen(t, "--port", port, "--path", "/hook", "--secret", *w.Secret, "--respond", "500")

	if _, er, code := e.send(t, "--type", "outbound.bounced", "--account-id", e.accountID, "--id", "evt_retry_1"); code != 0 {
		t.Fatalf("send-event: %s", er)
	}
	waitFor(t, 15*time.Second, "three attempts at the listener", func() bool {
		return strings.Contains(l.out.String(), "evt_retry_1  (delivery #3")
	})
	if n := l.count("<-- 500 Internal Server Error"); n != 3 {
		t.Fatalf("%d answers of 500, want 3:\n%s", n, l.out.String())
	}
	if n := l.count(bothVerified); n != 3 {
		t.Fatalf("%d verified arrivals, want 3", n)
	}
	q := e.waitQuery(t, "the delivery to be dead-lettered", func(q queryJSON) bool {
		return len(q.Events) == 1 && q.Events[0].LatestStatus == "failed"
	}, "--event-id", "evt_retry_1", "--status", "failed")
	if ev := q.Events[0]; ev.TotalAttempts != 3 || ev.LastResponseCode == nil || *ev.LastResponseCode != 500 {
		t.Fatalf("query: %+v", ev)
	}
}

// TestListenForward: with --forward the listener re-POSTs the delivery and
// answers with the target's status.
func TestListenForward(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []http.Header
		body []string
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Clone())
		body = append(body, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer target.Close()

	e := newCLIEnv(t)
	_, port := mustFree(t)
	var w webhookJSON
	e.whJSON(t, &w, "create", "--name", "Forwarded", "--url", "http://127.0.0.1:"+port+"/", "--event", "inbound.received", "--filter-domain", "example.com")
	l := startListen(t, "--port", port, "--secret", *w.Secret, "--forward", target.URL+"/app/webhook")

	if _, er, code := e.send(t, "--type", "inbound.received", "--account-id", e.accountID, "--domain", "example.com", "--id", "evt_fwd_1", "--data", `{"subject":"hi"}`); code != 0 {
		t.Fatalf("send-event: %s", er)
	}
	waitFor(t, 15*time.Second, "the forwarded delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	h, b := got[0], body[0]
	mu.Unlock()
	v, _ := signature.NewVerifier([]string{*w.Secret})
	res, err := v.Verify(h, []byte(b))
	if err != nil || !res.JetEmail || !res.Standard || res.ID != "evt_fwd_1" {
		t.Fatalf("forwarded request does not verify: %+v %v\nheaders %v", res, err, h)
	}
	q := e.waitQuery(t, "the forward target's status in the history", func(q queryJSON) bool {
		return len(q.Events) == 1 && q.Events[0].LatestStatus == "success"
	}, "--event-id", "evt_fwd_1")
	if c := q.Events[0].LastResponseCode; c == nil || *c != http.StatusAccepted {
		t.Fatalf("last response code %v, want 202", c)
	}
	if !strings.Contains(l.out.String(), "<-- 202 Accepted (from "+target.URL+"/app/webhook)") {
		t.Fatalf("listener output:\n%s", l.out.String())
	}

	// A target that is down: 502, which the server retries.
	target.Close()
	resp := postSigned(t, l.url, *w.Secret, "evt_fwd_2", time.Now())
	if resp != http.StatusBadGateway {
		t.Fatalf("forward to a closed target answered %d, want 502", resp)
	}
}

// postSigned POSTs a small delivery signed with secret in both schemes at ts.
func postSigned(t *testing.T, url, secret, id string, ts time.Time) int {
	t.Helper()
	body := []byte(`{"id":"` + id + `","service":"outbound","type":"outbound.delivered","created_at":1,"data":{}}`)
	key, err := signature.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	sec := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set(signature.HeaderID, id)
	req.Header.Set(signature.HeaderTimestamp, sec)
	req.Header.Set(signature.HeaderSignature, signature.JetEmailSignature(secret, body))
	req.Header.Set(signature.StdHeaderID, id)
	req.Header.Set(signature.StdHeaderTimestamp, sec)
	req.Header.Set(signature.StdHeaderSignature, signature.StandardSignature(key, id, ts.Unix(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestListenVerification drives the listener directly: what it accepts,
// what it refuses and what it says about each scheme.
func TestListenVerification(t *testing.T) {
	secret, _ := signature.NewSecret()
	l := startListen(t, "--port", "0", "--secret", secret, "--tolerance", "1m", "--respond", "204")

	if code := postSigned(t, l.url, secret, "evt_ok", time.Now()); code != http.StatusNoContent {
		t.Fatalf("valid delivery: %d, want the --respond 204", code)
	}
	other, _ := signature.NewSecret()
	if code := postSigned(t, l.url, other, "evt_wrong_secret", time.Now()); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d, want 401", code)
	}
	if code := postSigned(t, l.url, secret, "evt_stale", time.Now().Add(-10*time.Minute)); code != http.StatusUnauthorized {
		t.Fatalf("stale timestamp: %d, want 401", code)
	}
	// Only the JetEmail scheme present.
	body := `{"id":"evt_jet_only","type":"outbound.opened"}`
	req, _ := http.NewRequest(http.MethodPost, l.url, strings.NewReader(body))
	req.Header.Set(signature.HeaderID, "evt_jet_only")
	req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set(signature.HeaderSignature, signature.JetEmailSignature(secret, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("JetEmail-only delivery: %d", resp.StatusCode)
	}
	// Not a POST, wrong path, no signature at all.
	if resp, err := http.Get(l.url); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp, err)
	}
	if resp, err := http.Post(l.url+"elsewhere", "application/json", strings.NewReader("{}")); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other path: %v %v", resp, err)
	}
	if resp, err := http.Post(l.url, "text/plain", strings.NewReader("not json")); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned: %v %v", resp, err)
	}

	out := l.out.String()
	for _, want := range []string{
		"evt_ok  (delivery #1", bothVerified, "<-- 204 No Content",
		"evt_wrong_secret", "FAILED: invalid webhook signature",
		"X-Webhook-Signature: invalid webhook signature: X-Webhook-Signature does not match; webhook-signature: invalid webhook signature: webhook-signature does not match",
		"evt_stale", "webhook timestamp outside tolerance",
		"signature: verified (X-Webhook-Signature: ok; webhook-signature: absent)",
		"<-- 401 Unauthorized (signature verification failed)",
		"GET /: 405", "/elsewhere: 404", `(not JSON, 8 bytes) "not json"`,
		"timestamp tolerance 1m0s; answering 204",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("listener output lacks %q", want)
		}
	}
	if strings.Contains(out, secret) {
		t.Error("listen printed the secret")
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestListenUsageErrors(t *testing.T) {
	t.Setenv("JETWEBHOOKS_WEBHOOK_SECRET", "")
	sec, _ := signature.NewSecret()
	for _, args := range [][]string{
		{"--port", "0"},
		{"--port", "0", "--secret", " , "},
		{"--port", "70000", "--secret", sec},
		{"--port", "0", "--secret", sec, "--respond", "99"},
		{"--port", "0", "--secret", sec, "--respond", "600"},
		{"--port", "0", "--secret", sec, "--path", "hook"},
		{"--port", "0", "--secret", sec, "--forward", "not a url"},
		{"--port", "0", "--secret", sec, "--forward", "http://127.0.0.1:1/", "--respond", "500"},
		{"--port", "0", "--secret", sec, "--tolerance", "soon"},
		{"--port", "0", "--secret", sec, "extra"},
	} {
		_, errOut, code := runCLI(t, append([]string{"listen"}, args...)...)
		if code != exitUsage {
			t.Errorf("listen %v: exit %d (want %d), %q", args, code, exitUsage, errOut)
		}
		if strings.Contains(errOut, sec) {
			t.Errorf("listen %v: stderr shows the secret", args)
		}
	}
	// A port in use is a runtime failure.
	l := startListen(t, "--port", "0", "--secret", sec)
	port := l.url[strings.LastIndex(l.url, ":")+1 : len(l.url)-1]
	if _, errOut, code := runCLI(t, "listen", "--port", port, "--secret", sec); code != exitFailure || !strings.Contains(errOut, "address already in use") {
		t.Errorf("port in use: exit %d, %q", code, errOut)
	}
}
