package client_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	openapi_types "github.com/oapi-codegen/runtime/types"
)

const (
	testAPIKey      = "api_0123456789abcdef"
	testIngestToken = "ingest_s3cret"
)

// recorded is one request the fake server received.
type recorded struct {
	Method      string
	Path        string // decoded
	EscapedPath string // as sent on the wire
	PathUUID    string // the {uuid} wildcard, decoded, when the route has one
	Query       url.Values
	Header      http.Header
	Body        []byte
}

// fakeAPI is an in-memory stand-in for a jetwebhooks server, answering with
// the JSON shapes of openapi.yaml: {"success": true, ...} on success and
// {"success": false, "error": "...", "details": [...]} on failure.
type fakeAPI struct {
	t *testing.T

	mu       sync.Mutex
	reqs     []recorded
	webhooks map[string]*models.Webhook
	order    []string
	next     int
	events   int
	// pageCap is the most webhooks one list answer holds (default 1000, the
	// real server's cap); tests lower it to make ListWebhooks page.
	pageCap int
	// testFails makes test sends report an unreachable endpoint.
	testFails bool
	// idem holds the answers of requests made with an Idempotency-Key.
	idem map[string]idemAnswer
}

// idemAnswer is a stored answer for an Idempotency-Key.
type idemAnswer struct {
	request string // method, path and body of the first request
	status  int
	body    []byte
}

// fakeNow is the fake server's clock (unix seconds).
const fakeNow = 1700000000

// newFake starts a fake server; its URL is the base URL for client.New.
func newFake(t *testing.T) (*fakeAPI, *httptest.Server) {
	t.Helper()
	f := &fakeAPI{t: t, webhooks: map[string]*models.Webhook{}, pageCap: 1000, idem: map[string]idemAnswer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhooks", f.account(f.list))
	mux.HandleFunc("POST /webhooks", f.account(f.idempotent(f.create)))
	mux.HandleFunc("PATCH /webhooks", f.account(f.update))
	mux.HandleFunc("GET /webhooks/{uuid}", f.account(f.get))
	mux.HandleFunc("DELETE /webhooks/{uuid}", f.account(f.delete))
	mux.HandleFunc("POST /webhooks/{uuid}/rotate-secret", f.account(f.rotate))
	mux.HandleFunc("POST /webhooks/{uuid}/test", f.account(f.test))
	mux.HandleFunc("POST /webhooks/query", f.account(f.query))
	mux.HandleFunc("POST /webhooks/replay", f.account(f.replay))
	mux.HandleFunc("POST /events", f.ingest(f.idempotent(f.publish)))
	mux.HandleFunc("POST /events/batch", f.ingest(f.idempotent(f.publishBatch)))
	srv := httptest.NewServer(f.record(mux))
	t.Cleanup(srv.Close)
	return f, srv
}

// requests returns a copy of what the server has received so far.
func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeAPI) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			f.t.Errorf("fake: read body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{
			Method:      r.Method,
			Path:        r.URL.Path,
			EscapedPath: r.URL.EscapedPath(),
			Query:       r.URL.Query(),
			Header:      r.Header.Clone(),
			Body:        body,
		})
		f.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// setPathUUID stores the {uuid} wildcard of the latest request.
func (f *fakeAPI) setPathUUID(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs[len(f.reqs)-1].PathUUID = v
}

func (f *fakeAPI) account(h http.HandlerFunc) http.HandlerFunc {
	return f.auth(testAPIKey, "Missing or invalid API key.", h)
}

func (f *fakeAPI) ingest(h http.HandlerFunc) http.HandlerFunc {
	return f.auth(testIngestToken, "Missing or invalid ingest token.", h)
}

func (f *fakeAPI) auth(token, msg string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string, details ...models.ErrorDetail) {
	writeJSON(w, status, models.Error{Success: false, Error: msg, Details: details})
}

// decode reads a JSON body strictly, as the real server does
// (additionalProperties: false); it answers 400 and returns false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body.", models.ErrorDetail{Field: "body", Reason: err.Error()})
		return false
	}
	return true
}

