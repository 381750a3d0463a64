package api

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
)

// TestEveryPatternHasAReason: a pattern failure is worded for clients, not
// answered with the regular expression, so every pattern of the spec needs a
// reason in patternReasons.
func TestEveryPatternHasAReason(t *testing.T) {
	spec, err := apiserver.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if p, ok := x.(string); ok && k == "pattern" {
					seen[p] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if len(seen) == 0 {
		t.Fatal("found no pattern in the spec")
	}
	for p := range seen {
		if patternReasons[p] == "" {
			t.Errorf("pattern %q has no reason in patternReasons", p)
		}
	}
	for p := range patternReasons {
		if !seen[p] {
			t.Errorf("patternReasons words %q, which the spec does not use", p)
		}
	}
}

// TestNoControlCharsMatchesThePattern: the byte loop that stands in for
// textPattern accepts exactly what the regular expression does, invalid
// UTF-8 and every character near the range's edges included.
func TestNoControlCharsMatchesThePattern(t *testing.T) {
	re := regexp.MustCompile(textPattern)
	m, err := compilePattern(textPattern)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(noControlChars); !ok {
		t.Fatalf("compilePattern(textPattern) = %T, want the byte loop", m)
	}
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)})+"cd")
	}
	for _, r := range []rune{0x7e, 0x7f, 0x80, 0x85, 0x9f, 0xa0, 0x2028, 0xfeff, 0xfffd, 0x1f600} {
		inputs = append(inputs, "x"+string(r)+"y")
	}
	inputs = append(inputs, "", "api-user", "\xc0\x80", "\xed\xa0\x80", "\xe2\x80", "a\x00", "\x1f\x7f")
	for _, s := range inputs {
		if got, want := m.MatchString(s), re.MatchString(s); got != want {
			t.Errorf("%q: byte loop says %v, the pattern %v", s, got, want)
		}
	}
	// The other patterns compile as kin-openapi compiles them.
	for p := range patternReasons {
		if p == textPattern {
			continue
		}
		if m, err := compilePattern(p); err != nil {
			t.Errorf("%q: %v", p, err)
		} else if _, ok := m.(*regexp.Regexp); !ok {
			t.Errorf("%q: compiled to %T", p, m)
		}
	}
	if _, err := compilePattern(`[`); err == nil {
		t.Error("an invalid pattern compiled")
	}
}
