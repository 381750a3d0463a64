package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/apiclient"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// Version is the version of this client library. It appears in the default
// User-Agent, "jetwebhooks-go/<Version>".
const Version = "0.1.0"

// defaultTimeout bounds a request made with the default HTTP client. A
// context deadline, or an HTTP client given with WithHTTPClient, takes over.
const defaultTimeout = 30 * time.Second

// maxErrorBody caps how much of an error answer is read.
const maxErrorBody = 1 << 20

// Request and response types, re-exported from the generated models so that
// users need only this package.
type (
	// Webhook is a webhook subscription. Its Secret is set by GetWebhook and
	// CreateWebhook, and nil in ListWebhooks results.
	Webhook = models.Webhook
	// CreateWebhookRequest is the body of CreateWebhook. Name, URL and Events
	// are required; Status defaults to enabled and the filters to null (all).
	CreateWebhookRequest = models.CreateWebhookRequest
	// UpdateWebhookRequest is the body of UpdateWebhook. UUID is required;
	// fields left unset are not changed (see Filter and ClearFilter).
	UpdateWebhookRequest = models.UpdateWebhookRequest
	// QueryRequest filters QueryEvents; every field is optional.
	QueryRequest = models.QueryRequest
	// QueryResponse is one page of delivery records from QueryEvents.
	QueryResponse = models.QueryResponse
	// EventRecord is one event delivered to one webhook, as QueryEvents
	// returns it.
	EventRecord = models.EventRecord
	// ReplayRequest names what ReplayEvent re-queues: exactly one of
	// EventID or SourceUID, optionally restricted to one webhook by UUID.
	ReplayRequest = models.ReplayRequest
	// Event is an event published with PublishEvent or PublishEvents.
	// AccountID and Type are required.
	Event = models.IngestEvent
	// PublishResult is the server's answer for one published event: its id,
	// how many deliveries were queued, and whether it was a duplicate.
	PublishResult = models.IngestResponse
	// EventType is any event type that can occur, including
	// "outbound.queued", which no webhook can subscribe to.
	EventType = models.EventType
	// SubscribableEventType is an event type a webhook can subscribe to.
	SubscribableEventType = models.SubscribableEventType
	// ErrorDetail names one offending field of a rejected request; see
	// Error.Details.
	ErrorDetail = models.ErrorDetail
	// StatusInput is a webhook status in a request: 0 disabled, 1 enabled.
	// See Status.
	StatusInput = models.StatusInput
	// WebhookStatus is a webhook status in a response: "enabled" or
	// "disabled".
	WebhookStatus = models.WebhookStatus
	// QueryStatus is the delivery status QueryRequest.Status filters on.
	QueryStatus = models.QueryStatus
	// DeliveryStatus is the latest delivery status of an EventRecord.
	DeliveryStatus = models.DeliveryStatus
	// TestResult is the outcome of TestWebhook's attempt.
	TestResult = models.TestDeliveryResponse
	// DeliveryAttempt is one HTTP attempt of a delivery: when, how long, the
	// receiver's status, why it failed and the start of its answer. See
	// ListDeliveryAttempts and EventRecord.LastAttempt.
	DeliveryAttempt = models.DeliveryAttempt
	// ErrorClass says why an attempt failed ("timeout", "http_status", …).
	ErrorClass = models.ErrorClass
	// Ordering is a webhook's delivery order (jetwebhooks extension):
	// OrderingFIFO or OrderingUnordered.
	Ordering = models.Ordering
)

// The delivery orders of a webhook (jetwebhooks extension; see Ordering).
const (
	OrderingUnordered = models.OrderingUnordered
	OrderingFIFO      = models.OrderingFIFO
)

