package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// exampleServer is a real jetwebhooks server (the API over SQLite) running in
// this process, so the examples run as written. In your code, the URL is your
// server's and the key is an account's API key.
type exampleServer struct {
	URL         string
	APIKey      string
	AccountID   string
	IngestToken string
	close       func()
}

// Close stops the server and deletes its database.
func (s *exampleServer) Close() { s.close() }

// startExampleServer starts a server with one account, which owns the sending
// username "api-user" and the inbound domain "example.com".
func startExampleServer() *exampleServer {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "jetwebhooks-example-")
	if err != nil {
		log.Fatal(err)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "jetwebhooks.db"), sqlitestore.Options{})
	if err != nil {
		_ = os.RemoveAll(dir)
		log.Fatal(err)
	}
	acc, key, err := accounts.Create(ctx, st, "Example Inc", []string{"api-user"}, []string{"example.com"}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	const ingestToken = "example-ingest-token"
	// Loopback is allowed so that TestWebhook's example can reach its
	// receiver on this machine; a production server refuses it.
	policy := egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := delivery.New(st, delivery.Config{Client: policy.NewClient(5 * time.Second), Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := api.New(ctx, api.Config{
		IngestToken: ingestToken,
		Egress:      policy,
		Logger:      logger,
		Tester:      engine,
	}, st, &ingest.Publisher{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	return &exampleServer{
		URL: hs.URL, APIKey: key, AccountID: acc.ID, IngestToken: ingestToken,
		close: func() {
			hs.Close()
			_ = st.Close()
			_ = os.RemoveAll(dir)
		},
	}
}

// createExampleWebhook creates a webhook for the outbound.delivered event.
func createExampleWebhook(c *client.Client, name string) *client.Webhook {
	wh, err := c.CreateWebhook(context.Background(), client.CreateWebhookRequest{
		Name:   name,
		URL:    "https://example.com/webhook",
		Events: []client.SubscribableEventType{"outbound.delivered"},
	})
	if err != nil {
		log.Fatal(err)
	}
	return wh
}

func ExampleNew() {
	srv := startExampleServer()
	defer srv.Close()

	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	hooks, err := c.ListWebhooks(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("webhooks:", len(hooks))

	// The base URL is checked before any request is made.
	_, err = client.New("ftp://hooks.example.com", srv.APIKey)
	fmt.Println(err)
	// Output:
	// webhooks: 0
	// jetwebhooks: invalid base URL "ftp://hooks.example.com": must be an absolute http or https URL
}

func ExampleClient_CreateWebhook() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	wh, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name:   "Production Webhook",
		URL:    "https://example.com/webhook",
		Events: []client.SubscribableEventType{"outbound.delivered", "outbound.bounced"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", wh.Status)
	fmt.Println("events:", wh.Events)
	fmt.Println("all users:", wh.FilterUsers.IsNull())
	fmt.Println("secret prefix:", (*wh.Secret)[:6])

	// A refused request is an *client.Error with the status and the
	// offending fields.
	_, err = c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name:   "Internal",
		URL:    "http://10.0.0.1/webhook",
		Events: []client.SubscribableEventType{"outbound.delivered"},
	})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println("refused:", apiErr.StatusCode, apiErr.Details[0].Field)
	}
	// Output:
	// status: enabled
	// events: [outbound.delivered outbound.bounced]
	// all users: true
	// secret prefix: whsec_
	// refused: 400 /url
}

func ExampleClient_GetWebhook() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	created := createExampleWebhook(c, "Orders")

	wh, err := c.GetWebhook(ctx, created.UUID.String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("name:", wh.Name)
	fmt.Println("same secret:", *wh.Secret == *created.Secret)

	_, err = c.GetWebhook(ctx, "00000000-0000-4000-8000-000000000000")
	fmt.Println("unknown uuid is not found:", client.IsNotFound(err))
	// Output:
	// name: Orders
	// same secret: true
	// unknown uuid is not found: true
}

func ExampleClient_ListWebhooks() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	createExampleWebhook(c, "Orders")
	createExampleWebhook(c, "Billing")

	// Oldest first. Lists never carry secrets; GetWebhook does.
	hooks, err := c.ListWebhooks(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("webhooks:", len(hooks))
	for _, wh := range hooks {
		fmt.Printf("%s, secret listed: %t\n", wh.Status, wh.Secret != nil)
	}
	// Output:
	// webhooks: 2
	// enabled, secret listed: false
	// enabled, secret listed: false
}

func ExampleClient_UpdateWebhook() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	wh, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name:        "Orders",
		URL:         "https://example.com/webhook",
		Events:      []client.SubscribableEventType{"outbound.delivered"},
		FilterUsers: client.Filter("api-user"),
	})
	if err != nil {
		log.Fatal(err)
	}

	// Disable it and remove its user filter; the fields left unset (name,
	// url, events, filter_domains) do not change.
	err = c.UpdateWebhook(ctx, client.UpdateWebhookRequest{
		UUID:        wh.UUID,
		Status:      client.Status(false),
		FilterUsers: client.ClearFilter(),
	})
	if err != nil {
		log.Fatal(err)
	}

	wh, err = c.GetWebhook(ctx, wh.UUID.String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("name:", wh.Name)
	fmt.Println("status:", wh.Status)
	fmt.Println("all users:", wh.FilterUsers.IsNull())
	// Output:
	// name: Orders
	// status: disabled
	// all users: true
}

