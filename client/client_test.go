package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

const defaultUA = "jetwebhooks-go/" + client.Version

func newClient(t *testing.T, baseURL string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(baseURL, testAPIKey, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", baseURL, err)
	}
	return c
}

func TestVersion(t *testing.T) {
	if client.Version != "0.1.0" {
		t.Fatalf("Version = %q", client.Version)
	}
}

// TestWebhookLifecycle drives create, get, list, update, delete against the
// fake server and checks what went over the wire.
func TestWebhookLifecycle(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	ctx := context.Background()

	created, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name:        "My Webhook",
		URL:         "https://example.com/webhook",
		Events:      []client.SubscribableEventType{models.SubscribableEventTypeOutboundDelivered, "outbound.bounced"},
		FilterUsers: client.Filter("api-user"),
	})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	if created.Name != "My Webhook" || created.URL != "https://example.com/webhook" || created.Status != models.WebhookStatusEnabled {
		t.Errorf("created = %+v", created)
	}
	if created.Secret == nil || !strings.HasPrefix(*created.Secret, "whsec_") {
		t.Errorf("created.Secret = %v, want whsec_…", created.Secret)
	}
	if got := created.FilterUsers.GetOrEmpty(); !reflect.DeepEqual(got, []string{"api-user"}) {
		t.Errorf("created.FilterUsers = %v", got)
	}
	if !created.FilterDomains.IsNull() {
		t.Errorf("created.FilterDomains = %v, want null", created.FilterDomains)
	}
	id := created.UUID.String()

	got, err := c.GetWebhook(ctx, id)
	if err != nil {
		t.Fatalf("GetWebhook: %v", err)
	}
	if got.UUID != created.UUID || got.Secret == nil || *got.Secret != *created.Secret {
		t.Errorf("GetWebhook = %+v, want %+v", got, created)
	}

	list, err := c.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks: %v", err)
	}
	if len(list) != 1 || list[0].UUID != created.UUID || list[0].Secret != nil {
		t.Errorf("ListWebhooks = %+v", list)
	}

	err = c.UpdateWebhook(ctx, client.UpdateWebhookRequest{
		UUID:        created.UUID,
		Status:      client.Status(false),
		Name:        client.Ptr("Renamed"),
		FilterUsers: client.ClearFilter(),
	})
	if err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	got, err = c.GetWebhook(ctx, id)
	if err != nil {
		t.Fatalf("GetWebhook after update: %v", err)
	}
	if got.Status != models.WebhookStatusDisabled || got.Name != "Renamed" || !got.FilterUsers.IsNull() {
		t.Errorf("after update: %+v", got)
	}
	if got.URL != created.URL {
		t.Errorf("unset field changed: url %q", got.URL)
	}

	if err := c.DeleteWebhook(ctx, id); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	_, err = c.GetWebhook(ctx, id)
	if !client.IsNotFound(err) {
		t.Fatalf("GetWebhook after delete: err = %v, want not found", err)
	}
	if err := c.DeleteWebhook(ctx, id); !client.IsNotFound(err) {
		t.Fatalf("DeleteWebhook twice: err = %v, want not found", err)
	}

	wantRoutes := []string{
		"POST /webhooks",
		"GET /webhooks/" + id,
		"GET /webhooks",
		"PATCH /webhooks",
		"GET /webhooks/" + id,
		"DELETE /webhooks/" + id,
		"GET /webhooks/" + id,
		"DELETE /webhooks/" + id,
	}
	reqs := fake.requests()
	if len(reqs) != len(wantRoutes) {
		t.Fatalf("server got %d requests, want %d", len(reqs), len(wantRoutes))
	}
	for i, r := range reqs {
		if route := r.Method + " " + r.Path; route != wantRoutes[i] {
			t.Errorf("request %d: %s, want %s", i, route, wantRoutes[i])
		}
		if a := r.Header.Get("Authorization"); a != "Bearer "+testAPIKey {
			t.Errorf("request %d (%s %s): Authorization = %q, want the API key", i, r.Method, r.Path, a)
		}
		if ua := r.Header.Get("User-Agent"); ua != defaultUA {
			t.Errorf("request %d: User-Agent = %q, want %q", i, ua, defaultUA)
		}
	}

	// The PATCH body carries only the fields set, with an explicit null for
	// the cleared filter.
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(reqs[3].Body, &patch); err != nil {
		t.Fatalf("PATCH body %s: %v", reqs[3].Body, err)
	}
	if string(patch["filter_users"]) != "null" || string(patch["status"]) != "0" || string(patch["name"]) != `"Renamed"` {
		t.Errorf("PATCH body = %s", reqs[3].Body)
	}
	for _, absent := range []string{"filter_domains", "url", "events"} {
		if _, ok := patch[absent]; ok {
			t.Errorf("PATCH body has %q: %s", absent, reqs[3].Body)
		}
	}
	if ct := reqs[3].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("PATCH Content-Type = %q", ct)
	}
}