// AttemptPage is one page of ListDeliveryAttemptsPage.
type AttemptPage struct {
	Attempts []DeliveryAttempt
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// fromWithSecret is a webhook of an answer that always carries the secret
// (create, get, rotate) as the client's one Webhook type.
func fromWithSecret(w models.WebhookWithSecret) *Webhook {
	secret := w.Secret
	return &Webhook{
		UUID: w.UUID, Name: w.Name, URL: w.URL, Events: w.Events, Status: w.Status, Secret: &secret,
		FilterUsers: w.FilterUsers, FilterDomains: w.FilterDomains, CreatedAt: w.CreatedAt, LastModified: w.LastModified,
		DisabledReason: w.DisabledReason, DisabledAt: w.DisabledAt, PreviousSecretExpiresAt: w.PreviousSecretExpiresAt,
		Headers:  w.Headers,
		Ordering: w.Ordering, RateLimit: w.RateLimit,
	}
}

// WebhookPage is one page of ListWebhooksPage.
type WebhookPage struct {
	Webhooks []Webhook
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// CallOption adjusts one request.
type CallOption func(*http.Request)

// WithIdempotencyKey makes a create or publish safe to retry: the server
// answers a repeated request with the same key and body with the first
// response instead of doing it again (for 24 hours). Use a fresh random key
// per logical operation and reuse it only for retries of that operation.
func WithIdempotencyKey(key string) CallOption {
	return func(r *http.Request) { r.Header.Set("Idempotency-Key", key) }
}

// Data encodes v (typically a map or struct) as an event's data object.
func Data(v any) (*json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: encode event data: %w", err)
	}
	raw := json.RawMessage(b)
	return &raw, nil
}

// MustData is Data for values that always encode (map and struct literals);
// it panics otherwise.
func MustData(v any) *json.RawMessage {
	raw, err := Data(v)
	if err != nil {
		panic(err)
	}
	return raw
}

// Client calls a jetwebhooks server. Create one with New; it is safe for
// concurrent use by multiple goroutines.
type Client struct {
	api         *apiclient.ClientWithResponses
	apiKey      string
	ingestToken string
	userAgent   string
	// retries says whether requests are retried (RetryPolicy), and so
	// whether creates and publishes get an Idempotency-Key made up.
	retries bool
}

// config collects what the Options set.
type config struct {
	httpClient  *http.Client
	userAgent   string
	ingestToken string
	retry       RetryPolicy
}

// Option configures a Client; pass Options to New.
type Option func(*config)

// WithHTTPClient makes the Client send its requests with hc instead of a
// default http.Client with a 30-second timeout. A nil hc is ignored.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request. The default is
// "jetwebhooks-go/" + Version; an empty ua keeps the default.
func WithUserAgent(ua string) Option {
	return func(c *config) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithIngestToken sets the bearer token PublishEvent and PublishEvents send:
// the server's ingest token, which is server configuration, not an account
// key. No other method sends it, and Publish* never send the account key.
// Without this option Publish* send no Authorization header.
func WithIngestToken(token string) Option {
	return func(c *config) {
		c.ingestToken = token
	}
}

// New returns a Client for the server at baseURL, an absolute http or https
// URL, optionally with a path prefix ("https://example.com/jetwebhooks").
// apiKey is the account's API key, sent as "Authorization: Bearer <apiKey>"
// by every method except PublishEvent and PublishEvents; when it is empty no
// Authorization header is sent. New fails if baseURL is empty, relative, not
// http(s), has no host, or has a query or fragment.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	server, err := checkBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	cfg := config{userAgent: "jetwebhooks-go/" + Version, retry: DefaultRetryPolicy}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.httpClient == nil {
		cfg.httpClient = &http.Client{Timeout: defaultTimeout}
	}
	hc := cfg.httpClient
	if cfg.retry.MaxAttempts > 1 {
		// A copy, so the caller's http.Client is left as it was.
		cp := *hc
		next := cp.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		cp.Transport = &retryTransport{next: next, policy: cfg.retry, sleep: sleepCtx}
		hc = &cp
	}
	api, err := apiclient.NewClientWithResponses(server, apiclient.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %w", err)
	}
	return &Client{
		api:         api,
		apiKey:      apiKey,
		ingestToken: cfg.ingestToken,
		userAgent:   cfg.userAgent,
		retries:     cfg.retry.MaxAttempts > 1,
	}, nil
}

