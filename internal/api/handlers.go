package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/nullable"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

var _ apiserver.StrictServerInterface = (*handlers)(nil)

// handlers implements the generated strict interface over the store. Expected
// failures are returned as *Error; ErrorHandler renders every error.
type handlers struct{ *API }

func (h handlers) now() time.Time { return h.cfg.Now() }

// listCap is how many webhooks GET /webhooks answers at most without a limit.
const listCap = 1000

// ListWebhooks implements GET /webhooks: all webhooks up to listCap, as
// JetEmail answers, or a page when limit/cursor are given.
func (h handlers) ListWebhooks(ctx context.Context, req apiserver.ListWebhooksRequestObject) (apiserver.ListWebhooksResponseObject, error) {
	acc := accountFrom(ctx)
	limit := listCap
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	p := &store.ListWebhooksParams{AccountID: acc.ID, Limit: limit + 1}
	if req.Params.Cursor != nil {
		created, id, ok := decodeCursor(*req.Params.Cursor)
		if !ok {
			return nil, badRequest("Invalid cursor: pass a next_cursor from a previous answer.", models.ErrorDetail{Field: "cursor", Reason: "is not a cursor this server issued"})
		}
		p.AfterCreated, p.AfterUUID = created, id
	}
	ws, err := h.store.ListWebhooks(ctx, p)
	if err != nil {
		return nil, err
	}
	resp := apiserver.ListWebhooks200JSONResponse{Success: true}
	if len(ws) > limit {
		ws = ws[:limit]
		last := ws[limit-1]
		next := encodeCursor(last.CreatedAt, last.UUID)
		resp.NextCursor = &next
	}
	resp.Webhooks = make([]models.Webhook, len(ws))
	for i, w := range ws {
		resp.Webhooks[i] = toModel(w)
	}
	return resp, nil
}

// Cursors are opaque to clients: base64url of "<created ms>:<uuid>".
func encodeCursor(created time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixMilli(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	msPart, id, ok := strings.Cut(string(raw), ":")
	ms, err := strconv.ParseInt(msPart, 10, 64)
	if !ok || err != nil || ms <= 0 || !isUUID(id) {
		return time.Time{}, "", false
	}
	return time.UnixMilli(ms).UTC(), id, true
}

// RotateWebhookSecret implements POST /webhooks/{uuid}/rotate-secret.
func (h handlers) RotateWebhookSecret(ctx context.Context, req apiserver.RotateWebhookSecretRequestObject) (apiserver.RotateWebhookSecretResponseObject, error) {
	w, err := h.lookup(ctx, req.UUID)
	if err != nil {
		return nil, err
	}
	grace := 24 * time.Hour
	if req.Body != nil && req.Body.GracePeriod != nil {
		grace = time.Duration(*req.Body.GracePeriod) * time.Second
	}
	secret, err := signature.NewSecret()
	if err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	now := h.now()
	w, err = h.store.RotateSecret(ctx, &store.RotateSecretParams{AccountID: w.AccountID, UUID: w.UUID, Secret: secret,
		PreviousExpiresAt: now.Add(grace), Now: now})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errWebhookNotFound
	}
	if err != nil {
		return nil, err
	}
	h.log.Info("webhook secret rotated", "account", w.AccountID, "webhook", w.UUID, "grace", grace.String())
	msg := "Webhook secret rotated"
	return apiserver.RotateWebhookSecret200JSONResponse{Success: true, Message: &msg, Webhook: toModelWithSecret(w)}, nil
}

