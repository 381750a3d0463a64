package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/nullable"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

var errDeliveryNotFound = newError(http.StatusNotFound, "Delivery not found.")

// ListDeliveryAttempts implements GET /webhooks/{uuid}/events/{event_id}/attempts:
// a delivery's attempts, oldest first, paged like GET /webhooks.
func (h handlers) ListDeliveryAttempts(ctx context.Context, req apiserver.ListDeliveryAttemptsRequestObject) (apiserver.ListDeliveryAttemptsResponseObject, error) {
	id, ok := canonicalUUID(req.UUID)
	// No event id holds a NUL; the databases could not even compare one.
	if !ok || strings.ContainsRune(req.EventID, 0) {
		return nil, errDeliveryNotFound
	}
	limit := listCap
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	p := &store.ListDeliveryAttemptsParams{AccountID: accountFrom(ctx).ID, WebhookUUID: id, EventID: req.EventID, Limit: limit + 1}
	if req.Params.Cursor != nil {
		after, ok := decodeAttemptCursor(*req.Params.Cursor)
		if !ok {
			return nil, badRequest("Invalid cursor: pass a next_cursor from a previous answer.", models.ErrorDetail{Field: "cursor", Reason: "is not a cursor this server issued"})
		}
		p.AfterNumber = after
	}
	as, err := h.store.ListDeliveryAttempts(ctx, p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errDeliveryNotFound
	}
	if err != nil {
		return nil, err
	}
	resp := apiserver.ListDeliveryAttempts200JSONResponse{Success: true}
	if len(as) > limit {
		as = as[:limit]
		next := encodeAttemptCursor(as[limit-1].Number)
		resp.NextCursor = &next
	}
	resp.Attempts = make([]models.DeliveryAttempt, len(as))
	for i, a := range as {
		resp.Attempts[i] = attemptModel(a)
	}
	return resp, nil
}

// attemptModel is the API's view of a recorded attempt: absent status code
// and error are null; the class of a success is left out.
func attemptModel(a *store.Attempt) models.DeliveryAttempt {
	m := models.DeliveryAttempt{
		Attempt: a.Number, At: a.At.Unix(), DurationMs: a.Duration.Milliseconds(), ResponseBody: a.ResponseBody,
		StatusCode: nullable.NewNullNullable[int](), Error: nullable.NewNullNullable[string](),
	}
	if a.StatusCode > 0 {
		m.StatusCode = nullable.NewNullableWithValue(a.StatusCode)
	}
	if a.ErrorClass != "" {
		class := models.ErrorClass(a.ErrorClass)
		m.ErrorClass = &class
	}
	if a.Error != "" {
		m.Error = nullable.NewNullableWithValue(a.Error)
	}
	return m
}

// lastAttemptModel is a query record's last_attempt: null before the first.
func lastAttemptModel(a *store.Attempt) nullable.Nullable[models.DeliveryAttempt] {
	if a == nil {
		return nullable.NewNullNullable[models.DeliveryAttempt]()
	}
	return nullable.NewNullableWithValue(attemptModel(a))
}

// Attempt cursors are opaque to clients: base64url of "a:<attempt number>".
func encodeAttemptCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a:" + strconv.Itoa(n)))
}

func decodeAttemptCursor(c string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	num, ok := strings.CutPrefix(string(raw), "a:")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n <= 0 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}
