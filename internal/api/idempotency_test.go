package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func idemKey(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

func withHeader(h http.Header, more http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// TestIdempotentCreate: Stripe's semantics on POST /webhooks.
func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	body := `{"name":"Once Only","url":"https://example.com/webhook","events":["outbound.delivered"]}`

	first := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("create-1")})
	if first.status != http.StatusOK || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first create: %d (replayed %q) %s", first.status, first.header.Get("Idempotent-Replayed"), first.body)
	}
	e.clock.Advance(time.Hour)
	second := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("create-1")})
	if second.status != http.StatusOK || second.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat: %d, Idempotent-Replayed %q; want 200 and true", second.status, second.header.Get("Idempotent-Replayed"))
	}
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("repeat answered\n %s\nnot the first answer\n %s", second.body, first.body)
	}
	if list, err := e.A.C.ListWebhooks(ctx); err != nil || len(list) != 1 {
		t.Fatalf("after a repeated create: %d webhooks (%v), want 1", len(list), err)
	}

	// Through the client: the same key and request give the same webhook.
	req := createReq("Client Retry")
	w1, err := e.A.C.CreateWebhook(ctx, req, client.WithIdempotencyKey("client-key"))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := e.A.C.CreateWebhook(ctx, req, client.WithIdempotencyKey("client-key"))
	if err != nil {
		t.Fatal(err)
	}
	if w1.UUID != w2.UUID || *w1.Secret != *w2.Secret {
		t.Errorf("retried create made another webhook: %s, %s", w1.UUID, w2.UUID)
	}

	// The same key with another body: 409, and nothing created.
	r := e.do(rawReq{method: "POST", path: "/webhooks", header: idemKey("create-1"),
		body: `{"name":"Something Else","url":"https://example.com/webhook","events":["outbound.delivered"]}`})
	if r.status != http.StatusConflict || !strings.Contains(string(r.body), "different request") {
		t.Errorf("same key, other body: %d %s, want 409", r.status, r.body)
	}
	var apiErr *client.Error
	if _, err := e.A.C.CreateWebhook(ctx, createReq("Another"), client.WithIdempotencyKey("client-key")); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
		t.Errorf("client: same key, other request: %v, want 409", err)
	}
	if list, _ := e.A.C.ListWebhooks(ctx); len(list) != 2 {
		t.Errorf("%d webhooks, want 2", len(list))
	}

	// Keys are per account: B may use A's key and gets a webhook of its own.
	rb := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: withHeader(bearer(e.B.Key), idemKey("create-1"))})
	if rb.status != http.StatusOK || rb.header.Get("Idempotent-Replayed") != "" || bytes.Equal(rb.body, first.body) {
		t.Errorf("B with A's key: %d replayed %q", rb.status, rb.header.Get("Idempotent-Replayed"))
	}
	if list, _ := e.B.C.ListWebhooks(ctx); len(list) != 1 {
		t.Errorf("B has %d webhooks, want 1", len(list))
	}

	// Without a key, two creates are two webhooks.
	e.create(e.A, createReq("No Key"))
	e.create(e.A, createReq("No Key"))
	if list, _ := e.A.C.ListWebhooks(ctx); len(list) != 4 {
		t.Errorf("%d webhooks, want 4", len(list))
	}

	// After 24 hours the key is forgotten: a new request may use it.
	e.clock.Advance(24 * time.Hour)
	r = e.do(rawReq{method: "POST", path: "/webhooks", header: idemKey("create-1"),
		body: `{"name":"A Day Later","url":"https://example.com/webhook","events":["outbound.delivered"]}`})
	if r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("key reused after 24 h: %d %s, want a fresh 200", r.status, r.body)
	}

	// Key length bounds (1..255).
	if r := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey(strings.Repeat("k", 256))}); r.status != http.StatusBadRequest {
		t.Errorf("256-character key: %d, want 400", r.status)
	}
}