// TestWebhook implements POST /webhooks/{uuid}/test.
func (h handlers) TestWebhook(ctx context.Context, req apiserver.TestWebhookRequestObject) (apiserver.TestWebhookResponseObject, error) {
	if h.cfg.Tester == nil {
		return nil, newError(http.StatusServiceUnavailable, "Test sends are not available on this server.")
	}
	w, err := h.lookup(ctx, req.UUID)
	if err != nil {
		return nil, err
	}
	typ := string(models.SubscribableEventTypeOutboundDelivered)
	if req.Body != nil && req.Body.EventType != nil {
		typ = string(*req.Body.EventType)
	}
	now := h.now()
	ev, err := h.publisher.Prepare(ctx, ingest.Event{
		AccountID: w.AccountID, Type: typ, SourceUID: "test-" + ingest.NewEventID()[4:], SourceAction: "TEST",
		Data: map[string]any{
			"test":    true,
			"message": "This is a test event sent by jetwebhooks to check your endpoint and its signature verification.",
			"from":    "sender@example.com", "to": "recipient@example.com", "subject": "jetwebhooks test event",
		},
	})
	if err != nil {
		return nil, err
	}
	claim, err := h.store.CreateTestDelivery(ctx, ev, w.UUID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errWebhookNotFound
	}
	if err != nil {
		return nil, err
	}
	o, err := h.cfg.Tester.SendNow(ctx, claim)
	if err != nil {
		return nil, err
	}
	resp := apiserver.TestWebhook200JSONResponse{
		Success: true, Delivered: o.Status == store.StatusSuccess, EventID: ev.ID,
		Status: models.DeliveryStatus(o.Status), DurationMs: o.Duration.Milliseconds(),
		StatusCode: nullable.NewNullNullable[int](), Error: nullable.NewNullNullable[string](),
	}
	if o.StatusCode > 0 {
		resp.StatusCode = nullable.NewNullableWithValue(o.StatusCode)
	}
	if o.Error != "" && o.Status != store.StatusSuccess {
		resp.Error = nullable.NewNullableWithValue(o.Error)
	}
	if o.ErrorClass != "" {
		class := models.ErrorClass(o.ErrorClass)
		resp.ErrorClass = &class
	}
	if o.ResponseBody != "" {
		b := o.ResponseBody
		resp.ResponseBody = &b
	}
	return resp, nil
}

// GetWebhook implements GET /webhooks/{uuid}.
func (h handlers) GetWebhook(ctx context.Context, req apiserver.GetWebhookRequestObject) (apiserver.GetWebhookResponseObject, error) {
	w, err := h.lookup(ctx, req.UUID)
	if err != nil {
		return nil, err
	}
	return getWebhookResponse{w}, nil
}

// lookup fetches a webhook of the caller; anything that is not a uuid of
// theirs is the same 404, so existence never leaks across accounts.
func (h handlers) lookup(ctx context.Context, id string) (*store.Webhook, error) {
	id, ok := canonicalUUID(id)
	if !ok {
		return nil, errWebhookNotFound
	}
	w, err := h.store.GetWebhook(ctx, accountFrom(ctx).ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errWebhookNotFound
	}
	return w, err
}

