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
// The bytes are exactly json.Marshal's (envelope_test.go holds the two
// together): members in the documented order, the data compacted, and <, >, &,
// U+2028 and U+2029 inside its strings escaped as json.Marshal escapes them.

// buildEnvelope returns the delivered body and the data member's compact
// JSON as stored (not HTML-escaped).
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
		raw, err := json.Marshal(in.Data)
		if err != nil {
			return nil, nil, errors.New("is not representable as JSON")
		}
		b.Write(raw)
	}
	if b.Len() == start || b.Bytes()[start] != '{' {
		return nil, nil, errors.New("must be a JSON object")
	}
	data = b.Bytes()[start:]
	if bytes.ContainsAny(data, "<>&\u2028\u2029") {
		data = bytes.Clone(data)
		b.Truncate(start)
		json.HTMLEscape(&b, data)
	}
	b.WriteByte('}')
	return b.Bytes(), data, nil
}

// writeString writes s as a JSON string. The envelope's own strings are ids
// and type names, plain ASCII that needs no escaping; anything else goes
// through json.Marshal.
func writeString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			b.Write(q)
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
