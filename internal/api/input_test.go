package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// TestEventDataKeptAsSent: what the input rules leave to the producer (control
// characters in data strings, surrogate pairs, numbers at float64's edges,
// tiny numbers that round to zero) is accepted and stored as sent, in
// meaning: the history shows the same JSON, every digit kept.
func TestEventDataKeptAsSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(e.A, createReq("Data Hook", "outbound.delivered"))
	data := `{"ctl":"a\u0000b\n\r\t\u001f\u007f` + "\x7f" + `","emoji":"\ud83d\ude00 \u00e9 ` + "\u00e9\u2028" + `",` +
		`"max":1.7976931348623157e308,"min":-1.7976931348623157e308,"tiny":1e-999999,"big":123456789012345678901234567890,` +
		`"nested":[{"k":"\u0001"},0.1,-0]}`
	body := `{"id":"evt_data_kept","account_id":"` + e.A.ID + `","type":"outbound.delivered","user":"api-user","data":` + data + `}`
	e.doJSON(rawReq{method: "POST", path: "/events", body: body, header: bearer(testIngestToken)}, http.StatusAccepted)

	// Numbers are compared as their text, so the raw answer is decoded here.
	raw := e.do(rawReq{method: "POST", path: "/webhooks/query", body: `{"event_id":"evt_data_kept"}`})
	var q struct {
		Events []struct {
			Payload json.RawMessage `json:"payload"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw.body, &q); err != nil || len(q.Events) != 1 {
		t.Fatalf("history: %v %s", err, raw.body)
	}
	if got, want := decodeNumbers(t, q.Events[0].Payload), decodeNumbers(t, []byte(data)); !reflect.DeepEqual(got, want) {
		t.Errorf("stored data %s\nwant (in meaning) %s", q.Events[0].Payload, data)
	}
}

// decodeNumbers decodes JSON keeping numbers as their text.
func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