func canonicalUUID(s string) (string, bool) {
	if !isUUID(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// CreateWebhook implements POST /webhooks.
func (h handlers) CreateWebhook(ctx context.Context, req apiserver.CreateWebhookRequestObject) (apiserver.CreateWebhookResponseObject, error) {
	acc := accountFrom(ctx)
	b := req.Body
	if err := h.checkName(b.Name); err != nil {
		return nil, err
	}
	if err := h.checkURL(ctx, b.URL); err != nil {
		return nil, err
	}
	users, err := ownedFilter(b.FilterUsers, "filter_users", acc.Users, false)
	if err != nil {
		return nil, err
	}
	domains, err := ownedFilter(b.FilterDomains, "filter_domains", acc.Domains, true)
	if err != nil {
		return nil, err
	}
	var headers map[string]string
	if b.Headers != nil {
		if headers, err = checkHeaders(*b.Headers); err != nil {
			return nil, err
		}
	}
	secret, err := signature.NewSecret()
	if err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	now := h.now()
	w := &store.Webhook{
		UUID: id.String(), AccountID: acc.ID, Name: b.Name, URL: b.URL, Secret: secret,
		Events: eventStrings(b.Events), Enabled: b.Status == nil || *b.Status == models.StatusInputEnabled,
		FilterUsers: users, FilterDomains: domains, CreatedAt: now, LastModified: now,
	}
	w.Headers = headers
	if b.Ordering != nil {
		w.Ordering = string(*b.Ordering)
	}
	if b.RateLimit != nil {
		w.RateLimit = *b.RateLimit
	}
	// With an Idempotency-Key, the webhook and the record of this answer
	// commit together: a retry finds the webhook, or nothing was made.
	held := heldReservation(ctx)
	var idem *store.IdempotencyLease
	if held != nil {
		idem = &held.lease
	}
	if err := h.store.CreateWebhook(ctx, w, idem); err != nil {
		return nil, err
	}
	if held != nil {
		held.finished = true
	}
	h.log.Info("webhook created", "account", acc.ID, "webhook", w.UUID)
	return createdResponse(w), nil
}

// UpdateWebhook implements PATCH /webhooks.
func (h handlers) UpdateWebhook(ctx context.Context, req apiserver.UpdateWebhookRequestObject) (apiserver.UpdateWebhookResponseObject, error) {
	acc := accountFrom(ctx)
	b := req.Body
	id, ok := canonicalUUID(b.UUID.String())
	if !ok {
		return nil, errWebhookNotFound
	}
	p := &store.UpdateWebhookParams{AccountID: acc.ID, UUID: id, Now: h.now()}
	if b.Name != nil {
		if err := h.checkName(*b.Name); err != nil {
			return nil, err
		}
		p.Name = b.Name
	}
	if b.URL != nil {
		if err := h.checkURL(ctx, *b.URL); err != nil {
			return nil, err
		}
		p.URL = b.URL
	}
	if b.Events != nil {
		p.Events = eventStrings(*b.Events)
	}
	if b.Status != nil {
		on := *b.Status == models.StatusInputEnabled
		p.Enabled = &on
	}
	if b.Ordering != nil {
		o := string(*b.Ordering)
		p.Ordering = &o
	}
	p.RateLimit = b.RateLimit
	var err error
	if b.FilterUsers.IsSpecified() {
		p.SetFilterUsers = true
		if p.FilterUsers, err = ownedFilter(b.FilterUsers, "filter_users", acc.Users, false); err != nil {
			return nil, err
		}
	}
	if b.FilterDomains.IsSpecified() {
		p.SetFilterDomains = true
		if p.FilterDomains, err = ownedFilter(b.FilterDomains, "filter_domains", acc.Domains, true); err != nil {
			return nil, err
		}
	}
	if b.Headers.IsSpecified() {
		// The whole set is replaced; {} and null both remove every header.
		p.SetHeaders = true
		if v, gerr := b.Headers.Get(); gerr == nil {
			if p.Headers, err = checkHeaders(v); err != nil {
				return nil, err
			}
		}
	}
	if _, err := h.store.UpdateWebhook(ctx, p); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errWebhookNotFound
		}
		return nil, err
	}
	return apiserver.UpdateWebhook200JSONResponse{Success: true, Message: "Webhook updated successfully"}, nil
}

// DeleteWebhook implements DELETE /webhooks/{uuid}.
func (h handlers) DeleteWebhook(ctx context.Context, req apiserver.DeleteWebhookRequestObject) (apiserver.DeleteWebhookResponseObject, error) {
	id, ok := canonicalUUID(req.UUID)
	if !ok {
		return nil, errWebhookNotFound
	}
	acc := accountFrom(ctx)
	if err := h.store.DeleteWebhook(ctx, acc.ID, id, h.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errWebhookNotFound
		}
		return nil, err
	}
	h.log.Info("webhook deleted", "account", acc.ID, "webhook", id)
	return apiserver.DeleteWebhook200JSONResponse{Success: true, Message: "Webhook deleted successfully"}, nil
}

// maxQueryUnix caps date_from and date_to: the stores keep milliseconds in
// an int64, so later seconds overflowed (a date_to of 2^62 matched nothing, a
// date_from of 2^62 everything). No event is that late (created_at stops at
// the year 3000), so the cap changes no answer.
const maxQueryUnix = 1 << 40

