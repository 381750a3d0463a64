package api

import (
	"context"
	"net/http"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// ErrNotImplemented is what Unimplemented's operations return: a 501 in the
// API's JSON error shape.
var ErrNotImplemented error = newError(http.StatusNotImplemented, "This operation is not implemented by this server.")

// AccountFrom returns the account a request authenticated as (nil for the
// ingest operations, which authenticate with the ingest token). Operations
// given through Config.Handlers use it to scope what they do.
func AccountFrom(ctx context.Context) *store.Account { return accountFrom(ctx) }

// Unimplemented answers every operation with 501 in the JSON error shape.
// Embed it in an implementation of apiserver.StrictServerInterface that
// serves only some operations (see Config.Handlers).
type Unimplemented struct{}

var _ apiserver.StrictServerInterface = Unimplemented{}

// IngestEvent answers 501.
func (Unimplemented) IngestEvent(context.Context, apiserver.IngestEventRequestObject) (apiserver.IngestEventResponseObject, error) {
	return nil, ErrNotImplemented
}

// IngestEventBatch answers 501.
func (Unimplemented) IngestEventBatch(context.Context, apiserver.IngestEventBatchRequestObject) (apiserver.IngestEventBatchResponseObject, error) {
	return nil, ErrNotImplemented
}

// ListWebhooks answers 501.
func (Unimplemented) ListWebhooks(context.Context, apiserver.ListWebhooksRequestObject) (apiserver.ListWebhooksResponseObject, error) {
	return nil, ErrNotImplemented
}

// UpdateWebhook answers 501.
func (Unimplemented) UpdateWebhook(context.Context, apiserver.UpdateWebhookRequestObject) (apiserver.UpdateWebhookResponseObject, error) {
	return nil, ErrNotImplemented
}

// CreateWebhook answers 501.
func (Unimplemented) CreateWebhook(context.Context, apiserver.CreateWebhookRequestObject) (apiserver.CreateWebhookResponseObject, error) {
	return nil, ErrNotImplemented
}

// QueryWebhookEvents answers 501.
func (Unimplemented) QueryWebhookEvents(context.Context, apiserver.QueryWebhookEventsRequestObject) (apiserver.QueryWebhookEventsResponseObject, error) {
	return nil, ErrNotImplemented
}

// ReplayWebhookEvent answers 501.
func (Unimplemented) ReplayWebhookEvent(context.Context, apiserver.ReplayWebhookEventRequestObject) (apiserver.ReplayWebhookEventResponseObject, error) {
	return nil, ErrNotImplemented
}

// DeleteWebhook answers 501.
func (Unimplemented) DeleteWebhook(context.Context, apiserver.DeleteWebhookRequestObject) (apiserver.DeleteWebhookResponseObject, error) {
	return nil, ErrNotImplemented
}

// GetWebhook answers 501.
func (Unimplemented) GetWebhook(context.Context, apiserver.GetWebhookRequestObject) (apiserver.GetWebhookResponseObject, error) {
	return nil, ErrNotImplemented
}

// ListDeliveryAttempts answers 501.
func (Unimplemented) ListDeliveryAttempts(context.Context, apiserver.ListDeliveryAttemptsRequestObject) (apiserver.ListDeliveryAttemptsResponseObject, error) {
	return nil, ErrNotImplemented
}

// RotateWebhookSecret answers 501.
func (Unimplemented) RotateWebhookSecret(context.Context, apiserver.RotateWebhookSecretRequestObject) (apiserver.RotateWebhookSecretResponseObject, error) {
	return nil, ErrNotImplemented
}

// TestWebhook answers 501.
func (Unimplemented) TestWebhook(context.Context, apiserver.TestWebhookRequestObject) (apiserver.TestWebhookResponseObject, error) {
	return nil, ErrNotImplemented
}

// CreatePortalSession answers 501.
func (Unimplemented) CreatePortalSession(context.Context, apiserver.CreatePortalSessionRequestObject) (apiserver.CreatePortalSessionResponseObject, error) {
	return nil, ErrNotImplemented
}

// RevokePortalSessions answers 501.
func (Unimplemented) RevokePortalSessions(context.Context, apiserver.RevokePortalSessionsRequestObject) (apiserver.RevokePortalSessionsResponseObject, error) {
	return nil, ErrNotImplemented
}
