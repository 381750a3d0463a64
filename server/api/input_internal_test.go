package api

import (
	"encoding/json"
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
