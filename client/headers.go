package client

import (
	"maps"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/nullable"
)

// WebhookHeaders are a webhook's custom headers, name → value: sent with
// every delivery, before the service's own (a jetwebhooks extension). The
// server refuses, with a 400 naming the header, names that are not HTTP
// tokens or are reserved (Host, Content-*, User-Agent, the hop-by-hop ones,
// Webhook-* and X-Webhook-* …), values with control characters other than
// tab, and more than 20 headers or 4096 bytes in all.
//
// Webhook.Headers is set by GetWebhook, CreateWebhook and RotateSecret when
// the webhook has any (nil otherwise), and always nil in ListWebhooks
// results: like the secret, the values may be credentials.
type WebhookHeaders = models.WebhookHeaders

// Headers returns h as CreateWebhookRequest.Headers: the webhook is created
// with these custom headers. The map is copied; nil or empty is none.
//
//	client.CreateWebhookRequest{…, Headers: client.Headers(map[string]string{"Authorization": "Bearer " + token})}
func Headers(h map[string]string) *WebhookHeaders {
	if len(h) == 0 {
		return nil
	}
	cp := WebhookHeaders(maps.Clone(h))
	return &cp
}

// SetHeaders returns h as UpdateWebhookRequest.Headers: every custom header
// of the webhook is replaced by these (they are not merged: give the whole
// set). The map is copied; nil or empty removes them all, like ClearHeaders.
// A field left at its zero value is omitted and keeps the headers.
func SetHeaders(h map[string]string) nullable.Nullable[WebhookHeaders] {
	if h == nil {
		h = map[string]string{}
	}
	return nullable.NewNullableWithValue(WebhookHeaders(maps.Clone(h)))
}

// ClearHeaders returns an explicit null for UpdateWebhookRequest.Headers:
// it removes every custom header of the webhook.
func ClearHeaders() nullable.Nullable[WebhookHeaders] {
	return nullable.NewNullNullable[WebhookHeaders]()
}