// checkBaseURL validates baseURL and returns it normalised.
func checkBaseURL(baseURL string) (string, error) {
	if strings.TrimSpace(baseURL) == "" {
		return "", errors.New("jetwebhooks: base URL is empty")
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("jetwebhooks: invalid base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("jetwebhooks: invalid base URL %q: must be an absolute http or https URL", u.Redacted())
	case u.Host == "":
		return "", fmt.Errorf("jetwebhooks: invalid base URL %q: no host", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("jetwebhooks: invalid base URL %q: must not have a query or fragment", u.Redacted())
	}
	return u.String(), nil
}

// editor returns the request editor that authenticates a request with token
// and sets the User-Agent.
func (c *Client) editor(token string, opts ...CallOption) apiclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("User-Agent", c.userAgent)
		req.Header.Set("Accept", "application/json")
		for _, o := range opts {
			o(req)
		}
		return nil
	}
}

// publishEditor prepares a publish for retries. Events that all carry an id
// are safe to send again as they are (the server accepts an id once), so
// they need no Idempotency-Key, which would cost the server a record per
// request; events without ids get a made-up key (keyedEditor).
func (c *Client) publishEditor(ctx context.Context, evs []Event, opts []CallOption) (context.Context, apiclient.RequestEditorFn) {
	for _, ev := range evs {
		if ev.ID == nil || *ev.ID == "" {
			return ctx, c.keyedEditor(c.ingestToken, opts...)
		}
	}
	return markSafe(ctx), c.editor(c.ingestToken, opts...)
}

// keyedEditor is editor for a create or publish: with retries on and no
// Idempotency-Key from the caller, it sends one made up for this call, so a
// retry is answered once instead of creating twice.
func (c *Client) keyedEditor(token string, opts ...CallOption) apiclient.RequestEditorFn {
	edit := c.editor(token, opts...)
	return func(ctx context.Context, req *http.Request) error {
		if err := edit(ctx, req); err != nil {
			return err
		}
		if c.retries && req.Header.Get("Idempotency-Key") == "" {
			req.Header.Set("Idempotency-Key", idempotencyKey())
		}
		return nil
	}
}

// send runs one generated call, wrapping a transport error with op and
// turning an answer outside 2xx into an *Error. On success the caller owns
// the returned response (and its body).
func send(op string, call func() (*http.Response, error)) (*http.Response, error) {
	rsp, err := call()
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	if rsp.StatusCode < 200 || rsp.StatusCode > 299 {
		defer rsp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(rsp.Body, maxErrorBody))
		return nil, newError(rsp, body)
	}
	return rsp, nil
}

// discard drains and closes the body of a response whose content is not
// needed, so the connection can be reused.
func discard(rsp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rsp.Body, maxErrorBody))
	_ = rsp.Body.Close()
}

// decoded returns typed when the generated parser decoded the body (it does
// so only for the status code the contract names, with a JSON content type);
// otherwise, for any other 2xx, it decodes raw itself.
func decoded[T any](op string, typed *T, raw []byte) (*T, error) {
	if typed != nil {
		return typed, nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: decode response: %w", op, err)
	}
	return &v, nil
}

// checkUUID refuses the values that cannot name a webhook in a URL path:
// "." and ".." are dot segments, which the URL resolver would remove.
func checkUUID(op, uuid string) error {
	switch uuid {
	case "":
		return fmt.Errorf("jetwebhooks: %s: empty uuid", op)
	case ".", "..":
		return fmt.Errorf("jetwebhooks: %s: invalid uuid %q", op, uuid)
	}
	return nil
}