func TestListWebhooksEmpty(t *testing.T) {
	_, srv := newFake(t)
	list, err := newClient(t, srv.URL).ListWebhooks(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("ListWebhooks = %v, %v; want empty", list, err)
	}
}

func TestQueryEvents(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL)
	res, err := c.QueryEvents(context.Background(), client.QueryRequest{
		EventType: client.Ptr[client.EventType]("outbound.bounced"),
		Status:    client.Ptr[client.QueryStatus]("delivered"),
		DateFrom:  client.Ptr[int64](1700000000),
		Limit:     client.Ptr(10),
		Offset:    client.Ptr(20),
	})
	if err != nil {
		t.Fatalf("QueryEvents: %v", err)
	}
	if res.Total != 2 || res.Limit != 10 || res.Offset != 20 || len(res.Events) != 2 {
		t.Fatalf("QueryEvents = %+v", res)
	}
	first := res.Events[0]
	if first.ID != "evt_xyz789" || first.EventType != "outbound.bounced" || first.LatestStatus != models.DeliveryStatusSuccess {
		t.Errorf("first record = %+v", first)
	}
	if code, err := first.LastResponseCode.Get(); err != nil || code != 200 {
		t.Errorf("first.LastResponseCode = %v, %v", code, err)
	}
	if !res.Events[1].LastResponseCode.IsNull() {
		t.Errorf("pending record's last_response_code = %v, want null", res.Events[1].LastResponseCode)
	}

	r := fake.requests()[0]
	if r.Method != http.MethodPost || r.Path != "/webhooks/query" || r.Header.Get("Authorization") != "Bearer "+testAPIKey {
		t.Errorf("request = %s %s auth %q", r.Method, r.Path, r.Header.Get("Authorization"))
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"event_type": "outbound.bounced", "status": "delivered", "date_from": 1700000000.0, "limit": 10.0, "offset": 20.0}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("query body = %v, want %v", body, want)
	}
}

func TestReplayEvent(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	res, err := c.ReplayEvent(context.Background(), client.ReplayRequest{EventID: client.Ptr("evt_abc123")})
	if err != nil {
		t.Fatalf("ReplayEvent: %v", err)
	}
	if !res.Success || res.EventID != "evt_abc123" || res.Status != models.ReplayStatusEnqueued || res.Deliveries != 1 || res.ReplayedBy != "event_id" {
		t.Errorf("ReplayEvent = %+v", res)
	}
	r := fake.requests()[0]
	if r.Method != http.MethodPost || r.Path != "/webhooks/replay" || string(r.Body) != `{"event_id":"evt_abc123"}` {
		t.Errorf("request = %s %s %s", r.Method, r.Path, r.Body)
	}
	if a := r.Header.Get("Authorization"); a != "Bearer "+testAPIKey {
		t.Errorf("replay Authorization = %q, want the API key", a)
	}

	_, err = c.ReplayEvent(context.Background(), client.ReplayRequest{EventID: client.Ptr("evt_missing")})
	if !client.IsNotFound(err) {
		t.Errorf("ReplayEvent(missing): err = %v, want not found", err)
	}
}

