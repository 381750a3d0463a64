package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// createN creates n webhooks named "Hook 0".."Hook n-1" on the fake.
func createN(t *testing.T, c *client.Client, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("Hook %d", i)
		if _, err := c.CreateWebhook(context.Background(), client.CreateWebhookRequest{
			Name: name, URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"},
		}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

func webhookNames(ws []client.Webhook) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

// listQueries returns the query strings of the GET /webhooks requests
// received since request index from.
func listQueries(fake *fakeAPI, from int) []url.Values {
	var out []url.Values
	for _, r := range fake.requests()[from:] {
		if r.Method == http.MethodGet && r.Path == "/webhooks" {
			out = append(out, r.Query)
		}
	}
	return out
}

// TestListWebhooksPage: one page per call, limit and cursor on the wire.
func TestListWebhooksPage(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	names := createN(t, c, 5)
	before := len(fake.requests())

	page, err := c.ListWebhooksPage(ctx, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(webhookNames(page.Webhooks), names[:2]) || page.NextCursor == "" {
		t.Fatalf("page 1 = %v, cursor %q", webhookNames(page.Webhooks), page.NextCursor)
	}
	var got []string
	got = append(got, webhookNames(page.Webhooks)...)
	for page.NextCursor != "" {
		page, err = c.ListWebhooksPage(ctx, 2, page.NextCursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, webhookNames(page.Webhooks)...)
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("pages = %v, want %v", got, names)
	}
	qs := listQueries(fake, before)
	want := []url.Values{
		{"limit": {"2"}},
		{"limit": {"2"}, "cursor": {"after:6f1c2d3e-4b5a-4c6d-8e7f-000000000002"}},
		{"limit": {"2"}, "cursor": {"after:6f1c2d3e-4b5a-4c6d-8e7f-000000000004"}},
	}
	if !reflect.DeepEqual(qs, want) {
		t.Errorf("queries = %v, want %v", qs, want)
	}

	// limit 0 (and below) sends no limit: the server's cap applies.
	before = len(fake.requests())
	for _, limit := range []int{0, -3} {
		page, err := c.ListWebhooksPage(ctx, limit, "")
		if err != nil || len(page.Webhooks) != 5 || page.NextCursor != "" {
			t.Errorf("ListWebhooksPage(%d) = %v, %v", limit, page, err)
		}
	}
	if qs := listQueries(fake, before); !reflect.DeepEqual(qs, []url.Values{{}, {}}) {
		t.Errorf("queries without a limit = %v, want none", qs)
	}
	// A cursor is escaped as a query value.
	before = len(fake.requests())
	_, err = c.ListWebhooksPage(ctx, 0, "a b&c=d/é")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage cursor: %v, want the server's 400", err)
	}
	if qs := listQueries(fake, before); len(qs) != 1 || qs[0].Get("cursor") != "a b&c=d/é" || len(qs[0]) != 1 {
		t.Errorf("cursor arrived as %v", qs)
	}
}

// TestListWebhooksFollowsPages: ListWebhooks returns every webhook once,
// whatever the server's page size.
func TestListWebhooksFollowsPages(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	names := createN(t, c, 7)
	for _, size := range []int{1, 2, 3, 7, 1000} {
		fake.mu.Lock()
		fake.pageCap = size
		fake.mu.Unlock()
		before := len(fake.requests())
		all, err := c.ListWebhooks(ctx)
		if err != nil {
			t.Fatalf("page size %d: %v", size, err)
		}
		if !reflect.DeepEqual(webhookNames(all), names) {
			t.Errorf("page size %d: %v, want %v", size, webhookNames(all), names)
		}
		qs := listQueries(fake, before)
		if want := (7 + size - 1) / size; len(qs) != want {
			t.Errorf("page size %d: %d requests, want %d", size, len(qs), want)
		}
		for i, q := range qs {
			if q.Has("limit") || q.Has("cursor") != (i > 0) {
				t.Errorf("page size %d, request %d: query %v", size, i, q)
			}
		}
	}
	// An empty account is an empty slice, not nil.
	_, empty := newFake(t)
	if all, err := newClient(t, empty.URL).ListWebhooks(ctx); err != nil || all == nil || len(all) != 0 {
		t.Errorf("empty list = %#v, %v", all, err)
	}
}

// TestListWebhooksCursorLoop: a server that hands back a cursor it gave
// before would have ListWebhooks repeat webhooks, or never end; it fails
// instead.
func TestListWebhooksCursorLoop(t *testing.T) {
	webhook := `{"uuid":"6f1c2d3e-4b5a-4c6d-8e7f-000000000009","name":"n","url":"https://example.com/h","events":["outbound.delivered"],"status":"enabled","filter_users":null,"filter_domains":null,"created_at":1,"last_modified":1}`
	for name, cursors := range map[string][]string{
		"same cursor":  {"c1", "c1"},
		"cycle":        {"c1", "c2", "c1"},
		"longer cycle": {"c1", "c2", "c3", "c2"},
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv := newHandlerServer(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				cur := cursors[min(n, len(cursors)-1)]
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"success":true,"webhooks":[%s],"next_cursor":%q}`, webhook, cur)
			})
			all, err := newClient(t, srv.URL).ListWebhooks(context.Background())
			if err == nil || all != nil || !strings.Contains(err.Error(), "repeated a page cursor") {
				t.Errorf("ListWebhooks = %d webhooks, %v; want a cursor error", len(all), err)
			}
			if n := int(calls.Load()); n != len(cursors) {
				t.Errorf("%d requests, want %d", n, len(cursors))
			}
		})
	}
}

// TestRotateSecret: the grace period on the wire, and the new secret back.
func TestRotateSecret(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	wh, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	id := wh.UUID.String()
	if !wh.PreviousSecretExpiresAt.IsNull() {
		t.Errorf("new webhook: previous_secret_expires_at = %v, want null", wh.PreviousSecretExpiresAt)
	}
	secrets := map[string]bool{*wh.Secret: true}
	for _, tc := range []struct {
		grace   time.Duration
		body    string
		expires int64 // 0: null
	}{
		{-1, `{}`, fakeNow + 86400},
		{-time.Hour, `{}`, fakeNow + 86400},
		{0, `{"grace_period":0}`, 0},
		{90 * time.Minute, `{"grace_period":5400}`, fakeNow + 5400},
		{1500 * time.Millisecond, `{"grace_period":1}`, fakeNow + 1},
		{7 * 24 * time.Hour, `{"grace_period":604800}`, fakeNow + 604800},
	} {
		before := len(fake.requests())
		got, err := c.RotateSecret(ctx, id, tc.grace)
		if err != nil {
			t.Fatalf("RotateSecret(%v): %v", tc.grace, err)
		}
		reqs := fake.requests()[before:]
		if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/webhooks/"+id+"/rotate-secret" ||
			strings.TrimSpace(string(reqs[0].Body)) != tc.body || reqs[0].Header.Get("Content-Type") != "application/json" {
			t.Errorf("RotateSecret(%v) sent %+v, want POST with %s", tc.grace, reqs, tc.body)
			continue
		}
		if got.Secret == nil || secrets[*got.Secret] {
			t.Errorf("RotateSecret(%v): secret %v is not new", tc.grace, got.Secret)
		} else {
			secrets[*got.Secret] = true
		}
		if exp, err := got.PreviousSecretExpiresAt.Get(); (tc.expires == 0) != got.PreviousSecretExpiresAt.IsNull() || (tc.expires != 0 && (err != nil || exp != tc.expires)) {
			t.Errorf("RotateSecret(%v): previous_secret_expires_at = %v, want %d", tc.grace, got.PreviousSecretExpiresAt, tc.expires)
		}
	}
	// Out of range: the server's 400, as an *Error.
	_, err = c.RotateSecret(ctx, id, 8*24*time.Hour)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || len(apiErr.Details) != 1 || apiErr.Details[0].Field != "/grace_period" {
		t.Errorf("8-day grace: %v, want 400 on /grace_period", err)
	}
	if _, err := c.RotateSecret(ctx, "6f1c2d3e-4b5a-4c6d-8e7f-000000000404", -1); !client.IsNotFound(err) {
		t.Errorf("unknown uuid: %v, want 404", err)
	}
}

// TestTestWebhook: the event type on the wire, and both outcomes decoded.
func TestTestWebhook(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	wh, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	id := wh.UUID.String()

	before := len(fake.requests())
	res, err := c.TestWebhook(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || !res.Delivered || res.Status != models.DeliveryStatusSuccess || !res.Error.IsNull() ||
		res.ResponseBody == nil || *res.ResponseBody != `{"ok":true}` || res.DurationMs != 12 || !strings.HasPrefix(res.EventID, "evt_") {
		t.Errorf("TestWebhook = %+v", res)
	}
	if code, err := res.StatusCode.Get(); err != nil || code != 200 {
		t.Errorf("status_code = %v, %v", code, err)
	}
	if _, err := c.TestWebhook(ctx, id, "inbound.received"); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()[before:]
	if len(reqs) != 2 || reqs[0].Path != "/webhooks/"+id+"/test" || strings.TrimSpace(string(reqs[0].Body)) != "{}" {
		t.Fatalf("requests = %+v", reqs)
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[1].Body, &body); err != nil || !reflect.DeepEqual(body, map[string]any{"event_type": "inbound.received"}) {
		t.Errorf("second body = %s", reqs[1].Body)
	}

	// A failed delivery is a result, not an error; nulls decode as nulls.
	fake.mu.Lock()
	fake.testFails = true
	fake.mu.Unlock()
	res, err = c.TestWebhook(ctx, id, "")
	if err != nil {
		t.Fatalf("failed test: err = %v, want a result", err)
	}
	if res.Delivered || res.Status != models.DeliveryStatusFailed || !res.StatusCode.IsNull() || res.ResponseBody != nil {
		t.Errorf("failed test = %+v", res)
	}
	if msg, err := res.Error.Get(); err != nil || msg != "connection refused" {
		t.Errorf("error = %q, %v", msg, err)
	}
	if _, err := c.TestWebhook(ctx, "6f1c2d3e-4b5a-4c6d-8e7f-000000000404", ""); !client.IsNotFound(err) {
		t.Errorf("unknown uuid: %v, want 404", err)
	}
	// A 503 (no tester on the server) carries Retry-After like a 429.
	srv503, _ := cannedServer(t, http.StatusServiceUnavailable, map[string]string{"Content-Type": "application/json", "Retry-After": "30"},
		`{"success":false,"error":"Test sends are not available on this server."}`)
	_, err = newClient(t, srv503.URL).TestWebhook(ctx, id, "")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.RetryAfter != 30*time.Second {
		t.Errorf("503: %v", err)
	}
}

// TestIdempotencyKeyOption: WithIdempotencyKey sets the header on the calls
// that take options, and a retry with it gets the first answer.
func TestIdempotencyKeyOption(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	ctx := context.Background()
	req := client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"}}

	w1, err := c.CreateWebhook(ctx, req, client.WithIdempotencyKey("create-key"))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := c.CreateWebhook(ctx, req, client.WithIdempotencyKey("create-key"))
	if err != nil {
		t.Fatal(err)
	}
	if w1.UUID != w2.UUID || *w1.Secret != *w2.Secret {
		t.Errorf("retried create = %s, want %s", w2.UUID, w1.UUID)
	}
	w3, err := c.CreateWebhook(ctx, req)
	if err != nil || w3.UUID == w1.UUID {
		t.Errorf("create without a key = %v, %v; want a new webhook", w3, err)
	}
	req.Name = "other"
	_, err = c.CreateWebhook(ctx, req, client.WithIdempotencyKey("create-key"))
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
		t.Errorf("same key, other request: %v, want 409", err)
	}

	ev := client.Event{AccountID: "acc_1", Type: "outbound.delivered"}
	p1, err := c.PublishEvent(ctx, ev, client.WithIdempotencyKey("publish-key"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.PublishEvent(ctx, ev, client.WithIdempotencyKey("publish-key"))
	if err != nil || p2.EventID != p1.EventID {
		t.Errorf("retried publish = %v, %v; want %s", p2, err, p1.EventID)
	}
	if _, err := c.PublishEvents(ctx, []client.Event{ev}, client.WithIdempotencyKey("batch-key")); err != nil {
		t.Fatal(err)
	}

	wantKey := map[string]string{}
	for i, r := range fake.requests() {
		got := r.Header.Get("Idempotency-Key")
		if i == 2 {
			// With retries on (the default) the client makes one up, so
			// its own retries are answered once.
			if !strings.HasPrefix(got, "jwgo-") {
				t.Errorf("request without the option sent Idempotency-Key %q, want one made up", got)
			}
			continue
		}
		wantKey[r.Path] = got
		if r.Header.Get("Authorization") == "" {
			t.Errorf("request %d lost its Authorization with the option", i)
		}
	}
	if want := map[string]string{"/webhooks": "create-key", "/events": "publish-key", "/events/batch": "batch-key"}; !reflect.DeepEqual(wantKey, want) {
		t.Errorf("Idempotency-Key per path = %v, want %v", wantKey, want)
	}
}

// TestDataHelpers: Data and MustData encode event data; raw data keeps its
// bytes on the wire.
func TestDataHelpers(t *testing.T) {
	d, err := client.Data(map[string]any{"to": "user@example.com", "n": 1})
	if err != nil || string(*d) != `{"n":1,"to":"user@example.com"}` {
		t.Errorf("Data(map) = %s, %v", *d, err)
	}
	d, err = client.Data(struct {
		Amount json.Number `json:"amount"`
	}{"12345678901234567890"})
	if err != nil || string(*d) != `{"amount":12345678901234567890}` {
		t.Errorf("Data(struct with json.Number) = %s, %v", *d, err)
	}
	if d, err := client.Data(map[string]any{"f": func() {}}); err == nil || d != nil || !strings.HasPrefix(err.Error(), "jetwebhooks: encode event data: ") {
		t.Errorf("Data(func) = %v, %v; want an error", d, err)
	}
	if got := client.MustData(map[string]int{"a": 1}); string(*got) != `{"a":1}` {
		t.Errorf("MustData = %s", *got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustData(chan) did not panic")
			}
		}()
		client.MustData(make(chan int))
	}()

	// Raw data goes on the wire as it is: every digit, the member order.
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	raw := json.RawMessage(`{"z":12345678901234567890,"a":0.1000000000000000055511151231257827}`)
	if _, err := c.PublishEvent(context.Background(), client.Event{AccountID: "acc_1", Type: "outbound.delivered", Data: &raw}); err != nil {
		t.Fatal(err)
	}
	if body := string(fake.requests()[0].Body); !strings.Contains(body, `"data":{"z":12345678901234567890,"a":0.1000000000000000055511151231257827}`) {
		t.Errorf("published body = %s", body)
	}
}

// TestNewWebhookFields: the extension fields decode, null and set.
func TestNewWebhookFields(t *testing.T) {
	body := `{"success":true,"webhook":{"uuid":"6f1c2d3e-4b5a-4c6d-8e7f-000000000009","name":"n","url":"https://example.com/h","events":["outbound.delivered"],"status":"disabled","filter_users":null,"filter_domains":null,"created_at":1,"last_modified":2,` +
		`"disabled_reason":"endpoint answered 410 Gone","disabled_at":1700000300,"previous_secret_expires_at":null}}`
	srv, _ := cannedServer(t, http.StatusOK, map[string]string{"Content-Type": "application/json"}, body)
	wh, err := newClient(t, srv.URL).GetWebhook(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if reason, _ := wh.DisabledReason.Get(); reason != "endpoint answered 410 Gone" {
		t.Errorf("disabled_reason = %q", reason)
	}
	if at, _ := wh.DisabledAt.Get(); at != 1700000300 {
		t.Errorf("disabled_at = %d", at)
	}
	if !wh.PreviousSecretExpiresAt.IsNull() {
		t.Errorf("previous_secret_expires_at = %v, want null", wh.PreviousSecretExpiresAt)
	}
}

// TestIterators: ranging over Webhooks and Events follows every page, and
// stopping the loop stops the fetching.
func TestIterators(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	ctx := t.Context()
	for i := range 7 {
		if _, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: fmt.Sprintf("hook %d", i), URL: "https://example.com/h",
			Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for w, err := range c.Webhooks(ctx, 3) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, w.Name)
	}
	if len(names) != 7 || names[0] != "hook 0" || names[6] != "hook 6" {
		t.Fatalf("ranged over %q, want the 7 webhooks in order", names)
	}
	before := len(fake.requests())
	for range c.Webhooks(ctx, 3) {
		break
	}
	if n := len(fake.requests()) - before; n != 1 {
		t.Errorf("breaking out after the first webhook fetched %d pages, want 1", n)
	}
}