func ExampleClient_DeleteWebhook() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	wh := createExampleWebhook(c, "Temporary")

	if err := c.DeleteWebhook(ctx, wh.UUID.String()); err != nil {
		log.Fatal(err)
	}
	_, err = c.GetWebhook(ctx, wh.UUID.String())
	fmt.Println("deleted:", client.IsNotFound(err))
	err = c.DeleteWebhook(ctx, wh.UUID.String())
	fmt.Println("second delete:", err)
	// Output:
	// deleted: true
	// second delete: jetwebhooks: 404: Webhook not found.
}

func ExampleClient_QueryEvents() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	publisher, err := client.New(srv.URL, "", client.WithIngestToken(srv.IngestToken))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	createExampleWebhook(c, "Orders")
	_, err = publisher.PublishEvent(ctx, client.Event{
		ID:        client.Ptr("evt_query_example"),
		AccountID: srv.AccountID,
		Type:      "outbound.delivered",
		User:      client.Ptr("api-user"),
		SourceUID: client.Ptr("message-uid-123"),
		Data:      client.MustData(map[string]any{"to": "user@example.com"}),
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.QueryEvents(ctx, client.QueryRequest{
		EventType: client.Ptr[client.EventType]("outbound.delivered"),
		Limit:     client.Ptr(10),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("total:", res.Total)
	for _, ev := range res.Events {
		var data struct {
			To string `json:"to"`
		}
		_ = json.Unmarshal(ev.Payload, &data)
		fmt.Println(ev.ID, ev.EventType, ev.LatestStatus, "attempts:", ev.TotalAttempts, "to:", data.To)
		fmt.Println("response code known:", !ev.LastResponseCode.IsNull())
	}
	// Output:
	// total: 1
	// evt_query_example outbound.delivered pending attempts: 0 to: user@example.com
	// response code known: false
}

func ExampleClient_ReplayEvent() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	publisher, err := client.New(srv.URL, "", client.WithIngestToken(srv.IngestToken))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	createExampleWebhook(c, "Orders")
	_, err = publisher.PublishEvent(ctx, client.Event{
		ID: client.Ptr("evt_order_1001"), AccountID: srv.AccountID, Type: "outbound.delivered",
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_order_1001")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Success, res.EventID, res.Status, res.Deliveries)
	fmt.Println(res.Message)

	_, err = c.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_never_sent")})
	fmt.Println("unknown event is not found:", client.IsNotFound(err))
	// Output:
	// true evt_order_1001 enqueued 1
	// Event re-queued for delivery
	// unknown event is not found: true
}

func ExampleClient_PublishEvent() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	createExampleWebhook(c, "Orders")

	// Publishing uses the server's ingest token, not an account key.
	publisher, err := client.New(srv.URL, "", client.WithIngestToken(srv.IngestToken))
	if err != nil {
		log.Fatal(err)
	}
	ev := client.Event{
		ID:        client.Ptr("evt_example_1"),
		AccountID: srv.AccountID,
		Type:      "outbound.delivered",
		User:      client.Ptr("api-user"),
		Data:      client.MustData(map[string]any{"to": "user@example.com", "subject": "Your order"}),
	}
	for range 2 {
		res, err := publisher.PublishEvent(context.Background(), ev)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.EventID, "deliveries:", res.Deliveries, "duplicate:", res.Duplicate != nil && *res.Duplicate)
	}
	// Output:
	// evt_example_1 deliveries: 1 duplicate: false
	// evt_example_1 deliveries: 0 duplicate: true
}

func ExampleClient_PublishEvents() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	createExampleWebhook(c, "Orders")
	publisher, err := client.New(srv.URL, "", client.WithIngestToken(srv.IngestToken))
	if err != nil {
		log.Fatal(err)
	}

	// All events of a batch are accepted together, or none is.
	results, err := publisher.PublishEvents(context.Background(), []client.Event{
		{ID: client.Ptr("evt_batch_1"), AccountID: srv.AccountID, Type: "outbound.delivered"},
		{ID: client.Ptr("evt_batch_2"), AccountID: srv.AccountID, Type: "outbound.queued"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.EventID, "deliveries:", r.Deliveries)
	}
	// Output:
	// evt_batch_1 deliveries: 1
	// evt_batch_2 deliveries: 0
}

func ExampleClient_ListWebhooksPage() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"Orders", "Billing", "Support"} {
		createExampleWebhook(c, name)
	}

	// Two at a time, oldest first; NextCursor is empty on the last page.
	// ListWebhooks does this for you.
	ctx := context.Background()
	cursor := ""
	for {
		page, err := c.ListWebhooksPage(ctx, 2, cursor)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("webhooks:", len(page.Webhooks), "more:", page.NextCursor != "")
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	// Output:
	// webhooks: 2 more: true
	// webhooks: 1 more: false
}

func ExampleClient_RotateSecret() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	wh := createExampleWebhook(c, "Orders")

	// The old secret keeps signing for an hour, so receivers can switch.
	rotated, err := c.RotateSecret(ctx, wh.UUID.String(), time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new secret:", *rotated.Secret != *wh.Secret)
	until, _ := rotated.PreviousSecretExpiresAt.Get()
	fmt.Println("old secret signs for:", time.Duration(until-rotated.LastModified)*time.Second)

	// A grace period of 0 retires the old secret at once.
	rotated, err = c.RotateSecret(ctx, wh.UUID.String(), 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("old secret retired:", rotated.PreviousSecretExpiresAt.IsNull())
	// Output:
	// new secret: true
	// old secret signs for: 1h0m0s
	// old secret retired: true
}

func ExampleClient_TestWebhook() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// A receiver that checks the signatures with the webhook's secret
	// (known once the webhook is created).
	var verifier atomic.Pointer[signature.Verifier]
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v := verifier.Load()
		if v == nil {
			http.Error(w, "no secret yet", http.StatusServiceUnavailable)
			return
		}
		if _, err := v.Verify(r.Header, body); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "thanks")
	}))
	defer receiver.Close()
	wh, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name:   "Orders",
		URL:    receiver.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"},
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := signature.NewVerifier([]string{*wh.Secret})
	if err != nil {
		log.Fatal(err)
	}
	verifier.Store(v)

	res, err := c.TestWebhook(ctx, wh.UUID.String(), "outbound.bounced")
	if err != nil {
		log.Fatal(err)
	}
	code, _ := res.StatusCode.Get()
	fmt.Println("delivered:", res.Delivered, res.Status, code, *res.ResponseBody)
	// Output:
	// delivered: true success 200 thanks
}