// TestPublishUsesIngestToken checks that Publish* send the ingest token, and
// nothing else does.
func TestPublishUsesIngestToken(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	ctx := context.Background()

	if _, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name: "w", URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"},
	}); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}

	res, err := c.PublishEvent(ctx, client.Event{
		AccountID: "acc_0123456789abcdef",
		Type:      "outbound.delivered",
		User:      client.Ptr("api-user"),
		SourceUID: client.Ptr("message-uid-123"),
		Data:      client.MustData(map[string]any{"to": "user@example.com"}),
	})
	if err != nil {
		t.Fatalf("PublishEvent: %v", err)
	}
	if !res.Success || res.EventID == "" || res.Deliveries != 1 || res.Duplicate != nil {
		t.Errorf("PublishEvent = %+v", res)
	}

	results, err := c.PublishEvents(ctx, []client.Event{
		{ID: client.Ptr("evt_one"), AccountID: "acc_1", Type: "inbound.received", Domain: client.Ptr("example.com")},
		{ID: client.Ptr("evt_two"), AccountID: "acc_1", Type: "outbound.queued", CreatedAt: client.Ptr[int64](1700000000)},
	})
	if err != nil {
		t.Fatalf("PublishEvents: %v", err)
	}
	if len(results) != 2 || results[0].EventID != "evt_one" || results[1].EventID != "evt_two" {
		t.Errorf("PublishEvents = %+v", results)
	}

	if _, err := c.ListWebhooks(ctx); err != nil {
		t.Fatalf("ListWebhooks after publishing: %v", err)
	}

	for i, r := range fake.requests() {
		want := "Bearer " + testAPIKey
		if strings.HasPrefix(r.Path, "/events") {
			want = "Bearer " + testIngestToken
		}
		if got := r.Header.Get("Authorization"); got != want {
			t.Errorf("request %d %s %s: Authorization = %q, want %q", i, r.Method, r.Path, got, want)
		}
		if ua := r.Header.Get("User-Agent"); ua != defaultUA {
			t.Errorf("request %d: User-Agent = %q", i, ua)
		}
	}
	reqs := fake.requests()
	if len(reqs) != 4 || reqs[1].Path != "/events" || reqs[2].Path != "/events/batch" {
		t.Fatalf("requests = %+v", reqs)
	}
	var batch map[string][]map[string]any
	if err := json.Unmarshal(reqs[2].Body, &batch); err != nil || len(batch["events"]) != 2 {
		t.Errorf("batch body = %s (%v)", reqs[2].Body, err)
	}
}

func TestPublishWithoutIngestToken(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL) // no WithIngestToken
	_, err := c.PublishEvent(context.Background(), client.Event{AccountID: "acc_1", Type: "outbound.delivered"})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("PublishEvent without ingest token: err = %v, want 401 *Error", err)
	}
	if a := fake.requests()[0].Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q: the API key must not be sent to /events", a)
	}
}

func TestPublishEventsEmptyIsNoOp(t *testing.T) {
	srv, count := cannedServer(t, http.StatusInternalServerError, nil, "")
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	for _, evs := range [][]client.Event{nil, {}} {
		res, err := c.PublishEvents(context.Background(), evs)
		if err != nil || res == nil || len(res) != 0 {
			t.Errorf("PublishEvents(%v) = %v, %v; want empty, nil", evs, res, err)
		}
	}
	if n := count(); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

func TestPublishEventsResultCountMismatch(t *testing.T) {
	srv, _ := cannedServer(t, http.StatusAccepted, map[string]string{"Content-Type": "application/json"},
		`{"success":true,"results":[{"success":true,"event_id":"evt_1","deliveries":0}]}`)
	c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
	_, err := c.PublishEvents(context.Background(), []client.Event{{AccountID: "a", Type: "outbound.delivered"}, {AccountID: "a", Type: "outbound.bounced"}})
	if err == nil || !strings.Contains(err.Error(), "1 results for 2 events") {
		t.Fatalf("err = %v, want a result-count error", err)
	}
}

func TestUserAgent(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL, client.WithUserAgent("acme-billing/2.1"))
	if _, err := c.ListWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = newClient(t, srv.URL, client.WithUserAgent("")) // empty keeps the default
	if _, err := c.ListWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()
	if ua := reqs[0].Header.Get("User-Agent"); ua != "acme-billing/2.1" {
		t.Errorf("User-Agent = %q, want custom", ua)
	}
	if ua := reqs[1].Header.Get("User-Agent"); ua != defaultUA {
		t.Errorf("User-Agent = %q, want %q", ua, defaultUA)
	}
}

