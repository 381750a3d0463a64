package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// The delivered body is built by hand because it is built once per event on
// the ingest path, where json.Marshal of a struct with a json.RawMessage
// validated and compacted the data a second time after eventData had done so.
// Members come in the documented order; the producer's data is delivered as
// sent, only compacted: its member order, its string escapes (a "<" stays
// "<", a "\u003c" stays "\u003c") and every digit of its numbers, and the
// signature covers exactly those bytes. envelope_test.go holds the envelope to
// json.Marshal's meaning.

// buildEnvelope returns the delivered body and the data member's compact
// JSON as stored.
func buildEnvelope(id, service, typ string, createdAt int64, in *Event) (body, data []byte, err error) {
	var b bytes.Buffer
	b.Grow(len(in.RawData) + len(id) + len(service) + len(typ) + 64)
	b.WriteString(`{"id":`)
	writeString(&b, id)
	b.WriteString(`,"service":`)
	writeString(&b, service)
	b.WriteString(`,"type":`)
	writeString(&b, typ)
	b.WriteString(`,"created_at":`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), createdAt, 10))
	b.WriteString(`,"data":`)
	start := b.Len()
	switch {
	case len(in.RawData) > 0:
		if err := json.Compact(&b, in.RawData); err != nil {
			return nil, nil, errors.New("is not valid JSON")
		}
	case in.Data == nil:
		b.WriteString("{}")
	default:
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in.Data); err != nil {
			return nil, nil, errors.New("is not representable as JSON")
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	if b.Len() == start || b.Bytes()[start] != '{' {
		return nil, nil, errors.New("must be a JSON object")
	}
	data = b.Bytes()[start:]
	b.WriteByte('}')
	return b.Bytes(), data, nil
}

// writeString writes s as a JSON string. The envelope's own strings are ids
// and type names, plain ASCII that needs no escaping; anything else goes
// through encoding/json (without HTML escaping, like the data).
func writeString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			enc := json.NewEncoder(b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			b.Truncate(b.Len() - 1)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// validID reports whether id matches ^evt_[A-Za-z0-9_-]{1,64}$, without a
// regexp on the path of every published event.
func validID(id string) bool {
	if len(id) < 5 || len(id) > 68 || id[:4] != "evt_" {
		return false
	}
	for i := 4; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
