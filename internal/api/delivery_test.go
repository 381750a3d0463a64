package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// bigData is event data whose numbers a float64 cannot hold.
const bigData = `{"amount":12345678901234567890,"negative":-98765432109876543210,"precise":0.1000000000000000055511151231257827,"nested":{"ids":[18446744073709551617]}}`

// bigDigits must survive every hop byte for byte.
var bigDigits = []string{"12345678901234567890", "-98765432109876543210", "0.1000000000000000055511151231257827", "18446744073709551617"}

// TestEventDataKeepsEveryDigit: data is carried as raw JSON from publish to
// the query's payload and to the delivered body; numbers are never rounded
// through float64.
func TestEventDataKeepsEveryDigit(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	ctx := t.Context()
	rcv := newReceiver(t, http.StatusOK, "")
	e.hookTo(e.A, "Big Numbers", rcv.URL, "outbound.delivered")

	raw := json.RawMessage(bigData)
	if _, err := e.ingest.PublishEvent(ctx, client.Event{ID: client.Ptr("evt_big_single"), AccountID: e.A.ID, Type: "outbound.delivered", Data: &raw}); err != nil {
		t.Fatal(err)
	}
	// The batch path, with the data given as a Go value holding a
	// json.Number (client.MustData).
	data := client.MustData(map[string]any{"amount": json.Number("12345678901234567890")})
	if _, err := e.ingest.PublishEvents(ctx, []client.Event{{ID: client.Ptr("evt_big_batch"), AccountID: e.A.ID, Type: "outbound.delivered", Data: data}}); err != nil {
		t.Fatal(err)
	}

	// The query's payload, raw on the wire and through the client.
	resp := e.do(rawReq{method: "POST", path: "/webhooks/query", body: `{"event_id":"evt_big_single"}`})
	for _, d := range bigDigits {
		if !strings.Contains(string(resp.body), d) {
			t.Errorf("query answer lost %s: %s", d, resp.body)
		}
	}
	rec := e.testRecord(e.A, "evt_big_single")
	if !jsonEqualExact(t, rec.Payload, []byte(bigData)) {
		t.Errorf("payload = %s, want %s", rec.Payload, bigData)
	}
	if rec := e.testRecord(e.A, "evt_big_batch"); !jsonEqualExact(t, rec.Payload, []byte(`{"amount":12345678901234567890}`)) {
		t.Errorf("batch payload = %s", rec.Payload)
	}

	// The delivered body.
	e.runEngine()
	waitFor(t, "two deliveries", func() bool { return len(rcv.requests()) >= 2 })
	byID := map[string][]byte{}
	for _, d := range rcv.requests() {
		var env struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(d.body, &env); err != nil {
			t.Fatalf("delivered body: %v; %s", err, d.body)
		}
		byID[env.ID] = env.Data
	}
	// The spec promises the data as sent: the same members with the same
	// number literals (TestEventDataDeliveredAsSent checks the bytes).
	got := byID["evt_big_single"]
	for _, d := range bigDigits {
		if !bytes.Contains(got, []byte(d)) {
			t.Errorf("delivered data lost %s: %s", d, got)
		}
	}
	if !jsonEqualExact(t, got, []byte(bigData)) {
		t.Errorf("delivered data = %s, want %s", got, bigData)
	}
	if got := byID["evt_big_batch"]; !bytes.Equal(got, []byte(`{"amount":12345678901234567890}`)) {
		t.Errorf("delivered batch data = %s", got)
	}
}

// jsonEqualExact compares two JSON texts as values with numbers kept as
// their literal text.
func jsonEqualExact(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(x []byte) any {
		dec := json.NewDecoder(bytes.NewReader(x))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("not JSON: %v; %s", err, x)
		}
		return v
	}
	return mustJSON(t, decode(a)) == mustJSON(t, decode(b))
}

// TestAutoDisabledWebhook: an endpoint that answers 410 Gone is disabled by
// the service, which the webhook reports (disabled_reason, disabled_at)
// until it is enabled again.
func TestAutoDisabledWebhook(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	ctx := t.Context()
	rcv := newReceiver(t, http.StatusGone, "")
	w := e.hookTo(e.A, "Going Away", rcv.URL, "outbound.delivered")
	e.runEngine()
	e.publish(ingestEvent(e.A.ID, "evt_to_a_gone_endpoint"))
	var got *client.Webhook
	waitFor(t, "the webhook to be disabled", func() bool {
		got = e.get(e.A, w.UUID)
		return got.Status == "disabled"
	})
	if reason, err := got.DisabledReason.Get(); err != nil || !strings.Contains(reason, "410") {
		t.Errorf("disabled_reason = %q (%v), want the 410", reason, err)
	}
	if at, err := got.DisabledAt.Get(); err != nil || at <= 0 {
		t.Errorf("disabled_at = %d (%v)", at, err)
	}
	if n := len(rcv.requests()); n != 1 {
		t.Errorf("a 410 was retried: %d requests", n)
	}
	list, err := e.A.C.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0].DisabledReason, got.DisabledReason) || !reflect.DeepEqual(list[0].DisabledAt, got.DisabledAt) {
		t.Errorf("list: %+v, %v", list, err)
	}
	// Enabling it again clears the reason.
	if err := e.A.C.UpdateWebhook(ctx, client.UpdateWebhookRequest{UUID: w.UUID, Status: client.Status(true)}); err != nil {
		t.Fatal(err)
	}
	got = e.get(e.A, w.UUID)
	if got.Status != "enabled" || !got.DisabledReason.IsNull() || !got.DisabledAt.IsNull() {
		t.Errorf("after re-enabling: %+v", got)
	}
}