type countingTransport struct {
	n    atomic.Int32
	base http.RoundTripper
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ct.n.Add(1)
	return ct.base.RoundTrip(r)
}

func TestWithHTTPClient(t *testing.T) {
	_, srv := newFake(t)
	tr := &countingTransport{base: http.DefaultTransport}
	c := newClient(t, srv.URL, client.WithHTTPClient(&http.Client{Transport: tr}), client.WithHTTPClient(nil))
	if _, err := c.ListWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.n.Load() != 1 {
		t.Errorf("custom transport used %d times, want 1", tr.n.Load())
	}
}

// TestBaseURLWithPath checks that a path prefix in the base URL is kept, with
// or without a trailing slash.
func TestBaseURLWithPath(t *testing.T) {
	fake, srv := newFake(t)
	outer := http.NewServeMux()
	outer.Handle("/api/", http.StripPrefix("/api", srv.Config.Handler))
	prefixed := httptest.NewServer(outer)
	t.Cleanup(prefixed.Close)
	for _, base := range []string{prefixed.URL + "/api", prefixed.URL + "/api/"} {
		if _, err := newClient(t, base).ListWebhooks(context.Background()); err != nil {
			t.Fatalf("ListWebhooks via %s: %v", base, err)
		}
	}
	if n := len(fake.requests()); n != 2 {
		t.Errorf("server got %d requests, want 2", n)
	}
}

func TestNewInvalidBaseURL(t *testing.T) {
	for _, base := range []string{
		"",
		"   ",
		"example.com",
		"example.com/api",
		"/webhooks",
		"localhost:8080",
		"ftp://example.com",
		"mailto:ops@example.com",
		"http://",
		"https:///path",
		"http://exa mple.com",
		"://missing-scheme",
		"http://example.com/?x=1",
		"http://example.com/#frag",
	} {
		c, err := client.New(base, testAPIKey)
		if err == nil || c != nil {
			t.Errorf("New(%q) = %v, %v; want an error", base, c, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "jetwebhooks: ") {
			t.Errorf("New(%q) error %q lacks the package prefix", base, err)
		}
	}
	for _, base := range []string{"http://127.0.0.1:8080", "https://hooks.example.com/", "https://hooks.example.com/jet/v1", "HTTPS://Hooks.Example.com"} {
		if _, err := client.New(base, ""); err != nil {
			t.Errorf("New(%q): %v", base, err)
		}
	}
}

func TestNewRedactsPassword(t *testing.T) {
	_, err := client.New("ftp://user:hunter2@example.com", testAPIKey)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: want an error without the password", err)
	}
}

