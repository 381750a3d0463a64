package api_test

// FuzzPostBodies fuzzes the raw body of every operation that takes one,
// through the whole Echo stack (api.API.ServeHTTP with a recorder: no
// network). Whatever the body, the API must not panic or answer 5xx, must
// answer JSON, and every answer must match the spec (2xx bodies validated
// against their schemas, errors against the Error schema, and no Go error
// text). Query answers must never show the other account's records.
//
// One environment serves every execution: a SQLite store in a temp dir,
// account A (whose webhooks and events the requests name), account B (whose
// data must never show), and account C, which alone creates webhooks, so
// that a long run of creates does not make A's ingests ever slower. Test
// sends go through the real delivery engine to a webhook on a closed
// loopback port, which fails at once. Run the seeds with go test, or fuzz:
//
//	go test ./internal/api/ -run '^$' -fuzz FuzzPostBodies -fuzztime 60s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// fuzzOp is one operation whose body is fuzzed.
type fuzzOp struct {
	id, method, path string
	token            string
}

// fuzzEnv is the one environment every execution shares.
type fuzzEnv struct {
	h       http.Handler
	ops     []fuzzOp
	hookA   string // A's webhook for PATCH
	testA   string // A's webhook on a closed port, for rotate and test
	a, b, c string // account ids
	keyA    string
	// bOnly are B's identifiers, which no answer to A may contain.
	bOnly []string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	ctx := f.Context()
	st, err := sqlitestore.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), sqlitestore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	now := time.Unix(startUnix, 0)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Only 127.0.0.1 is reachable, and only the closed port is named.
	policy := egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	engine, err := delivery.New(st, delivery.Config{
		Client: policy.NewClient(time.Second), Timeout: time.Second, Schedule: testSchedule, Jitter: -1,
		PollInterval: time.Hour, Logger: logger,
	})
	if err != nil {
		f.Fatal(err)
	}
	a, err := api.New(ctx, api.Config{IngestToken: testIngestToken, Egress: policy, Logger: logger, Now: clock,
		RateLimit: -1, Tester: engine}, st, &ingest.Publisher{Store: st, Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	accA, keyA, err := accounts.Create(ctx, st, "Fuzz A", []string{"api-user"}, []string{"example.com"}, now)
	if err != nil {
		f.Fatal(err)
	}
	accB, keyB, err := accounts.Create(ctx, st, "Fuzz B", []string{"b-user"}, []string{"b.example.net"}, now)
	if err != nil {
		f.Fatal(err)
	}
	accC, keyC, err := accounts.Create(ctx, st, "Fuzz C", []string{"c-user"}, []string{"c.example.net"}, now)
	if err != nil {
		f.Fatal(err)
	}
	// A port that was just open and is closed now: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	fe := &fuzzEnv{h: a, a: accA.ID, b: accB.ID, c: accC.ID, keyA: keyA}
	setup := func(key, path, body string, want int) map[string]any {
		f.Helper()
		rec := fe.serve(http.MethodPost, path, body, key)
		if rec.Code != want {
			f.Fatalf("setup %s %s: %d %s", path, body, rec.Code, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			f.Fatal(err)
		}
		return m
	}
	uuidOf := func(m map[string]any) string { return m["webhook"].(map[string]any)["uuid"].(string) }
	fe.hookA = uuidOf(setup(keyA, "/webhooks", `{"name":"Fuzz Patch","url":"https://example.com/fuzz","events":["outbound.delivered","inbound.received"]}`, 200))
	fe.testA = uuidOf(setup(keyA, "/webhooks", `{"name":"Fuzz Test","url":"http://`+closed+`/hook","events":["outbound.bounced"]}`, 200))
	hookB := uuidOf(setup(keyB, "/webhooks", `{"name":"Fuzz B Private","url":"https://example.com/b-private","events":["outbound.delivered"]}`, 200))
	setup(testIngestToken, "/events", `{"id":"evt_fuzz_a","account_id":"`+accA.ID+`","type":"outbound.delivered","user":"api-user","source_uid":"msg-fuzz-a","data":{"to":"x@example.com"}}`, 202)
	setup(testIngestToken, "/events", `{"id":"evt_fuzz_b_private","account_id":"`+accB.ID+`","type":"outbound.delivered","user":"b-user","source_uid":"msg-fuzz-b-private"}`, 202)
	fe.bOnly = []string{hookB, "evt_fuzz_b_private", "msg-fuzz-b-private", "Fuzz B Private", "b-private", accB.ID}

	fe.ops = []fuzzOp{
		{"createWebhook", "POST", "/webhooks", keyC},
		{"updateWebhook", "PATCH", "/webhooks", keyA},
		{"queryWebhookEvents", "POST", "/webhooks/query", keyA},
		{"replayWebhookEvent", "POST", "/webhooks/replay", keyA},
		{"ingestEvent", "POST", "/events", testIngestToken},
		{"ingestEventBatch", "POST", "/events/batch", testIngestToken},
		{"rotateWebhookSecret", "POST", "/webhooks/" + fe.testA + "/rotate-secret", keyA},
		{"testWebhook", "POST", "/webhooks/" + fe.testA + "/test", keyA},
	}
	return fe
}

func (fe *fuzzEnv) request(method, path, body, token string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func (fe *fuzzEnv) serve(method, path, body, token string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fe.h.ServeHTTP(rec, fe.request(method, path, body, token))
	return rec
}

// seeds returns, per operation, the spec's example, real valid bodies and a
// few invalid ones.
func (fe *fuzzEnv) seeds(f *testing.F) map[string][]string {
	f.Helper()
	spec, err := apiserver.GetSpec()
	if err != nil {
		f.Fatal(err)
	}
	out := map[string][]string{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil || mt.Example == nil {
				continue
			}
			b, err := json.Marshal(mt.Example)
			if err != nil {
				f.Fatal(err)
			}
			id := normalOpID(op.OperationID)
			out[id] = append(out[id], string(b))
		}
	}
	ev := func(extra string) string {
		return `{"account_id":"` + fe.a + `","type":"outbound.delivered","user":"api-user"` + extra + `}`
	}
	invalid := []string{``, `{`, `null`, `[]`, `{"a":1,"a":2}`, strings.Repeat("[", 40) + strings.Repeat("]", 40), `{"x":1} {}`, "{\"\x00\":\"\xff\"}",
		`{"a":"\ud800"}`, `{"a":1e999999}`, `{"limit":1.0,"status":0.5,"name":"a\nb"}`}
	more := map[string][]string{
		"createWebhook": {
			`{"name":"Fuzz Created","url":"https://example.com/created","events":["outbound.delivered"],"status":0}`,
			`{"name":"Fuzz Filtered","url":"https://example.com/f","events":["inbound.received"],"filter_users":["c-user"],"filter_domains":["C.EXAMPLE.NET"]}`,
			`{"name":"Loopback","url":"http://127.0.0.1:1/","events":["outbound.spam"],"filter_users":null}`,
			`{"name":"x","url":"http://[::1]/","events":["outbound.delivered"],"status":null}`,
		},
		"updateWebhook": {
			`{"uuid":"` + fe.hookA + `","name":"Fuzz Patched","status":1}`,
			`{"uuid":"` + fe.hookA + `","filter_users":["api-user"],"filter_domains":null,"events":["outbound.delivered"]}`,
			`{"uuid":"` + strings.ToUpper(fe.hookA) + `","url":"https://example.com/fuzz"}`,
			`{"uuid":"` + fe.hookA + `","filter_users":["b-user"]}`,
		},
		"queryWebhookEvents": {
			`{}`, `{"limit":1000,"offset":0}`, `{"event_id":"evt_fuzz_a"}`, `{"source_uid":"msg-fuzz-a","status":"delivered"}`,
			`{"uuid":"` + fe.hookA + `","event_type":"outbound.delivered","date_from":0,"date_to":9223372036854775807}`,
			`{"event_id":"evt_fuzz_b_private"}`, `{"limit":1e309}`, `{"date_from":4611686018427387904}`, `{"event_id":"a\u0000"}`,
		},
		"replayWebhookEvent": {
			`{"event_id":"evt_fuzz_a"}`, `{"source_uid":"msg-fuzz-a","uuid":"` + fe.hookA + `"}`,
			`{"event_id":"evt_fuzz_b_private"}`, `{"event_id":"x","source_uid":"y"}`, `{"source_uid":"\u0000"}`,
		},
		"ingestEvent": {
			ev(``), ev(`,"id":"evt_fuzz_seed","source_uid":"m","source_action":"ACCEPTED","created_at":1736524800,"data":{"n":1e400,"s":"\u0000"}`),
			`{"account_id":"` + fe.a + `","type":"inbound.received","domain":"EXAMPLE.COM"}`,
			`{"account_id":"` + fe.a + `","type":"outbound.queued"}`,
			ev(`,"data":` + strings.Repeat(`{"k":`, 31) + `1` + strings.Repeat(`}`, 31)),
			ev(`,"source_action":"A\u0000"`), `{"account_id":"acc_unknown","type":"outbound.delivered"}`,
		},
		"ingestEventBatch": {
			`{"events":[` + ev(``) + `]}`,
			`{"events":[` + ev(`,"id":"evt_fuzz_dup"`) + `,` + ev(`,"id":"evt_fuzz_dup"`) + `]}`,
			`{"events":[` + ev(``) + `,{"account_id":"` + fe.b + `","type":"outbound.delivered","user":"b-user"}]}`,
			`{"events":[]}`,
		},
		"rotateWebhookSecret": {``, `{}`, `{"grace_period":0}`, `{"grace_period":604800}`, `{"grace_period":null}`},
		"testWebhook":         {``, `{}`, `{"event_type":"inbound.blocked"}`, `{"event_type":"outbound.queued"}`},
	}
	for id, bodies := range more {
		out[id] = append(out[id], bodies...)
		out[id] = append(out[id], invalid...)
	}
	return out
}

func FuzzPostBodies(f *testing.F) {
	fe := newFuzzEnv(f)
	seeds := fe.seeds(f)
	for i, op := range fe.ops {
		if len(seeds[op.id]) == 0 {
			f.Fatalf("no seeds for %s", op.id)
		}
		for _, s := range seeds[op.id] {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		op := fe.ops[int(which)%len(fe.ops)]
		req := fe.request(op.method, op.path, string(body), op.token)
		rec := httptest.NewRecorder()
		fe.h.ServeHTTP(rec, req) // a panic that escapes the recover middleware fails the run
		resp := rec.Result()
		got := rec.Body.Bytes()
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", op.id, body, rec.Code, got)
		}
		if !json.Valid(got) {
			t.Fatalf("%s %q: %d, not JSON: %q", op.id, body, rec.Code, got)
		}
		if err := checkContractEchoing(req, resp, got, body); err != nil {
			t.Fatalf("%s %q: %d: contract: %v\n%s", op.id, body, rec.Code, err, got)
		}
		if rec.Code < 300 {
			for _, s := range fe.bOnly {
				if bytes.Contains(got, []byte(s)) && !bytes.Contains(body, []byte(s)) {
					t.Fatalf("%s %q: the answer shows B's %q: %s", op.id, body, s, got)
				}
			}
		}
		if op.id == "queryWebhookEvents" && rec.Code == http.StatusOK {
			checkQueryScope(t, got, fe)
		}
	})
}

// checkQueryScope: every record of A's query is of one of A's webhooks (or of
// no webhook B has).
func checkQueryScope(t *testing.T, got []byte, fe *fuzzEnv) {
	t.Helper()
	var res struct {
		Events []struct {
			ID   string `json:"id"`
			UUID string `json:"uuid"`
		} `json:"events"`
	}
	if err := json.Unmarshal(got, &res); err != nil {
		t.Fatalf("query answer: %v", err)
	}
	for _, r := range res.Events {
		for _, s := range fe.bOnly {
			if r.ID == s || r.UUID == s {
				t.Fatalf("A's query returned B's record %s", fmt.Sprint(r))
			}
		}
	}
}
