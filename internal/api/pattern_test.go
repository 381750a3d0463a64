package api_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"go.yaml.in/yaml/v3"
)

// patternCases are examples and counter-examples for every pattern in
// openapi.yaml. A pattern must mean the same in Go's RE2 (the server's
// validator) and in ECMAScript (clients generated for JavaScript and
// TypeScript, AJV, most validators in other languages follow it), so each
// case runs through both; a pattern added to the spec without cases here
// fails TestPatternsMeanTheSameEverywhere.
var patternCases = map[string]struct{ match, noMatch []string }{
	`^[^\x00-\x1F\x7F]*$`: {
		match:   []string{"", "plain", "with space", "ünïcödé ✓", "emoji 😀 astral", "tab-free", "\u0080 C1 is allowed", "a\u2028b"},
		noMatch: []string{"line\nfeed", "carriage\rreturn", "nul\x00", "tab\t", "bell\x07", "del\x7f", "esc\x1b[0m", "\x1f"},
	},
	`^ *[a-zA-Z0-9_\-][a-zA-Z0-9 _\-]*$`: {
		match:   []string{"My Webhook", "prod-hook_2", "  leading spaces", "x", "-", "trailing "},
		noMatch: []string{"", "   ", "tab\tname", "line\nbreak", "cr\rname", "dot.name", "ünïcode", "\u00a0nbsp", "emoji😀", "name\u2003em"},
	},
	`^[^\x00-\x08\x0A-\x1F\x7F]*$`: { // custom header values: tab allowed
		match:   []string{"", "Bearer abc.def", "a\tb", "\t", "ünïcödé ✓", "emoji 😀 astral", "\u0080 C1 is allowed", "a\u2028b"},
		noMatch: []string{"line\nfeed", "carriage\rreturn", "split\r\nX-Injected: 1", "nul\x00", "bs\x08", "vt\x0b", "bell\x07", "del\x7f", "\x1f"},
	},
	`^evt_[A-Za-z0-9_-]{1,64}$`: {
		match:   []string{"evt_1", "evt_abc-DEF_123", "evt_" + string(bytes.Repeat([]byte("a"), 64))},
		noMatch: []string{"evt_", "evt", "evt_é", "evt_a b", "evt_" + string(bytes.Repeat([]byte("a"), 65)), "xevt_1", "evt_1\n"},
	},
}

// specPatterns returns every `pattern` value in openapi.yaml.
func specPatterns(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "pattern" {
					seen[s] = true
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestPatternsMeanTheSameEverywhere runs each pattern's cases through Go's
// regexp and through Node's RegExp, with and without the u flag.
func TestPatternsMeanTheSameEverywhere(t *testing.T) {
	patterns := specPatterns(t)
	if len(patterns) == 0 {
		t.Fatal("no patterns found in openapi.yaml")
	}
	type probe struct {
		Pattern string `json:"pattern"`
		Input   string `json:"input"`
		Want    bool   `json:"want"`
	}
	var probes []probe
	for _, p := range patterns {
		cases, ok := patternCases[p]
		if !ok {
			t.Errorf("pattern %q has no examples in patternCases", p)
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			t.Errorf("pattern %q does not compile in Go: %v", p, err)
			continue
		}
		for _, in := range cases.match {
			probes = append(probes, probe{p, in, true})
		}
		for _, in := range cases.noMatch {
			probes = append(probes, probe{p, in, false})
		}
		for _, pr := range probes {
			if pr.Pattern == p && re.MatchString(pr.Input) != pr.Want {
				t.Errorf("Go: %q on %q = %v, want %v", p, pr.Input, !pr.Want, pr.Want)
			}
		}
	}
	for p := range patternCases {
		if !contains(patterns, p) {
			t.Errorf("patternCases has %q, which is no longer in openapi.yaml", p)
		}
	}

	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("JETWEBHOOKS_TEST_NODE") == "required" {
			t.Fatal("node is required (JETWEBHOOKS_TEST_NODE=required) but not installed")
		}
		t.Skip("node not installed: the ECMAScript half of the check is skipped")
	}
	in, err := json.Marshal(probes)
	if err != nil {
		t.Fatal(err)
	}
	const script = `
let s = ''; process.stdin.on('data', d => s += d).on('end', () => {
  const out = JSON.parse(s).map(p => {
    const r = {};
    for (const flags of ['', 'u']) {
      try { r[flags || 'plain'] = new RegExp(p.pattern, flags).test(p.input); }
      catch (e) { r[flags || 'plain'] = 'error: ' + e.message; }
    }
    return r;
  });
  process.stdout.write(JSON.stringify(out));
});`
	cmd := exec.Command(node, "-e", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(probes) {
		t.Fatalf("node answered %d results (%v), want %d", len(got), err, len(probes))
	}
	for i, pr := range probes {
		for flags, v := range got[i] {
			if v != pr.Want {
				t.Errorf("ECMAScript (%s): %q on %q = %v, want %v", flags, pr.Pattern, pr.Input, v, pr.Want)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