// TestUUIDPathEscaping checks that GetWebhook, DeleteWebhook, RotateSecret
// and TestWebhook send the uuid as one escaped path segment, whatever it
// contains.
func TestUUIDPathEscaping(t *testing.T) {
	fake, srv := newFake(t)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	cases := []struct{ uuid, escaped string }{
		{"6f1c2d3e-4b5a-4c6d-8e7f-000000000001", "/webhooks/6f1c2d3e-4b5a-4c6d-8e7f-000000000001"},
		{"a/b", "/webhooks/a%2Fb"},
		{"../../events", "/webhooks/..%2F..%2Fevents"},
		{"x?y=1#z", "/webhooks/x%3Fy=1%23z"},
		{"with space", "/webhooks/with%20space"},
		{"100%", "/webhooks/100%25"},
		{"ünï", "/webhooks/%C3%BCn%C3%AF"},
		{"query", "/webhooks/query"},
		{"...", "/webhooks/..."},
	}
	calls := []struct {
		method, suffix string
		call           func(uuid string) error
	}{
		{http.MethodGet, "", func(id string) error { _, err := c.GetWebhook(ctx, id); return err }},
		{http.MethodDelete, "", func(id string) error { return c.DeleteWebhook(ctx, id) }},
		{http.MethodPost, "/rotate-secret", func(id string) error { _, err := c.RotateSecret(ctx, id, -1); return err }},
		{http.MethodPost, "/test", func(id string) error { _, err := c.TestWebhook(ctx, id, ""); return err }},
	}
	for _, tc := range cases {
		for _, call := range calls {
			method := call.method
			before := len(fake.requests())
			err := call.call(tc.uuid)
			if !client.IsNotFound(err) {
				t.Errorf("%s %q%s: err = %v, want 404", method, tc.uuid, call.suffix, err)
			}
			reqs := fake.requests()
			if len(reqs) != before+1 {
				t.Errorf("%s %q%s: %d requests sent, want 1", method, tc.uuid, call.suffix, len(reqs)-before)
				continue
			}
			r := reqs[before]
			if r.Method != method || r.EscapedPath != tc.escaped+call.suffix || r.PathUUID != tc.uuid {
				t.Errorf("%s %q: server saw %s %s (uuid %q), want %s %s", method, tc.uuid, r.Method, r.EscapedPath, r.PathUUID, method, tc.escaped+call.suffix)
			}
		}
	}

	// Values that cannot be one path segment are refused without a request.
	before := len(fake.requests())
	for _, bad := range []string{"", ".", ".."} {
		for _, call := range calls {
			if err := call.call(bad); err == nil || client.IsNotFound(err) {
				t.Errorf("%s %q%s: err = %v, want a local error", call.method, bad, call.suffix, err)
			}
		}
	}
	if n := len(fake.requests()) - before; n != 0 {
		t.Errorf("%d requests sent for invalid uuids, want 0", n)
	}
}

