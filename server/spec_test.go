package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestServedSpecIsTheFile: /openapi.yaml answers openapi.yaml's exact bytes
// and /openapi.json the same document in JSON: the same keys in the same
// order, integers as integers, operationIds as written.
func TestServedSpecIsTheFile(t *testing.T) {
	e := newEnv(t, nil)
	file, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, served, hdr := get(t, e.url+"/openapi.yaml")
	if code != 200 || served != string(file) {
		t.Fatalf("/openapi.yaml = %d, %d bytes; want openapi.yaml's %d bytes exactly", code, len(served), len(file))
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("/openapi.yaml Content-Type = %q", ct)
	}
	code, asJSON, hdr := get(t, e.url+"/openapi.json")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("/openapi.json = %d %s", code, hdr.Get("Content-Type"))
	}
	// The same data: YAML decoded (YAML 1.2: 1000000 is an integer, 2024-01-01
	// in quotes a string) against the JSON decoded with numbers kept as text.
	var fromYAML any
	if err := yaml.Unmarshal(file, &fromYAML); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(asJSON))
	dec.UseNumber()
	var fromJSON any
	if err := dec.Decode(&fromJSON); err != nil {
		t.Fatalf("/openapi.json does not decode: %v", err)
	}
	if !reflect.DeepEqual(normalise(fromYAML), normalise(fromJSON)) {
		t.Fatal("/openapi.json is not the same document as openapi.yaml")
	}
	for _, bad := range []string{"e+0", `"operationId":"ListWebhooks"`} {
		if strings.Contains(asJSON, bad) {
			t.Errorf("/openapi.json contains %q", bad)
		}
	}
	if !strings.Contains(asJSON, `"operationId":"listWebhooks"`) || !strings.Contains(asJSON, `"maximum":1000000`) {
		t.Error("/openapi.json lost the file's operationIds or integers")
	}
	// Key order is the file's: info comes before paths, as written.
	if strings.Index(asJSON, `"info"`) > strings.Index(asJSON, `"paths"`) {
		t.Error("/openapi.json reorders the document's keys")
	}
}

// normalise turns both decodings into one shape: numbers as their decimal
// text, maps with string keys.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalise(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalise(e)
		}
		return out
	case json.Number:
		return x.String()
	case int:
		return itoa(x)
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return v
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