// list pages as the real server does: oldest first, at most limit (or
// pageCap) webhooks after the cursor, and next_cursor while there are more.
// Its cursors are "after:<uuid>".
func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := f.pageCap
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "Invalid limit.", models.ErrorDetail{Field: "limit", Reason: "must be 1 to 1000"})
			return
		}
		limit = min(n, f.pageCap)
	}
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		after, ok := strings.CutPrefix(c, "after:")
		i := slices.Index(f.order, after)
		if !ok || i < 0 {
			writeError(w, http.StatusBadRequest, "Invalid cursor: pass a next_cursor from a previous answer.", models.ErrorDetail{Field: "cursor", Reason: "is not a cursor this server issued"})
			return
		}
		start = i + 1
	}
	out := make([]models.Webhook, 0, limit)
	for _, id := range f.order[start:] {
		if len(out) == limit {
			break
		}
		wh := *f.webhooks[id]
		wh.Secret = nil // secrets are absent in lists
		out = append(out, wh)
	}
	resp := models.WebhookListResponse{Success: true, Webhooks: out}
	if start+len(out) < len(f.order) {
		resp.NextCursor = ptr("after:" + out[len(out)-1].UUID.String())
	}
	writeJSON(w, http.StatusOK, resp)
}

// rotate gives the webhook a new secret; the old one keeps signing for the
// grace period (default 86400 s, 0 to 604800).
func (f *fakeAPI) rotate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	f.setPathUUID(id)
	var req models.RotateSecretRequest
	if !decodeOptional(w, r, &req) {
		return
	}
	grace := 86400
	if req.GracePeriod != nil {
		grace = *req.GracePeriod
	}
	if grace < 0 || grace > 604800 {
		writeError(w, http.StatusBadRequest, "Invalid grace_period: must be 0 to 604800.", models.ErrorDetail{Field: "/grace_period", Reason: "must be 0 to 604800"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wh, ok := f.webhooks[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	f.next++
	wh.Secret = ptr(fmt.Sprintf("whsec_secret%d", f.next))
	wh.PreviousSecretExpiresAt.SetNull()
	if grace > 0 {
		wh.PreviousSecretExpiresAt.Set(fakeNow + int64(grace))
	}
	wh.LastModified = fakeNow
	writeJSON(w, http.StatusOK, models.WebhookResponse{Success: true, Message: ptr("Webhook secret rotated"), Webhook: secretView(*wh)})
}

// test answers a test send's outcome without sending anything.
func (f *fakeAPI) test(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	f.setPathUUID(id)
	var req models.TestDeliveryRequest
	if !decodeOptional(w, r, &req) {
		return
	}
	if req.EventType != nil && (*req.EventType == "" || !strings.Contains(string(*req.EventType), ".")) {
		writeError(w, http.StatusBadRequest, "Invalid event_type.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.webhooks[id]; !ok {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	f.events++
	res := models.TestDeliveryResponse{Success: true, EventID: fmt.Sprintf("evt_test%d", f.events), DurationMs: 12}
	if f.testFails {
		res.Status = models.DeliveryStatusFailed
		res.StatusCode.SetNull()
		res.Error.Set("connection refused")
	} else {
		res.Delivered, res.Status = true, models.DeliveryStatusSuccess
		res.StatusCode.Set(200)
		res.Error.SetNull()
		res.ResponseBody = ptr(`{"ok":true}`)
	}
	writeJSON(w, http.StatusOK, res)
}

// idempotent gives a handler Stripe's Idempotency-Key semantics, as the real
// server does: a repeat of the same request gets the first answer (marked
// Idempotent-Replayed), another request with the key a 409; failures do not
// keep the key.
func (f *fakeAPI) idempotent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			h(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		request := r.Method + " " + r.URL.Path + "\n" + string(body)
		f.mu.Lock()
		prev, ok := f.idem[key]
		f.mu.Unlock()
		if ok {
			if prev.request != request {
				writeError(w, http.StatusConflict, "This Idempotency-Key was already used with a different request.")
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return
		}
		rec := httptest.NewRecorder()
		h(rec, r)
		if rec.Code < 400 {
			f.mu.Lock()
			f.idem[key] = idemAnswer{request: request, status: rec.Code, body: rec.Body.Bytes()}
			f.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// decodeOptional is decode for a body that may be absent.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	body, _ := io.ReadAll(r.Body)
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(w, r, v)
}

func (f *fakeAPI) create(w http.ResponseWriter, r *http.Request) {
	var req models.CreateWebhookRequest
	if !decode(w, r, &req) {
		return
	}
	var details []models.ErrorDetail
	if strings.TrimSpace(req.Name) == "" {
		details = append(details, models.ErrorDetail{Field: "/name", Reason: "is required"})
	}
	if len(req.Events) == 0 {
		details = append(details, models.ErrorDetail{Field: "/events", Reason: "must contain at least 1 item"})
	}
	if details != nil {
		writeError(w, http.StatusBadRequest, "Validation failed.", details...)
		return
	}
	f.mu.Lock()
	f.next++
	id := fmt.Sprintf("6f1c2d3e-4b5a-4c6d-8e7f-%012d", f.next)
	status := models.WebhookStatusEnabled
	if req.Status != nil && *req.Status == models.StatusInputDisabled {
		status = models.WebhookStatusDisabled
	}
	wh := &models.Webhook{
		UUID:          mustUUID(f.t, id),
		Name:          req.Name,
		URL:           req.URL,
		Secret:        ptr(fmt.Sprintf("whsec_secret%d", f.next)),
		Events:        req.Events,
		Status:        status,
		FilterUsers:   req.FilterUsers,
		FilterDomains: req.FilterDomains,
		CreatedAt:     fakeNow,
		LastModified:  fakeNow,
	}
	wh.PreviousSecretExpiresAt.SetNull()
	wh.DisabledReason.SetNull()
	wh.DisabledAt.SetNull()
	if !wh.FilterUsers.IsSpecified() {
		wh.FilterUsers.SetNull()
	}
	if !wh.FilterDomains.IsSpecified() {
		wh.FilterDomains.SetNull()
	}
	f.webhooks[id] = wh
	f.order = append(f.order, id)
	out := *wh
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, models.WebhookResponse{Success: true, Message: ptr("Webhook created successfully"), Webhook: secretView(out)})
}

func (f *fakeAPI) update(w http.ResponseWriter, r *http.Request) {
	var req models.UpdateWebhookRequest
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wh, ok := f.webhooks[req.UUID.String()]
	if !ok {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	if req.Name != nil {
		wh.Name = *req.Name
	}
	if req.URL != nil {
		wh.URL = *req.URL
	}
	if req.Events != nil {
		wh.Events = *req.Events
	}
	if req.Status != nil {
		wh.Status = models.WebhookStatusEnabled
		if *req.Status == models.StatusInputDisabled {
			wh.Status = models.WebhookStatusDisabled
		}
	}
	if req.FilterUsers.IsSpecified() {
		wh.FilterUsers = req.FilterUsers
	}
	if req.FilterDomains.IsSpecified() {
		wh.FilterDomains = req.FilterDomains
	}
	wh.LastModified++
	writeJSON(w, http.StatusOK, models.MessageResponse{Success: true, Message: "Webhook updated successfully"})
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	f.setPathUUID(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	wh, ok := f.webhooks[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	writeJSON(w, http.StatusOK, models.WebhookResponse{Success: true, Webhook: secretView(*wh)})
}

func (f *fakeAPI) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	f.setPathUUID(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.webhooks[id]; !ok {
		writeError(w, http.StatusNotFound, "Webhook not found.")
		return
	}
	delete(f.webhooks, id)
	for i, v := range f.order {
		if v == id {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
	writeJSON(w, http.StatusOK, models.MessageResponse{Success: true, Message: "Webhook deleted successfully"})
}

func (f *fakeAPI) query(w http.ResponseWriter, r *http.Request) {
	var req models.QueryRequest
	if !decode(w, r, &req) {
		return
	}
	limit, offset := 50, 0
	if req.Limit != nil {
		limit = *req.Limit
	}
	if req.Offset != nil {
		offset = *req.Offset
	}
	et := models.EventTypeOutboundDelivered
	if req.EventType != nil {
		et = *req.EventType
	}
	rec := models.EventRecord{
		ID:            "evt_xyz789",
		UUID:          mustUUID(f.t, "6f1c2d3e-4b5a-4c6d-8e7f-000000000001"),
		Service:       models.ServiceOutbound,
		EventType:     et,
		SourceUID:     "message-uid-123",
		SourceAction:  "ACCEPTED",
		Payload:       json.RawMessage(`{"to":"user@example.com"}`),
		WebhookURL:    "https://example.com/webhook",
		CreatedAt:     1700000100,
		LatestStatus:  models.DeliveryStatusSuccess,
		TotalAttempts: 1,
	}
	rec.LastResponseCode.Set(200)
	pending := rec
	pending.ID = "evt_pending"
	pending.LatestStatus = models.DeliveryStatusPending
	pending.TotalAttempts = 0
	pending.LastResponseCode = nil
	pending.LastResponseCode.SetNull()
	writeJSON(w, http.StatusOK, models.QueryResponse{
		Events: []models.EventRecord{rec, pending},
		Total:  2,
		Limit:  limit,
		Offset: offset,
	})
}

func (f *fakeAPI) replay(w http.ResponseWriter, r *http.Request) {
	var req models.ReplayRequest
	if !decode(w, r, &req) {
		return
	}
	if (req.EventID == nil) == (req.SourceUID == nil) {
		writeError(w, http.StatusBadRequest, "Exactly one of event_id or source_uid is required.")
		return
	}
	id := "evt_newest"
	if req.EventID != nil {
		id = *req.EventID
	}
	if id == "evt_missing" {
		writeError(w, http.StatusNotFound, "Event not found.")
		return
	}
	writeJSON(w, http.StatusOK, models.ReplayEventResponse{
		Success:    true,
		ReplayedBy: models.ReplayEventResponseReplayedByEventID,
		EventID:    id,
		Status:     models.ReplayStatusEnqueued,
		Message:    "Event queued for replay",
		Deliveries: 1,
	})
}

func (f *fakeAPI) ingestOne(ev models.IngestEvent) models.IngestResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events++
	id := fmt.Sprintf("evt_gen%d", f.events)
	if ev.ID != nil {
		id = *ev.ID
	}
	return models.IngestResponse{Success: true, EventID: id, Deliveries: len(f.webhooks)}
}

func (f *fakeAPI) publish(w http.ResponseWriter, r *http.Request) {
	var ev models.IngestEvent
	if !decode(w, r, &ev) {
		return
	}
	writeJSON(w, http.StatusAccepted, f.ingestOne(ev))
}

func (f *fakeAPI) publishBatch(w http.ResponseWriter, r *http.Request) {
	var req models.IngestBatchRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Events) == 0 {
		writeError(w, http.StatusBadRequest, "Validation failed.", models.ErrorDetail{Field: "/events", Reason: "must contain at least 1 item"})
		return
	}
	out := models.IngestBatchResponse{Success: true}
	for _, ev := range req.Events {
		out.Results = append(out.Results, f.ingestOne(ev))
	}
	writeJSON(w, http.StatusAccepted, out)
}

func mustUUID(t *testing.T, s string) openapi_types.UUID {
	t.Helper()
	var u openapi_types.UUID
	if err := u.UnmarshalText([]byte(s)); err != nil {
		t.Fatalf("uuid %q: %v", s, err)
	}
	return u
}

func ptr[T any](v T) *T { return &v }

// newHandlerServer starts a server running h.
func newHandlerServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// cannedServer answers every request with the same status, headers and body,
// and counts the requests.
func cannedServer(t *testing.T, status int, header map[string]string, body string) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// secretView is w as the answers that always carry the secret show it.
func secretView(w models.Webhook) models.WebhookWithSecret {
	secret := ""
	if w.Secret != nil {
		secret = *w.Secret
	}
	return models.WebhookWithSecret{
		UUID: w.UUID, Name: w.Name, URL: w.URL, Events: w.Events, Status: w.Status, Secret: secret,
		FilterUsers: w.FilterUsers, FilterDomains: w.FilterDomains, CreatedAt: w.CreatedAt, LastModified: w.LastModified,
		DisabledReason: w.DisabledReason, DisabledAt: w.DisabledAt, PreviousSecretExpiresAt: w.PreviousSecretExpiresAt,
	}
}
