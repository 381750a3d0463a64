package client

import (
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/nullable"
)

// Ptr returns a pointer to a copy of v, for the optional fields of requests:
//
//	client.QueryRequest{Limit: client.Ptr(100), EventType: client.Ptr[client.EventType]("outbound.bounced")}
func Ptr[T any](v T) *T {
	return &v
}

// Status returns the request value for a webhook status: 1 (enabled) when
// enabled is true, 0 (disabled) otherwise.
func Status(enabled bool) *models.StatusInput {
	s := models.StatusInputDisabled
	if enabled {
		s = models.StatusInputEnabled
	}
	return &s
}

// Filter returns a filter_users or filter_domains value that restricts a
// webhook to the given usernames or domains. Filter() with no values sends an
// empty list, which is not the same as ClearFilter. The values are copied.
func Filter(values ...string) nullable.Nullable[[]string] {
	list := make([]string, len(values))
	copy(list, values)
	return nullable.NewNullableWithValue(list)
}

// ClearFilter returns an explicit null for filter_users or filter_domains:
// in UpdateWebhook it removes the filter (all users or domains match again).
// A field left at its zero value is omitted and leaves the filter unchanged.
func ClearFilter() nullable.Nullable[[]string] {
	return nullable.NewNullNullable[[]string]()
}

// UUID is the type of webhook uuids (Webhook.UUID), so a caller needs no
// import of the generated packages' dependencies to hold one.
type UUID = openapi_types.UUID

// Nullable is the type of fields that may be absent, null or a value
// (Webhook.FilterUsers, EventRecord.LastAttempt, …): Get returns the value
// or an error when there is none, IsNull and IsSpecified tell the rest. fmt
// prints it as its value, or null (see package
// github.com/jetwebhooks/jetwebhooks/nullable).
type Nullable[T any] = nullable.Nullable[T]

// NewNullable returns a Nullable holding v.
func NewNullable[T any](v T) Nullable[T] { return nullable.NewNullableWithValue(v) }

// NewNull returns a Nullable that is an explicit null (to clear a filter in
// UpdateWebhook).
func NewNull[T any]() Nullable[T] { return nullable.NewNullNullable[T]() }
