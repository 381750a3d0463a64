package api

import (
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
