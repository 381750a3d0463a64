package store

import (
	"encoding/json"
	"fmt"
	"maps"
)

// EncodeHeaders is how both backends store Webhook.Headers: a JSON object
// (name → value, in a TEXT column), or nil (SQL NULL) when there are none, so
// an empty map and nil read back alike. A backend binds the result as a
// parameter: nil is NULL to database/sql and pgx.
func EncodeHeaders(h map[string]string) *string {
	if len(h) == 0 {
		return nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		// A map of strings always marshals; invalid UTF-8 is replaced, which
		// the API never lets through.
		panic(fmt.Sprintf("store: encode headers: %v", err))
	}
	s := string(b)
	return &s
}

// DecodeHeaders reads what EncodeHeaders stored: NULL and an empty object
// are nil.
func DecodeHeaders(s *string) (map[string]string, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(*s), &h); err != nil {
		return nil, fmt.Errorf("decode headers: %w", err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

// CloneHeaders returns a copy of h (nil for none), for wrappers that hand
// out webhooks they keep.
func CloneHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	return maps.Clone(h)
}
