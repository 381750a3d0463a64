package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
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
		// Text that is not Unicode, anywhere: decoding would quietly turn it into U+FFFD.
		{"{\"name\":\"Hook\xff\"}", false},
		{"{\"data\":{\"k\xc0\xaf\":1}}", false},
		{"[\"ok\",\"\xe2\x80\"]", false},
		{`{"s":"\ud800"}`, false},
		{`{"s":"\udc00\ud800"}`, false},
		{`{"s":"\ud800x"}`, false},
		{`{"s":"\ud800\u0041"}`, false},
		{`{"\uDBFF":1}`, false},
		{`{"s":"\ud83d\ude00","t":"h\u00e9","u":"\\ud800","v":"h\u00e9llo\u2028"}`, true}, // a pair, a BMP escape, an escaped backslash
		{"{\"s\":\"h\u00e9llo \u2603 \U0001F600\"}", true},
		// Numbers beyond float64, anywhere; tiny ones round to zero, as every reader does.
		{`{"n":1e999999}`, false},
		{`{"d":{"a":[1,-1.8e308]}}`, false},
		{`{"n":1E309}`, false},
		{`{"n":` + strings.Repeat("9", 400) + `}`, false},
		{`{"n":1e308,"m":-1.7976931348623157e308,"t":1e-999999,"b":` + strings.Repeat("9", 300) + `,"i":123456789012345678901234567890}`, true},
		// Control characters in data are the producer's business: escaped, they are JSON.
		{`{"s":"a\u0000b\n\t\u001f` + "\x7f" + `"}`, true},
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

// TestCheckJSONNamesTheValue: a refusal of one value names it by its JSON
// pointer, in the validator's words.
func TestCheckJSONNamesTheValue(t *testing.T) {
	for _, c := range []struct {
		body, msg, field, reason string
	}{
		{"{\"name\":\"Hook\xff\"}", "Invalid name: is not valid UTF-8.", "/name", "is not valid UTF-8"},
		{"{\"events\":[{\"a\":1},{\"data\":{\"x/y\":[0,\"\xfe\"]}}]}", "Invalid events/1/data/x~1y/1: is not valid UTF-8.", "/events/1/data/x~1y/1", "is not valid UTF-8"},
		{"{\"data\":{\"k\xff\":1}}", "Invalid data: has a member name that is not valid UTF-8.", "/data", "has a member name that is not valid UTF-8"},
		{"\"\xff\"", "Request body is not valid UTF-8.", "body", "is not valid UTF-8"},
		{`{"source_uid":"a\ud800"}`, "Invalid source_uid: " + reasonSurrogate + ".", "/source_uid", reasonSurrogate},
		{`{"status":1e999999}`, "Invalid status: is not a number within range.", "/status", "is not a number within range"},
		{`{"events":[{},{"data":{"n":[1,2,-1e400]}}]}`, "Invalid events/1/data/n/2: is not a number within range.", "/events/1/data/n/2", "is not a number within range"},
		{`[1e999]`, "Invalid 0: is not a number within range.", "/0", "is not a number within range"},
	} {
		err := checkJSON([]byte(c.body))
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: err = %v, want an *Error", c.body, err)
			continue
		}
		if e.Message != c.msg || len(e.Details) != 1 || e.Details[0].Field != c.field || e.Details[0].Reason != c.reason {
			t.Errorf("%q: %q %+v, want %q and {%s %s}", c.body, e.Message, e.Details, c.msg, c.field, c.reason)
		}
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[1,2,{"x":[]}]`, `{"name":"My Webhook","url":"https://example.com/webhook","events":["outbound.delivered"]}`} {
		f.Add([]byte(s))
	}
	for _, s := range []string{"{\"a\":\"\xff\"}", `{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `{"n":1e999999}`, `[1e-999999]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkJSON(data) != nil { // must never panic
			return
		}
		// What passes is Unicode and decodes, every number included, in
		// any reader that keeps numbers as float64.
		if !utf8.Valid(data) {
			t.Fatalf("%q: passed, but is not UTF-8", data)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil && len(bytes.TrimSpace(data)) > 0 {
			t.Fatalf("%q: passed, but does not decode: %v", data, err)
		}
		// Nor does decoding replace anything with U+FFFD (unless it was sent).
		if !bytes.Contains(data, []byte("\ufffd")) && !bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) && hasReplacement(v) {
			t.Fatalf("%q: passed, but decodes with U+FFFD", data)
		}
	})
}

// hasReplacement reports whether a decoded JSON value has U+FFFD in a
// string or a member name.
func hasReplacement(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, utf8.RuneError)
	case []any:
		for _, x := range v {
			if hasReplacement(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, utf8.RuneError) || hasReplacement(x) {
				return true
			}
		}
	}
	return false
}

// The byte scan may only ever pass what the token walk passes, and passes
// everything clean (else the fast path would not be one).
func FuzzCheckJSONFastPath(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[1,2,{"x":[]}]`, `{"a":{"b":1},"b":{"a":2}}`,
		`{"\u0061":1,"a":2}`, "{\"\xff\":1,\"\xfe\":2}", `{"a\"b":1,"a\"b":2}`, `{"k":"{\"k\":1}","x":[{"k":1},{"k":1}]}`,
		strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32), strings.Repeat(`[`, 33) + strings.Repeat(`]`, 33),
		`{` + strings.Repeat(`"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,`, 2) + `"z":0}`,
		`{"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"b1":1,"b2":2,"b3":3,"b4":4,"b5":5,"b6":6,"b7":7,"b8":8,"a1":0}`,
		"{\"a\":\"\xff\"}", "{\"\xc3\xa9\":1,\"\u00e9\":2}", "[\"\xe2\x82\xac\",\"\xe2\x82\"]",
		`{"a":"\ud800"}`, `{"a":"\udc00"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\\ud800"}`, `{"\ud800":1,"\udbff":2}`, `["\ud800\u0041"]`,
		`{"n":1e999999}`, `[-1e400,1e-400]`, `{"n":1.7976931348623157e308,"m":1.8e308}`, `[` + strings.Repeat("9", 320) + `]`, `[0.5e+2,-0E-0]`} {
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
