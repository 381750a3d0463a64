package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	cases := []struct {
		body string
		ok   bool
	}{
		{`{"name":"x","events":["a","b"],"f":{"a":1,"b":[1,{"c":2}]}}`, true},
		{`{"a":{"k":1},"b":{"k":2}}`, true}, // the same key in sibling objects is fine
		{`[{"a":1},{"a":1}]`, true},
		{`5`, true},
		{`{"name":"x","name":"y"}`, false},
		{`{"f":{"a":1,"a":2}}`, false},
		{`{"a":1} {"b":2}`, false},
		{`{"a":1} garbage`, false},
		{`{"a":1}]`, false},
		{`{"a":`, false},
		{deep, false},
		{`{"NAME":"x","name":"y"}`, true}, // case variants are distinct keys; the schema refuses unknown ones
	}
	for _, c := range cases {
		err := checkJSON([]byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%.60s: err = %v, want ok=%v", c.body, err, c.ok)
		}
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Status != http.StatusBadRequest {
				t.Errorf("%.60s: error %v is not a 400 *Error", c.body, err)
			}
		}
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[1,2,{"x":[]}]`, `{"name":"My Webhook","url":"https://example.com/webhook","events":["outbound.delivered"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = checkJSON(data) // must never panic
	})
}

// The byte scan may only ever pass what the token walk passes, and passes
// everything clean (else the fast path would not be one).
func FuzzCheckJSONFastPath(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[1,2,{"x":[]}]`, `{"a":{"b":1},"b":{"a":2}}`,
		`{"\u0061":1,"a":2}`, "{\"\xff\":1,\"\xfe\":2}", `{"a\"b":1,"a\"b":2}`, `{"k":"{\"k\":1}","x":[{"k":1},{"k":1}]}`,
		strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32), strings.Repeat(`[`, 33) + strings.Repeat(`]`, 33),
		`{` + strings.Repeat(`"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,`, 2) + `"z":0}`,
		`{"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"b1":1,"b2":2,"b3":3,"b4":4,"b5":5,"b6":6,"b7":7,"b8":8,"a1":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		slow := checkJSONTokens(data)
		if !json.Valid(data) {
			return // the fast path is not taken
		}
		if fast := cleanJSON(data); fast != (slow == nil) {
			t.Fatalf("cleanJSON(%q) = %v, token walk says %v", data, fast, slow)
		}
	})
}

// BenchmarkCheckJSON checks a batch of 100 events: the byte scan against
// the token walk it spares.
func BenchmarkCheckJSON(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"events":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"evt_%d","type":"outbound.delivered","user":"api-user","source_uid":"m%d","data":{"to":"a@example.com","subject":"Hello \u00e9","tags":["x","y"],"pad":"%s"}}`, i, i, strings.Repeat("p", 200))
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	for name, check := range map[string]func([]byte) error{"scan": checkJSON, "tokens": checkJSONTokens} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := check(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