// ListWebhooks returns every webhook of the account, oldest first, following
// the server's pages. Secrets are not included; use GetWebhook for a
// webhook's secret.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var all []Webhook
	cursor := ""
	seen := map[string]bool{}
	for {
		page, err := c.ListWebhooksPage(ctx, 0, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Webhooks...)
		if page.NextCursor == "" {
			if all == nil {
				all = []Webhook{}
			}
			return all, nil
		}
		// A cursor seen before would list the same webhooks again (and,
		// answered in a cycle, forever): the listing cannot be trusted.
		if seen[page.NextCursor] {
			return nil, errors.New("jetwebhooks: list webhooks: the server repeated a page cursor")
		}
		seen[page.NextCursor] = true
		cursor = page.NextCursor
	}
}

// ListWebhooksPage returns one page of the account's webhooks: up to limit
// (0: the server's cap, 1000) after cursor ("" for the first page).
func (c *Client) ListWebhooksPage(ctx context.Context, limit int, cursor string) (*WebhookPage, error) {
	const op = "list webhooks"
	params := &models.ListWebhooksParams{}
	if limit > 0 {
		params.Limit = &limit
	}
	if cursor != "" {
		params.Cursor = &cursor
	}
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.ListWebhooks(ctx, params, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseListWebhooksResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	body, err := decoded(op, parsed.JSON200, parsed.Body)
	if err != nil {
		return nil, err
	}
	page := &WebhookPage{Webhooks: body.Webhooks}
	if body.NextCursor != nil {
		page.NextCursor = *body.NextCursor
	}
	return page, nil
}

// ListDeliveryAttempts returns every attempt of the delivery of event
// eventID to the webhook uuid (the ID and UUID of an EventRecord), oldest
// first, following cursors. A delivery the account does not have yields an
// *Error with StatusCode 404 (see IsNotFound).
func (c *Client) ListDeliveryAttempts(ctx context.Context, uuid, eventID string) ([]DeliveryAttempt, error) {
	all := []DeliveryAttempt{}
	cursor := ""
	seen := map[string]bool{}
	for {
		page, err := c.ListDeliveryAttemptsPage(ctx, uuid, eventID, 0, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Attempts...)
		if page.NextCursor == "" {
			return all, nil
		}
		if seen[page.NextCursor] {
			return nil, errors.New("jetwebhooks: list delivery attempts: the server repeated a page cursor")
		}
		seen[page.NextCursor] = true
		cursor = page.NextCursor
	}
}

// ListDeliveryAttemptsPage returns one page of a delivery's attempts: up to
// limit (0: the server's cap, 1000) after cursor ("" for the first page).
func (c *Client) ListDeliveryAttemptsPage(ctx context.Context, uuid, eventID string, limit int, cursor string) (*AttemptPage, error) {
	const op = "list delivery attempts"
	if err := checkUUID(op, uuid); err != nil {
		return nil, err
	}
	if eventID == "" || eventID == "." || eventID == ".." {
		return nil, fmt.Errorf("jetwebhooks: %s: invalid event id %q", op, eventID)
	}
	params := &models.ListDeliveryAttemptsParams{}
	if limit > 0 {
		params.Limit = &limit
	}
	if cursor != "" {
		params.Cursor = &cursor
	}
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.ListDeliveryAttempts(ctx, uuid, eventID, params, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseListDeliveryAttemptsResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	body, err := decoded(op, parsed.JSON200, parsed.Body)
	if err != nil {
		return nil, err
	}
	page := &AttemptPage{Attempts: body.Attempts}
	if page.Attempts == nil {
		page.Attempts = []DeliveryAttempt{}
	}
	if body.NextCursor != nil {
		page.NextCursor = *body.NextCursor
	}
	return page, nil
}

// RotateSecret gives the webhook a new signing secret and returns the webhook
// with it. For grace (0 to 7 days) the old secret keeps signing deliveries
// too, so receivers can switch over; a negative grace takes the server's
// default of 24 hours.
func (c *Client) RotateSecret(ctx context.Context, uuid string, grace time.Duration) (*Webhook, error) {
	const op = "rotate secret"
	if err := checkUUID(op, uuid); err != nil {
		return nil, err
	}
	body := models.RotateSecretRequest{}
	if grace >= 0 {
		secs := int(grace / time.Second)
		body.GracePeriod = &secs
	}
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.RotateWebhookSecret(ctx, uuid, body, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseRotateWebhookSecretResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	out, err := decoded(op, parsed.JSON200, parsed.Body)
	if err != nil {
		return nil, err
	}
	return fromWithSecret(out.Webhook), nil
}

// TestWebhook delivers a sample event of eventType ("" for
// outbound.delivered) to the webhook at once and returns the attempt's
// outcome. A failed delivery is not an error: see TestResult.Delivered.
func (c *Client) TestWebhook(ctx context.Context, uuid string, eventType SubscribableEventType) (*TestResult, error) {
	const op = "test webhook"
	if err := checkUUID(op, uuid); err != nil {
		return nil, err
	}
	body := models.TestDeliveryRequest{}
	if eventType != "" {
		body.EventType = &eventType
	}
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.TestWebhook(ctx, uuid, body, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseTestWebhookResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	return decoded(op, parsed.JSON200, parsed.Body)
}

// GetWebhook returns the webhook named by uuid, including its signing secret.
// The uuid is path-escaped, so any string is safe; an unknown one yields an
// *Error with StatusCode 404 (see IsNotFound). An empty uuid, "." or ".." is
// refused without a request.
func (c *Client) GetWebhook(ctx context.Context, uuid string) (*Webhook, error) {
	const op = "get webhook"
	if err := checkUUID(op, uuid); err != nil {
		return nil, err
	}
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.GetWebhook(ctx, uuid, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseGetWebhookResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	body, err := decoded(op, parsed.JSON200, parsed.Body)
	if err != nil {
		return nil, err
	}
	return fromWithSecret(body.Webhook), nil
}

// CreateWebhook creates a webhook and returns it, with the signing secret the
// server generated for it.
//
// With WithIdempotencyKey a retry after a network error cannot create a
// second webhook.
func (c *Client) CreateWebhook(ctx context.Context, req CreateWebhookRequest, opts ...CallOption) (*Webhook, error) {
	const op = "create webhook"
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.CreateWebhook(ctx, &models.CreateWebhookParams{}, req, c.keyedEditor(c.apiKey, opts...))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseCreateWebhookResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	body, err := decoded(op, parsed.JSON200, parsed.Body)
	if err != nil {
		return nil, err
	}
	return fromWithSecret(body.Webhook), nil
}

// UpdateWebhook changes the fields set in req of the webhook named by
// req.UUID; unset fields are left as they are. Filter sets a filter and
// ClearFilter removes it.
func (c *Client) UpdateWebhook(ctx context.Context, req UpdateWebhookRequest) error {
	rsp, err := send("update webhook", func() (*http.Response, error) {
		return c.api.UpdateWebhook(ctx, req, c.editor(c.apiKey))
	})
	if err != nil {
		return err
	}
	discard(rsp)
	return nil
}

// DeleteWebhook deletes the webhook named by uuid and cancels its pending
// deliveries; its delivery history stays queryable. The uuid is path-escaped
// as in GetWebhook.
func (c *Client) DeleteWebhook(ctx context.Context, uuid string) error {
	const op = "delete webhook"
	if err := checkUUID(op, uuid); err != nil {
		return err
	}
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.DeleteWebhook(ctx, uuid, c.editor(c.apiKey))
	})
	if err != nil {
		return err
	}
	discard(rsp)
	return nil
}

// QueryEvents searches the account's delivery history, newest first. Use
// req.Limit and req.Offset to page through QueryResponse.Total records.
func (c *Client) QueryEvents(ctx context.Context, req QueryRequest) (*QueryResponse, error) {
	const op = "query events"
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.QueryWebhookEvents(markSafe(ctx), req, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseQueryWebhookEventsResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	return decoded(op, parsed.JSON200, parsed.Body)
}

// ReplayEvent re-queues a past event (req.EventID), or every event of a
// message (req.SourceUID), for a fresh delivery to the webhooks it originally
// went to, or only to req.UUID when set.
func (c *Client) ReplayEvent(ctx context.Context, req ReplayRequest) (*ReplayResponse, error) {
	const op = "replay event"
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.ReplayWebhookEvent(ctx, req, c.editor(c.apiKey))
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseReplayWebhookEventResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	if parsed.JSON200 == nil {
		return nil, fmt.Errorf("jetwebhooks: %s: unexpected answer %d", op, rsp.StatusCode)
	}
	// The spec's answer is a oneOf of two shapes; one struct holds both.
	return decoded[ReplayResponse](op, nil, parsed.Body)
}

// ReplayResponse is the answer to ReplayEvent, for a replay by event id and
// by source uid alike.
type ReplayResponse struct {
	Success bool `json:"success"`
	// ReplayedBy is "event_id" or "source_uid": what the request named.
	ReplayedBy string `json:"replayed_by"`
	// EventID is the replayed event; for a replay by source uid, the newest
	// of the message's events.
	EventID string `json:"event_id"`
	// SourceUID is the replayed message (replays by source uid only).
	SourceUID string              `json:"source_uid,omitempty"`
	Status    models.ReplayStatus `json:"status"`
	Message   string              `json:"message"`
	// Deliveries is how many fresh deliveries were queued.
	Deliveries int `json:"deliveries"`
}

// PublishEvent publishes one event for delivery to every matching webhook of
// ev.AccountID. It authenticates with the ingest token (WithIngestToken), not
// the account key. Once it returns without error the event is stored; an
// event whose ID was published before is accepted again with
// PublishResult.Duplicate set and queues nothing.
func (c *Client) PublishEvent(ctx context.Context, ev Event, opts ...CallOption) (*PublishResult, error) {
	const op = "publish event"
	ctx2, edit := c.publishEditor(ctx, []Event{ev}, opts)
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.IngestEvent(ctx2, &models.IngestEventParams{}, ev, edit)
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseIngestEventResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	return decoded(op, parsed.JSON202, parsed.Body)
}

// PublishEvents publishes a batch of events in one transaction: all are
// accepted or none is. The results are in the order of evs. Like PublishEvent
// it authenticates with the ingest token. An empty batch is a no-op that
// sends no request; the server refuses batches larger than it allows (1000).
func (c *Client) PublishEvents(ctx context.Context, evs []Event, opts ...CallOption) ([]PublishResult, error) {
	const op = "publish events"
	if len(evs) == 0 {
		return []PublishResult{}, nil
	}
	ctx2, edit := c.publishEditor(ctx, evs, opts)
	rsp, err := send(op, func() (*http.Response, error) {
		return c.api.IngestEventBatch(ctx2, &models.IngestEventBatchParams{}, models.IngestBatchRequest{Events: evs}, edit)
	})
	if err != nil {
		return nil, err
	}
	parsed, err := apiclient.ParseIngestEventBatchResponse(rsp)
	if err != nil {
		return nil, fmt.Errorf("jetwebhooks: %s: %w", op, err)
	}
	body, err := decoded(op, parsed.JSON202, parsed.Body)
	if err != nil {
		return nil, err
	}
	if len(body.Results) != len(evs) {
		return body.Results, fmt.Errorf("jetwebhooks: %s: server returned %d results for %d events", op, len(body.Results), len(evs))
	}
	return body.Results, nil
}