// TestIdempotencyKeyNotBurnedByRefusals: a request refused by validation or
// by the handler does not take its key, so the corrected request succeeds.
func TestIdempotencyKeyNotBurnedByRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	for _, bad := range []string{
		`{"url":"https://example.com/webhook","events":["outbound.delivered"]}`,                                         // schema: name missing
		`{"name":"Private","url":"http://10.0.0.1/webhook","events":["outbound.delivered"]}`,                            // handler: egress policy
		`{"name":"Not Owned","url":"https://example.com/webhook","events":["outbound.delivered"],"filter_users":["x"]}`, // handler: filter
	} {
		if r := e.do(rawReq{method: "POST", path: "/webhooks", body: bad, header: idemKey("fix-and-retry")}); r.status != http.StatusBadRequest {
			t.Fatalf("bad create: %d %s, want 400", r.status, r.body)
		}
	}
	if r := e.do(rawReq{method: "POST", path: "/webhooks", body: `{}`, header: withHeader(idemKey("fix-and-retry"), http.Header{"Content-Type": {"text/plain"}})}); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain create: %d, want 415", r.status)
	}
	good := `{"name":"Fixed","url":"https://example.com/webhook","events":["outbound.delivered"]}`
	r := e.do(rawReq{method: "POST", path: "/webhooks", body: good, header: idemKey("fix-and-retry")})
	if r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("valid create after refusals: %d %s, want a fresh 200", r.status, r.body)
	}
	if r2 := e.do(rawReq{method: "POST", path: "/webhooks", body: good, header: idemKey("fix-and-retry")}); r2.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.body, r2.body) {
		t.Errorf("repeat of the valid create was not replayed: %d %s", r2.status, r2.body)
	}
	if list, _ := e.A.C.ListWebhooks(ctx); len(list) != 1 {
		t.Errorf("%d webhooks, want 1", len(list))
	}
}

// TestIdempotentIngest: POST /events and /events/batch with a key.
func TestIdempotentIngest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.create(e.A, createReq("Sink", "outbound.delivered"))

	// Without an id each publish would be a new event; the key makes the
	// retry the same one.
	ev := client.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: client.Ptr("api-user")}
	r1, err := e.ingest.PublishEvent(ctx, ev, client.WithIdempotencyKey("publish-1"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.ingest.PublishEvent(ctx, ev, client.WithIdempotencyKey("publish-1"))
	if err != nil {
		t.Fatal(err)
	}
	if r1.EventID != r2.EventID || r2.Deliveries != 1 || r2.Duplicate != nil {
		t.Errorf("retried publish = %+v, want the first answer %+v", r2, r1)
	}
	if q := e.query(e.A, clientQueryAll()); q.Total != 1 {
		t.Errorf("history has %d records, want 1", q.Total)
	}
	body := mustJSON(t, ev)
	raw := e.do(rawReq{method: "POST", path: "/events", body: body, header: withHeader(bearer(testIngestToken), idemKey("publish-1"))})
	if raw.status != http.StatusAccepted || raw.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("raw repeat: %d replayed %q", raw.status, raw.header.Get("Idempotent-Replayed"))
	}
	other := e.do(rawReq{method: "POST", path: "/events", header: withHeader(bearer(testIngestToken), idemKey("publish-1")),
		body: `{"account_id":"` + e.A.ID + `","type":"outbound.bounced"}`})
	if other.status != http.StatusConflict {
		t.Errorf("same key, other event: %d %s, want 409", other.status, other.body)
	}
	// The ingest token's keys are one space: the same key on the batch
	// endpoint is another request.
	batch := `{"events":[` + body + `]}`
	if r := e.do(rawReq{method: "POST", path: "/events/batch", body: batch, header: withHeader(bearer(testIngestToken), idemKey("publish-1"))}); r.status != http.StatusConflict {
		t.Errorf("the key of a single publish on /events/batch: %d, want 409", r.status)
	}

	b1, err := e.ingest.PublishEvents(ctx, []client.Event{ev, ev}, client.WithIdempotencyKey("batch-1"))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := e.ingest.PublishEvents(ctx, []client.Event{ev, ev}, client.WithIdempotencyKey("batch-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b2) != 2 || b1[0].EventID != b2[0].EventID || b1[1].EventID != b2[1].EventID || b1[0].EventID == b1[1].EventID {
		t.Errorf("retried batch = %+v, want %+v", b2, b1)
	}
	if _, err := e.ingest.PublishEvents(ctx, []client.Event{ev}, client.WithIdempotencyKey("batch-1")); err == nil {
		t.Error("same batch key, another batch: no error")
	}
	if q := e.query(e.A, clientQueryAll()); q.Total != 3 {
		t.Errorf("history has %d records, want 3", q.Total)
	}
}

// TestIdempotencyKeyInFlight: a repeat that arrives while the first request
// with its key is still running is a 409, not a second execution. The
// running request is simulated by reserving the key in the store exactly as
// the middleware does before calling the handler.
func TestIdempotencyKeyInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := `{"account_id":"` + e.A.ID + `","type":"outbound.delivered"}`
	h := sha256.Sum256([]byte("POST /events\n" + body))
	running := store.IdempotencyLease{Scope: "ingest", Key: "in-flight", Token: "the-first-request"}
	reserveAsMiddleware(t, e, running, h[:])
	r := e.do(rawReq{method: "POST", path: "/events", body: body, header: withHeader(bearer(testIngestToken), idemKey("in-flight"))})
	if r.status != http.StatusConflict || !strings.Contains(string(r.body), "still being processed") {
		t.Errorf("repeat of a running request: %d %s, want 409 still being processed", r.status, r.body)
	}
	var q struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(e.plainDo("POST", "/webhooks/query", `{}`, e.A.Key), &q); err != nil || q.Total != 0 {
		t.Errorf("history: %d (%v)", q.Total, err)
	}
	// Once the first request has finished, the repeat gets its answer.
	if err := e.st.FinishIdempotencyKey(t.Context(), running, http.StatusAccepted, []byte(`{"success":true,"event_id":"evt_first_run","deliveries":0}`)); err != nil {
		t.Fatal(err)
	}
	r = e.do(rawReq{method: "POST", path: "/events", body: body, header: withHeader(bearer(testIngestToken), idemKey("in-flight"))})
	if r.status != http.StatusAccepted || r.header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(r.body), "evt_first_run") {
		t.Errorf("repeat after the first finished: %d %s", r.status, r.body)
	}
}