func TestContextCancellation(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := newClient(t, srv.URL)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.ListWebhooks(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ListWebhooks with cancelled context: err = %v, want context.Canceled", err)
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		t.Errorf("cancellation returned an *Error: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "jetwebhooks: list webhooks: ") {
		t.Errorf("err = %q, want the operation in the message", err)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err = c.GetWebhook(ctx, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetWebhook past deadline: err = %v, want context.DeadlineExceeded", err)
	}

	// An already-cancelled context fails without reaching the server.
	ctx, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := c.PublishEvent(ctx, client.Event{AccountID: "a", Type: "outbound.delivered"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("PublishEvent with cancelled context: err = %v", err)
	}
}

func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more
	c := newClient(t, base)
	_, err := c.GetWebhook(context.Background(), "x")
	if err == nil {
		t.Fatal("GetWebhook on a closed server: no error")
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) || client.IsNotFound(err) {
		t.Errorf("network error returned as *Error: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "jetwebhooks: get webhook: ") {
		t.Errorf("err = %q, want wrapped with the operation", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("err = %v does not wrap its cause", err)
	}
}

// TestAny2xxIsSuccess checks statuses the contract does not name (JetEmail's
// create may answer 201, a proxy may answer 204).
func TestAny2xxIsSuccess(t *testing.T) {
	webhook := `{"uuid":"6f1c2d3e-4b5a-4c6d-8e7f-000000000009","name":"n","url":"https://example.com/h","secret":"whsec_x","events":["outbound.delivered"],"status":"enabled","filter_users":null,"filter_domains":null,"created_at":1,"last_modified":1}`
	jsonCT := map[string]string{"Content-Type": "application/json"}
	ctx := context.Background()

	srv, _ := cannedServer(t, http.StatusCreated, jsonCT, `{"success":true,"message":"Webhook created successfully","webhook":`+webhook+`}`)
	wh, err := newClient(t, srv.URL).CreateWebhook(ctx, client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil || wh.Secret == nil || *wh.Secret != "whsec_x" || wh.UUID.String() != "6f1c2d3e-4b5a-4c6d-8e7f-000000000009" {
		t.Errorf("CreateWebhook on 201 = %+v, %v", wh, err)
	}

	// 200 without a JSON content type still decodes.
	srv, _ = cannedServer(t, http.StatusOK, map[string]string{"Content-Type": "text/plain"}, `{"success":true,"webhook":`+webhook+`}`)
	if wh, err := newClient(t, srv.URL).GetWebhook(ctx, "x"); err != nil || wh.Name != "n" {
		t.Errorf("GetWebhook with text/plain = %+v, %v", wh, err)
	}

	srv, _ = cannedServer(t, http.StatusNoContent, nil, "")
	c := newClient(t, srv.URL)
	if err := c.DeleteWebhook(ctx, "x"); err != nil {
		t.Errorf("DeleteWebhook on 204: %v", err)
	}
	if err := c.UpdateWebhook(ctx, client.UpdateWebhookRequest{}); err != nil {
		t.Errorf("UpdateWebhook on 204: %v", err)
	}

	srv, _ = cannedServer(t, http.StatusOK, jsonCT, `{"success":true,"event_id":"evt_1","deliveries":3,"duplicate":true}`)
	res, err := newClient(t, srv.URL, client.WithIngestToken(testIngestToken)).PublishEvent(ctx, client.Event{AccountID: "a", Type: "outbound.delivered"})
	if err != nil || res.EventID != "evt_1" || res.Deliveries != 3 || res.Duplicate == nil || !*res.Duplicate {
		t.Errorf("PublishEvent on 200 = %+v, %v", res, err)
	}
}

func TestSuccessWithUndecodableBody(t *testing.T) {
	srv, _ := cannedServer(t, http.StatusOK, map[string]string{"Content-Type": "application/json"}, `<html>oops</html>`)
	_, err := newClient(t, srv.URL).ListWebhooks(context.Background())
	var apiErr *client.Error
	if err == nil || errors.As(err, &apiErr) || !strings.HasPrefix(err.Error(), "jetwebhooks: list webhooks: ") {
		t.Fatalf("err = %v, want a wrapped decode error", err)
	}
	srv, _ = cannedServer(t, http.StatusCreated, nil, ``)
	_, err = newClient(t, srv.URL).CreateWebhook(context.Background(), client.CreateWebhookRequest{})
	if err == nil || !strings.Contains(err.Error(), "decode response") {
		t.Fatalf("err = %v, want a decode error for an empty 201", err)
	}
}

func TestHelpers(t *testing.T) {
	if p := client.Ptr(42); *p != 42 {
		t.Errorf("Ptr(42) = %v", *p)
	}
	if s := client.Status(true); *s != models.StatusInputEnabled {
		t.Errorf("Status(true) = %v", *s)
	}
	if s := client.Status(false); *s != models.StatusInputDisabled {
		t.Errorf("Status(false) = %v", *s)
	}

	values := []string{"a.example", "b.example"}
	f := client.Filter(values...)
	values[0] = "changed"
	cases := []struct {
		name string
		req  client.UpdateWebhookRequest
		want string
	}{
		{"unset", client.UpdateWebhookRequest{}, `{"uuid":"00000000-0000-0000-0000-000000000000"}`},
		{"set", client.UpdateWebhookRequest{FilterDomains: f}, `{"filter_domains":["a.example","b.example"],"uuid":"00000000-0000-0000-0000-000000000000"}`},
		{"empty", client.UpdateWebhookRequest{FilterUsers: client.Filter()}, `{"filter_users":[],"uuid":"00000000-0000-0000-0000-000000000000"}`},
		{"clear", client.UpdateWebhookRequest{FilterUsers: client.ClearFilter()}, `{"filter_users":null,"uuid":"00000000-0000-0000-0000-000000000000"}`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(b) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, b, tc.want)
		}
	}
}