// QueryWebhookEvents implements POST /webhooks/query.
func (h handlers) QueryWebhookEvents(ctx context.Context, req apiserver.QueryWebhookEventsRequestObject) (apiserver.QueryWebhookEventsResponseObject, error) {
	b := req.Body
	if b == nil {
		// No body at all is the query {}: JetEmail's SDKs send it so.
		b = &models.QueryRequest{}
	}
	if err := noNUL("event_id", b.EventID); err != nil {
		return nil, err
	}
	if err := noNUL("source_uid", b.SourceUID); err != nil {
		return nil, err
	}
	p := &store.QueryParams{AccountID: accountFrom(ctx).ID, Limit: 50}
	if b.Limit != nil {
		p.Limit = *b.Limit
	}
	if b.Offset != nil {
		p.Offset = *b.Offset
	}
	if b.UUID != nil {
		p.WebhookUUID = strings.ToLower(b.UUID.String())
	}
	if b.EventID != nil {
		p.EventID = *b.EventID
	}
	if b.EventType != nil {
		p.EventType = string(*b.EventType)
	}
	if b.SourceUID != nil {
		p.SourceUID = *b.SourceUID
	}
	if b.Status != nil {
		p.Status = string(*b.Status)
		if *b.Status == models.QueryStatusDelivered {
			p.Status = store.StatusSuccess
		}
	}
	if b.DateFrom != nil {
		t := time.Unix(min(*b.DateFrom, maxQueryUnix), 0)
		p.From = &t
	}
	if b.DateTo != nil {
		// Inclusive to the end of that second.
		t := time.Unix(min(*b.DateTo, maxQueryUnix), 0).Add(time.Second - time.Millisecond)
		p.To = &t
	}
	if b.DateFrom != nil && b.DateTo != nil && *b.DateFrom > *b.DateTo {
		return nil, badRequest("date_from must not be after date_to.", models.ErrorDetail{Field: "/date_from", Reason: "is after date_to"})
	}
	recs, total, err := h.store.QueryDeliveries(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]models.EventRecord, len(recs))
	for i, r := range recs {
		payload := json.RawMessage(r.Data)
		if len(payload) == 0 {
			payload = json.RawMessage("{}")
		}
		code := nullable.NewNullNullable[int]()
		if r.LastResponseCode != nil {
			code = nullable.NewNullableWithValue(*r.LastResponseCode)
		}
		u, _ := uuid.Parse(r.WebhookUUID)
		out[i] = models.EventRecord{
			ID: r.EventID, UUID: u, Service: models.Service(r.Service), EventType: models.EventType(r.EventType),
			SourceUID: r.SourceUID, SourceAction: r.SourceAction, Payload: payload, WebhookURL: r.WebhookURL,
			CreatedAt: r.CreatedAt.Unix(), LatestStatus: models.DeliveryStatus(r.Status), TotalAttempts: r.Attempts,
			LastResponseCode: code, LastAttempt: lastAttemptModel(r.LastAttempt),
		}
		if r.Replayed {
			// Only true is sent: a record never replayed keeps JetEmail's shape.
			out[i].Replayed = &r.Replayed
		}
	}
	return apiserver.QueryWebhookEvents200JSONResponse{Events: out, Total: total, Limit: p.Limit, Offset: p.Offset}, nil
}

// ReplayWebhookEvent implements POST /webhooks/replay.
func (h handlers) ReplayWebhookEvent(ctx context.Context, req apiserver.ReplayWebhookEventRequestObject) (apiserver.ReplayWebhookEventResponseObject, error) {
	b := req.Body
	if err := noNUL("event_id", b.EventID); err != nil {
		return nil, err
	}
	if err := noNUL("source_uid", b.SourceUID); err != nil {
		return nil, err
	}
	hasID, hasSource := b.EventID != nil, b.SourceUID != nil
	if hasID == hasSource {
		return nil, badRequest("Give exactly one of event_id or source_uid.",
			models.ErrorDetail{Field: "/event_id", Reason: "exactly one of event_id or source_uid is required"})
	}
	p := &store.ReplayParams{AccountID: accountFrom(ctx).ID, Now: h.now()}
	if hasID {
		p.EventID = *b.EventID
	} else {
		p.SourceUID = *b.SourceUID
	}
	if b.UUID != nil {
		p.WebhookUUID = strings.ToLower(b.UUID.String())
	}
	res, err := h.store.ReplayDeliveries(ctx, p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, h.replayNotFound(ctx, p.AccountID)
	}
	if err != nil {
		return nil, err
	}
	if h.publisher.Published != nil {
		h.publisher.Published()
	}
	var out models.ReplayResponse
	if b.SourceUID != nil {
		err = out.FromReplaySourceResponse(models.ReplaySourceResponse{Success: true,
			ReplayedBy: models.ReplaySourceResponseReplayedBySourceUID, SourceUID: *b.SourceUID, EventID: res.EventID,
			Status: models.ReplayStatusEnqueued, Message: "Events re-queued for delivery", Deliveries: res.Deliveries})
	} else {
		err = out.FromReplayEventResponse(models.ReplayEventResponse{Success: true,
			ReplayedBy: models.ReplayEventResponseReplayedByEventID, EventID: res.EventID,
			Status: models.ReplayStatusEnqueued, Message: "Event re-queued for delivery", Deliveries: res.Deliveries})
	}
	if err != nil {
		return nil, fmt.Errorf("replay answer: %w", err)
	}
	return apiserver.ReplayWebhookEvent200JSONResponse(out), nil
}