// reserveAsMiddleware reserves a key in the store exactly as the middleware
// does for a request that then runs (or dies): a lease of the API's default.
func reserveAsMiddleware(t *testing.T, e *env, lease store.IdempotencyLease, hash []byte) {
	t.Helper()
	now := e.clock.Now()
	if rec, err := e.st.ReserveIdempotencyKey(t.Context(), &store.ReserveIdempotencyParams{
		IdempotencyLease: lease, RequestHash: hash, Now: now,
		LeaseUntil: now.Add(api.DefaultIdempotencyLease), ExpiredBefore: now.Add(-24 * time.Hour),
	}); err != nil || rec != nil {
		t.Fatalf("reserve: %v, %v", rec, err)
	}
}

// panickingStore panics in CreateWebhook for a webhook named "Panic Now".
type panickingStore struct{ store.Store }

func (p panickingStore) CreateWebhook(ctx context.Context, w *store.Webhook, idem *store.IdempotencyLease) error {
	if w.Name == "Panic Now" {
		panic("injected failure")
	}
	return p.Store.CreateWebhook(ctx, w, idem)
}

// TestIdempotencyKeyReleasedOnPanic: a request that panics is answered 500
// and, like any 5xx, gives its key back, so the retry runs.
func TestIdempotencyKeyReleasedOnPanic(t *testing.T) {
	t.Parallel()
	e := newEnvWrapped(t, nil, func(s store.Store) store.Store { return panickingStore{s} })
	body := `{"name":"Panic Now","url":"https://example.com/webhook","events":["outbound.delivered"]}`
	r := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("panics")})
	if r.status != http.StatusInternalServerError {
		t.Fatalf("panicking create: %d %s, want 500", r.status, r.body)
	}
	if !strings.Contains(e.log.String(), "injected failure") {
		t.Error("the panic was not logged")
	}
	// The same key with the same body runs again (and panics again) rather
	// than being refused as still running; another body may use the key too.
	if r := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("panics")}); r.status != http.StatusInternalServerError {
		t.Errorf("retry after a panic: %d %s, want the 500 of a second run", r.status, r.body)
	}
	fixed := `{"name":"Calm","url":"https://example.com/webhook","events":["outbound.delivered"]}`
	if r := e.do(rawReq{method: "POST", path: "/webhooks", body: fixed, header: idemKey("panics")}); r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another request with the key after a panic: %d %s, want a fresh 200", r.status, r.body)
	}
}

// crashingStore makes the first create of a webhook named "Crash" fail as a
// dead process would: the create errs and, when dies is set, the release that
// follows never happens (the process is gone before it could run).
type crashingStore struct {
	store.Store
	dies    bool
	crashed atomic.Bool
}

func (c *crashingStore) CreateWebhook(ctx context.Context, w *store.Webhook, idem *store.IdempotencyLease) error {
	if w.Name == "Crash" && c.crashed.CompareAndSwap(false, true) {
		return errors.New("injected: connection to the database lost")
	}
	return c.Store.CreateWebhook(ctx, w, idem)
}

func (c *crashingStore) ReleaseIdempotencyKey(ctx context.Context, lease store.IdempotencyLease) error {
	if c.dies {
		return nil
	}
	return c.Store.ReleaseIdempotencyKey(ctx, lease)
}

