package ingest

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
)

// marshalEnvelope is the reference: what encoding/json makes of the envelope
// when it escapes nothing for HTML (the envelope is no HTML document, and the
// producer's data is delivered as sent).
func marshalEnvelope(t testing.TB, id, service, typ string, createdAt int64, in *Event) (body, data []byte, ok bool) {
	var raw json.RawMessage
	switch {
	case len(in.RawData) > 0:
		var buf bytes.Buffer
		if json.Compact(&buf, in.RawData) != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return nil, nil, false
		}
		raw = buf.Bytes()
	case in.Data == nil:
		raw = json.RawMessage("{}")
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(in.Data) != nil {
			return nil, nil, false
		}
		raw = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		ID        string          `json:"id"`
		Service   string          `json:"service"`
		Type      string          `json:"type"`
		CreatedAt int64           `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}{id, service, typ, createdAt, raw})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), raw, true
}

func checkEnvelope(t testing.TB, id, service, typ string, createdAt int64, in *Event) {
	wantBody, wantData, ok := marshalEnvelope(t, id, service, typ, createdAt, in)
	body, data, err := buildEnvelope(id, service, typ, createdAt, in)
	if !ok {
		if err == nil {
			t.Fatalf("data %q: accepted, json.Marshal refuses it", in.RawData)
		}
		return
	}
	if err != nil {
		t.Fatalf("data %q: %v", in.RawData, err)
	}
	if !bytes.Equal(body, wantBody) {
		t.Fatalf("body\n got %s\nwant %s", body, wantBody)
	}
	if !bytes.Equal(data, wantData) {
		t.Fatalf("data\n got %s\nwant %s", data, wantData)
	}
}

func TestBuildEnvelopeMatchesMarshal(t *testing.T) {
	for _, raw := range []string{
		``, `{}`, ` { "a" : 1 , "b" : [ 1, 2 , {"c":null} ] } `, "{\n\t\"x\": \"y\"\n}",
		`{"html":"<b>&amp;</b>"}`, "{\"ls\":\"\u2028\u2029\"}", `{"esc":"\u003c\n\"\\"}`,
		`{"utf8":"héllo ✓ 😀"}`, `{"n":-1.5e10,"t":true,"f":false}`,
		`[]`, `"s"`, `1`, `null`, `{`, `{"a":}`, `{} {}`, `   `,
	} {
		checkEnvelope(t, "evt_abc", "outbound", "outbound.delivered", 1700000000, &Event{RawData: json.RawMessage(raw)})
	}
	checkEnvelope(t, "evt_x", "inbound", "inbound.received", 0, &Event{Data: map[string]any{"k": "<v>", "n": 1, "z": []any{"a", nil}}})
	checkEnvelope(t, "evt_x", "inbound", "inbound.received", 0, &Event{})
	// Strings that need escaping still come out as encoding/json's.
	checkEnvelope(t, "evt_\"<q>\\", "out\u2028", "t\x01", 5, &Event{RawData: json.RawMessage(`{"a":1}`)})
}

// TestEnvelopeKeepsDataAsSent: the producer's data reaches the receiver with
// its member order, its string escapes and every digit, only compacted.
func TestEnvelopeKeepsDataAsSent(t *testing.T) {
	sent := `{ "zeta": 1, "alpha": {"html": "<b>Tom & Jerry</b>", "esc": "\u003c\/script\u003e"},
		"big": 123456789012345678901234567890.000000000000000000001, "uni": "héllo ✓ 😀 \ud83d\ude00", "m": [3, 1, 2] }`
	want := `{"zeta":1,"alpha":{"html":"<b>Tom & Jerry</b>","esc":"\u003c\/script\u003e"},` +
		`"big":123456789012345678901234567890.000000000000000000001,"uni":"héllo ✓ 😀 \ud83d\ude00","m":[3,1,2]}`
	body, data, err := buildEnvelope("evt_sent", "outbound", "outbound.delivered", 1, &Event{RawData: json.RawMessage(sent)})
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Fatalf("data\n got %s\nwant %s", data, want)
	}
	if !bytes.HasSuffix(body, []byte(`,"data":`+want+`}`)) {
		t.Fatalf("body %s does not end with the data as sent", body)
	}
}

func FuzzBuildEnvelope(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a" : "<&>"} `, "{\"\u2028\":[1,2]}", `[1]`, `{"a":"\ud800"}`} {
		f.Add("evt_1", s)
	}
	f.Fuzz(func(t *testing.T, id, raw string) {
		checkEnvelope(t, id, "outbound", "outbound.opened", 42, &Event{RawData: json.RawMessage(raw)})
	})
}

func TestValidIDMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(`^evt_[A-Za-z0-9_-]{1,64}$`)
	long := "evt_" + string(bytes.Repeat([]byte("a"), 64))
	for _, id := range []string{"evt_1", "evt_", "evt", "", "evt_a-b_C9", "evt_a b", "evt_é", "EVT_1", "evt_\n", long, long + "a", "xevt_1", "evt_1\x00"} {
		if got, want := validID(id), re.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, pattern says %v", id, got, want)
		}
	}
}

func FuzzValidID(f *testing.F) {
	re := regexp.MustCompile(`^evt_[A-Za-z0-9_-]{1,64}$`)
	f.Add("evt_abc")
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validID(id), re.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, pattern says %v", id, got, want)
		}
	})
}