// IngestEvent implements POST /events.
func (h handlers) IngestEvent(ctx context.Context, req apiserver.IngestEventRequestObject) (apiserver.IngestEventResponseObject, error) {
	if err := ingestNUL(0, req.Body); err != nil {
		return nil, singleEventError(err)
	}
	res, err := h.publisher.Publish(ctx, []ingest.Event{fromIngestModel(req.Body)})
	if err != nil {
		return nil, singleEventError(err)
	}
	return apiserver.IngestEvent202JSONResponse{Body: toIngestResponse(res[0])}, nil
}

// singleEventError drops the batch index from errors about POST /events.
func singleEventError(err error) error {
	var inErr *ingest.InputError
	if errors.As(err, &inErr) {
		return badRequest(fmt.Sprintf("Event is invalid: %s %s.", inErr.Field, inErr.Reason),
			models.ErrorDetail{Field: "/" + inErr.Field, Reason: inErr.Reason})
	}
	return err
}

// IngestEventBatch implements POST /events/batch.
func (h handlers) IngestEventBatch(ctx context.Context, req apiserver.IngestEventBatchRequestObject) (apiserver.IngestEventBatchResponseObject, error) {
	evs := make([]ingest.Event, len(req.Body.Events))
	for i := range req.Body.Events {
		if err := ingestNUL(i, &req.Body.Events[i]); err != nil {
			return nil, err
		}
		evs[i] = fromIngestModel(&req.Body.Events[i])
	}
	res, err := h.publisher.Publish(ctx, evs)
	if err != nil {
		return nil, err
	}
	out := make([]models.IngestResponse, len(res))
	for i, r := range res {
		out[i] = toIngestResponse(r)
	}
	return apiserver.IngestEventBatch202JSONResponse{Body: models.IngestBatchResponse{Success: true, Results: out}}, nil
}

// reasonNUL is why a string with a NUL character is refused: the stores
// keep and compare these strings as text, which PostgreSQL cannot hold a NUL
// in (the query failed, a 500) and SQLite would keep; no identifier
// legitimately contains one. (Event data is stored as bytes and may.)
const reasonNUL = "must not contain a NUL character"

// noNUL refuses a NUL character in an optional string member.
func noNUL(field string, s *string) error {
	if s == nil || !strings.ContainsRune(*s, 0) {
		return nil
	}
	return badRequest(fmt.Sprintf("Invalid %s: %s.", field, reasonNUL), models.ErrorDetail{Field: "/" + field, Reason: reasonNUL})
}

// ingestNUL refuses a NUL character in an event's text members (id and type
// are held to a pattern and an enum by the schema).
func ingestNUL(i int, m *models.IngestEvent) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"account_id", &m.AccountID}, {"user", m.User}, {"domain", m.Domain}, {"source_uid", m.SourceUID}, {"source_action", m.SourceAction}} {
		if f.v != nil && strings.ContainsRune(*f.v, 0) {
			return &ingest.InputError{Index: i, Field: f.name, Reason: reasonNUL}
		}
	}
	return nil
}

func fromIngestModel(m *models.IngestEvent) ingest.Event {
	e := ingest.Event{AccountID: m.AccountID, Type: string(m.Type)}
	if m.Data != nil {
		e.RawData = *m.Data
	}
	e.ID = deref(m.ID)
	e.User = deref(m.User)
	e.Domain = strings.ToLower(deref(m.Domain))
	e.SourceUID = deref(m.SourceUID)
	e.SourceAction = deref(m.SourceAction)
	if m.CreatedAt != nil {
		e.CreatedAt = time.Unix(*m.CreatedAt, 0)
	}
	return e
}

