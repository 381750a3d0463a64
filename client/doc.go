// Package client is the Go client for a jetwebhooks server: a self-hostable
// implementation of JetEmail's webhooks API. It manages webhook subscriptions
// (list, get, create, update, delete), searches the delivery history, replays
// past events and, with the server's ingest token, publishes new events for
// delivery.
//
// The client is a thin, typed layer over the code generated from the
// project's openapi.yaml (gen/apiclient); the request and response types are
// re-exported here as aliases, so importing this package is enough.
//
// Usage:
//
//	c, err := client.New("https://hooks.example.com", os.Getenv("JETWEBHOOKS_API_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	wh, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
//		Name:   "Production",
//		URL:    "https://example.com/webhook",
//		Events: []client.SubscribableEventType{"outbound.delivered", "outbound.bounced"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	fmt.Println(wh.UUID, *wh.Secret)
//
//	// Disable it and clear its user filter: unset fields are left unchanged.
//	err = c.UpdateWebhook(ctx, client.UpdateWebhookRequest{
//		UUID:        wh.UUID,
//		Status:      client.Status(false),
//		FilterUsers: client.ClearFilter(),
//	})
//
//	_, err = c.GetWebhook(ctx, "no-such-webhook")
//	if client.IsNotFound(err) {
//		// ...
//	}
//
// Every answer outside 2xx is returned as an *Error carrying the HTTP status,
// the server's message and any field details; use errors.As to inspect it.
// Transport failures (connection refused, context cancelled, ...) are
// returned wrapped, so errors.Is(err, context.Canceled) works, and are never
// an *Error.
//
// Publishing events (POST /events, /events/batch) is authenticated with the
// server's ingest token rather than an account key; pass it with
// WithIngestToken.
//
// A Client is safe for concurrent use.
package client