// TestNewChecksConfig: api.New refuses a missing publisher, a missing
// egress policy and an ingest token hash that is not a SHA-256; a valid hash
// authorises the token it is the hash of.
func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pub := &ingest.Publisher{}
	if _, err := api.New(ctx, api.Config{Egress: egress.NewPolicy(nil)}, nil, nil); err == nil {
		t.Error("New without a publisher: no error")
	}
	if _, err := api.New(ctx, api.Config{}, nil, pub); err == nil {
		t.Error("New without an egress policy: no error")
	}
	for _, n := range []int{0, 1, 16, 31, 33, 64} {
		if _, err := api.New(ctx, api.Config{Egress: egress.NewPolicy(nil), IngestTokenHash: make([]byte, n)}, nil, pub); err == nil {
			t.Errorf("New with a %d-byte IngestTokenHash: no error", n)
		}
	}

	const token = "hashed-ingest-token-0123456789"
	sum := sha256.Sum256([]byte(token))
	e := newEnvWith(t, func(c *api.Config) { c.IngestToken, c.IngestTokenHash = "", sum[:] })
	ev := `{"account_id":"` + e.A.ID + `","type":"outbound.queued"}`
	if r := e.do(rawReq{method: "POST", path: "/events", body: ev, header: bearer(token)}); r.status != http.StatusAccepted {
		t.Errorf("publish with the hashed token: %d %s, want 202", r.status, r.body)
	}
	if r := e.do(rawReq{method: "POST", path: "/events", body: ev, header: bearer(testIngestToken)}); r.status != http.StatusUnauthorized {
		t.Errorf("publish with another token: %d, want 401", r.status)
	}
	// Without either, ingest over HTTP is refused.
	e2 := newEnvWith(t, func(c *api.Config) { c.IngestToken = "" })
	if r := e2.do(rawReq{method: "POST", path: "/events", body: `{"account_id":"` + e2.A.ID + `","type":"outbound.queued"}`, header: bearer(testIngestToken)}); r.status != http.StatusUnauthorized {
		t.Errorf("publish to a server without an ingest token: %d, want 401", r.status)
	}
}

// TestEventDataDeliveredAsSent: the producer's data reaches the receiver as
// it was sent, only compacted: member order, HTML characters and escapes,
// unicode and numbers beyond float64, on the single and the batch endpoint,
// and the signatures verify over exactly the bytes delivered.
func TestEventDataDeliveredAsSent(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	rcv := newReceiver(t, http.StatusOK, "")
	hook := e.hookTo(e.A, "As Sent", rcv.URL, "outbound.delivered")
	const sent = `{ "zeta": 1, "alpha": { "html": "<b>Tom & Jerry</b> <script>", "esc": "\u003c\/p\u003e \" \\" },
		"amount": 123456789012345678901234567890.000000000000000000001, "uni": "héllo ✓ 😀 \ud83d\ude00",
		"order": [3, 1, 2], "Beta": true, "beta": null }`
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(sent)); err != nil {
		t.Fatal(err)
	}
	single := `{"id":"evt_as_sent_1","account_id":"` + e.A.ID + `","type":"outbound.delivered","user":"api-user","data":` + sent + `}`
	e.doJSON(rawReq{method: "POST", path: "/events", body: single, header: bearer(testIngestToken)}, http.StatusAccepted)
	batch := `{"events":[{"id":"evt_as_sent_2","account_id":"` + e.A.ID + `","type":"outbound.delivered","user":"api-user","data":` + sent + `}]}`
	e.doJSON(rawReq{method: "POST", path: "/events/batch", body: batch, header: bearer(testIngestToken)}, http.StatusAccepted)

	e.runEngine()
	waitFor(t, "two deliveries", func() bool { return len(rcv.requests()) >= 2 })
	v, err := signature.NewVerifier([]string{*e.get(e.A, hook.UUID).Secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rcv.requests() {
		if !bytes.Contains(d.body, []byte(`,"data":`+compact.String()+`}`)) {
			t.Errorf("delivered body\n %s\ndoes not carry the data as sent\n %s", d.body, compact.String())
		}
		if _, err := v.Verify(d.header, d.body); err != nil {
			t.Errorf("signature over the delivered bytes: %v", err)
		}
	}
}