// TestIdempotencyKeyAfterAFailedRequest: a request that dies holding its key
// locks it only for the lease; one that ends in a 5xx gives it back at once.
// Either way the retry makes exactly one webhook.
func TestIdempotencyKeyAfterAFailedRequest(t *testing.T) {
	t.Parallel()
	for _, dies := range []bool{true, false} {
		name := map[bool]string{true: "process dies", false: "5xx"}[dies]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cs := &crashingStore{dies: dies}
			e := newEnvWrapped(t, func(c *api.Config) { c.IdempotencyLease = time.Minute },
				func(s store.Store) store.Store { cs.Store = s; return cs })
			body := `{"name":"Crash","url":"https://example.com/webhook","events":["outbound.delivered"]}`
			if r := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("retry-me")}); r.status != http.StatusInternalServerError {
				t.Fatalf("failing create: %d %s, want 500", r.status, r.body)
			}
			if dies {
				// The dead request's lease still runs: a retry now would
				// race it, so it is told to wait.
				e.clock.Advance(59 * time.Second)
				r := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("retry-me")})
				if r.status != http.StatusConflict || !strings.Contains(string(r.body), "still being processed") {
					t.Fatalf("retry within the lease: %d %s, want 409 still being processed", r.status, r.body)
				}
				// Another request with the key is still refused after it.
				e.clock.Advance(time.Second)
				other := `{"name":"Other","url":"https://example.com/webhook","events":["outbound.delivered"]}`
				if r := e.do(rawReq{method: "POST", path: "/webhooks", body: other, header: idemKey("retry-me")}); r.status != http.StatusConflict {
					t.Fatalf("another body after the lease: %d %s, want 409", r.status, r.body)
				}
			}
			first := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("retry-me")})
			if first.status != http.StatusOK || first.header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("retry: %d (replayed %q) %s, want a fresh 200", first.status, first.header.Get("Idempotent-Replayed"), first.body)
			}
			again := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("retry-me")})
			if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first.body, again.body) {
				t.Fatalf("second retry: %d (replayed %q) %s, want the first answer", again.status, again.header.Get("Idempotent-Replayed"), again.body)
			}
			if list, err := e.A.C.ListWebhooks(t.Context()); err != nil || len(list) != 1 {
				t.Fatalf("%d webhooks (%v), want exactly 1", len(list), err)
			}
		})
	}
}

// TestIdempotentCreateReplayAfterRotationAndDelete: the record of a create
// keeps no secret; a replay shows the webhook as it is now, so a rotated
// secret is never handed out again, and a deleted webhook is a 409 that
// creates nothing.
func TestIdempotentCreateReplayAfterRotationAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	body := `{"name":"Rotated","url":"https://example.com/webhook","events":["outbound.delivered"]}`
	decode := func(r rawResp) (uuid, secret string) {
		t.Helper()
		var out struct {
			Webhook struct {
				UUID   string `json:"uuid"`
				Secret string `json:"secret"`
			} `json:"webhook"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return out.Webhook.UUID, out.Webhook.Secret
	}
	first := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("rotate-then-replay")})
	if first.status != http.StatusOK {
		t.Fatalf("create: %d %s", first.status, first.body)
	}
	id, oldSecret := decode(first)
	rotated, err := e.A.C.RotateSecret(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	replay := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("rotate-then-replay")})
	if replay.status != http.StatusOK || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after rotation: %d %s", replay.status, replay.body)
	}
	rid, secret := decode(replay)
	if rid != id || secret == oldSecret || secret != *rotated.Secret {
		t.Fatalf("replay after rotation gave webhook %s with the old secret (%v); want %s with the current one", rid, secret == oldSecret, id)
	}
	if strings.Contains(string(replay.body), oldSecret) {
		t.Fatal("the replay holds the rotated-out secret")
	}

	if err := e.A.C.DeleteWebhook(ctx, id); err != nil {
		t.Fatal(err)
	}
	gone := e.do(rawReq{method: "POST", path: "/webhooks", body: body, header: idemKey("rotate-then-replay")})
	if gone.status != http.StatusConflict || !strings.Contains(string(gone.body), "since been deleted") ||
		strings.Contains(string(gone.body), "whsec_") {
		t.Fatalf("replay after delete: %d %s, want 409 saying the webhook was deleted", gone.status, gone.body)
	}
	if list, _ := e.A.C.ListWebhooks(ctx); len(list) != 0 {
		t.Fatalf("the replay of a deleted webhook's create made %d webhooks", len(list))
	}
}