func toIngestResponse(r store.PublishResult) models.IngestResponse {
	out := models.IngestResponse{Success: true, EventID: r.EventID, Deliveries: r.Deliveries}
	if r.Duplicate {
		d := true
		out.Duplicate = &d
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h handlers) checkName(name string) error {
	if strings.TrimSpace(name) == "" {
		return badRequest("Invalid name: must not be only whitespace.", models.ErrorDetail{Field: "/name", Reason: "must not be only whitespace"})
	}
	return nil
}

// checkURL applies the egress policy to a webhook URL. Every refusal gets the
// same answer (see egress.RefusedMessage); why is for the log only.
func (h handlers) checkURL(ctx context.Context, raw string) error {
	if err := h.cfg.Egress.CheckURL(raw); err != nil {
		h.log.Info("webhook url refused", "account", accountFrom(ctx).ID, "reason", err.Error())
		return badRequest(egress.RefusedMessage, models.ErrorDetail{Field: "/url", Reason: "is not an allowed or reachable destination"})
	}
	return nil
}

// ownedFilter resolves a filter from the request: absent or null means all
// (nil); every named value must be one the account owns.
func ownedFilter(v nullable.Nullable[models.FilterList], field string, owned []string, fold bool) ([]string, error) {
	if !v.IsSpecified() || v.IsNull() {
		return nil, nil
	}
	list, _ := v.Get()
	out := make([]string, 0, len(list))
	seen := map[string]bool{}
	for i, s := range list {
		if fold {
			s = strings.ToLower(s)
		}
		if !containsString(owned, s) {
			what := "a username of this account"
			if fold {
				what = "an inbound domain of this account"
			}
			shown := s
			if r := []rune(shown); len(r) > 64 {
				shown = string(r[:64]) + "…"
			}
			return nil, badRequest(fmt.Sprintf("Invalid %s: %q is not %s.", field, shown, what),
				models.ErrorDetail{Field: fmt.Sprintf("/%s/%d", field, i), Reason: "is not " + what})
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func containsString(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func eventStrings(evs []models.SubscribableEventType) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e)
	}
	return out
}

// toModelWithSecret is the webhook as create, get and rotate-secret answer
// it: with its signing secret.
func toModelWithSecret(w *store.Webhook) models.WebhookWithSecret {
	m := toModel(w)
	return models.WebhookWithSecret{
		UUID: m.UUID, Name: m.Name, URL: m.URL, Events: m.Events, Status: m.Status, Secret: w.Secret,
		FilterUsers: m.FilterUsers, FilterDomains: m.FilterDomains, CreatedAt: m.CreatedAt, LastModified: m.LastModified,
		DisabledReason: m.DisabledReason, DisabledAt: m.DisabledAt, PreviousSecretExpiresAt: m.PreviousSecretExpiresAt,
		Headers:  headersModel(w.Headers),
		Ordering: m.Ordering, RateLimit: m.RateLimit,
	}
}

// toModel is the webhook as lists show it: without its secret.
func toModel(w *store.Webhook) models.Webhook {
	evs := make([]models.SubscribableEventType, len(w.Events))
	for i, e := range w.Events {
		evs[i] = models.SubscribableEventType(e)
	}
	status := models.WebhookStatusDisabled
	if w.Enabled {
		status = models.WebhookStatusEnabled
	}
	u, _ := uuid.Parse(w.UUID)
	m := models.Webhook{
		UUID: u, Name: w.Name, URL: w.URL, Events: evs, Status: status,
		FilterUsers: nullList(w.FilterUsers), FilterDomains: nullList(w.FilterDomains),
		CreatedAt: w.CreatedAt.Unix(), LastModified: w.LastModified.Unix(),
	}
	if w.DisabledReason != "" {
		m.DisabledReason = nullable.NewNullableWithValue(w.DisabledReason)
		m.DisabledAt = nullable.NewNullableWithValue(w.DisabledAt.Unix())
	} else {
		m.DisabledReason, m.DisabledAt = nullable.NewNullNullable[string](), nullable.NewNullNullable[int64]()
	}
	if w.PreviousSecret != "" && !w.PreviousSecretExpiresAt.IsZero() {
		m.PreviousSecretExpiresAt = nullable.NewNullableWithValue(w.PreviousSecretExpiresAt.Unix())
	} else {
		m.PreviousSecretExpiresAt = nullable.NewNullNullable[int64]()
	}
	// The delivery controls are extensions: shown only when set, so a
	// JetEmail client sees JetEmail's webhook.
	if w.Ordering == store.OrderingFIFO {
		o := models.OrderingFIFO
		m.Ordering = &o
	}
	if w.RateLimit > 0 {
		r := w.RateLimit
		m.RateLimit = &r
	}
	return m
}

func nullList(v []string) nullable.Nullable[[]string] {
	if v == nil {
		return nullable.NewNullNullable[[]string]()
	}
	return nullable.NewNullableWithValue(v)
}
