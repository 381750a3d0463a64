package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// getWebhookResponse answers GET /webhooks/{uuid} with exactly the bytes the
// generated GetWebhook200JSONResponse would write (TestWebhookJSONMatchesModel
// holds the two together), without building the model: its nullable fields
// are maps that each allocate and marshal through reflection, which made
// encoding the largest cost of the most frequent API call.
type getWebhookResponse struct{ w *store.Webhook }

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// VisitGetWebhookResponse implements apiserver.GetWebhookResponseObject.
func (r getWebhookResponse) VisitGetWebhookResponse(w http.ResponseWriter) error {
	bp := jsonBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"success":true,"webhook":`...)
	b = appendWebhookJSON(b, r.w, true)
	b = append(b, "}\n"...) // json.Encoder ends with a newline
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	*bp = b
	jsonBufs.Put(bp)
	return err
}

// appendWebhookJSON appends what json.Marshal of toModelWithSecret(w) (or,
// without the secret, toModel(w)) gives,
// member for member in the model's field order.
func appendWebhookJSON(b []byte, w *store.Webhook, withSecret bool) []byte {
	b = append(b, `{"created_at":`...)
	b = strconv.AppendInt(b, w.CreatedAt.Unix(), 10)
	if w.DisabledReason != "" {
		b = append(b, `,"disabled_at":`...)
		b = strconv.AppendInt(b, w.DisabledAt.Unix(), 10)
		b = append(b, `,"disabled_reason":`...)
		b = appendJSONString(b, w.DisabledReason)
	} else {
		b = append(b, `,"disabled_at":null,"disabled_reason":null`...)
	}
	b = append(b, `,"events":`...)
	b = appendJSONList(b, w.Events, false)
	b = append(b, `,"filter_domains":`...)
	b = appendJSONList(b, w.FilterDomains, true)
	b = append(b, `,"filter_users":`...)
	b = appendJSONList(b, w.FilterUsers, true)
	if withSecret && len(w.Headers) > 0 {
		b = appendHeadersJSON(b, w.Headers)
	}
	b = append(b, `,"last_modified":`...)
	b = strconv.AppendInt(b, w.LastModified.Unix(), 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, w.Name)
	if w.Ordering == store.OrderingFIFO {
		b = append(b, `,"ordering":"fifo"`...)
	}
	b = append(b, `,"previous_secret_expires_at":`...)
	if w.PreviousSecret != "" && !w.PreviousSecretExpiresAt.IsZero() {
		b = strconv.AppendInt(b, w.PreviousSecretExpiresAt.Unix(), 10)
	} else {
		b = append(b, "null"...)
	}
	if w.RateLimit > 0 {
		b = append(b, `,"rate_limit":`...)
		b = strconv.AppendInt(b, int64(w.RateLimit), 10)
	}
	if withSecret {
		b = append(b, `,"secret":`...)
		b = appendJSONString(b, w.Secret)
	}
	b = append(b, `,"status":`...)
	if w.Enabled {
		b = append(b, `"enabled"`...)
	} else {
		b = append(b, `"disabled"`...)
	}
	b = append(b, `,"url":`...)
	b = appendJSONString(b, w.URL)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, strings.ToLower(w.UUID))
	return append(b, '}')
}

// appendJSONList appends a list of strings; nil is null where the model's
// field is nullable, [] where it is not.
func appendJSONList(b []byte, v []string, nullable bool) []byte {
	if v == nil {
		if nullable {
			return append(b, "null"...)
		}
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as encoding/json writes it. Plain printable
// ASCII is copied; anything that needs escaping (control characters, quotes,
// the HTML characters encoding/json escapes, non-ASCII) goes through
// encoding/json itself, so the escaping rules are never restated here.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
