package nullable_test

import (
	"encoding/json"
	"fmt"
	"go/build"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/nullable"
)

func TestFormat(t *testing.T) {
	type hook struct {
		Name   string
		Reason nullable.Nullable[string]
		At     nullable.Nullable[int64]
		Users  nullable.Nullable[[]string]
	}
	val := hook{Name: "h", Reason: nullable.NewNullableWithValue("gone"), At: nullable.NewNullableWithValue[int64](42),
		Users: nullable.NewNullableWithValue([]string{"a", "b"})}
	null := hook{Name: "h", Reason: nullable.NewNullNullable[string](), Users: nullable.NewNullNullable[[]string]()}
	for _, tc := range []struct {
		format string
		arg    any
		want   string
	}{
		{"%v", nullable.NewNullableWithValue("gone"), "gone"},
		{"%s", nullable.NewNullableWithValue("gone"), "gone"},
		{"%q", nullable.NewNullableWithValue("gone"), `"gone"`},
		{"%d", nullable.NewNullableWithValue(410), "410"},
		{"%5d|", nullable.NewNullableWithValue(7), "    7|"},
		{"%x", nullable.NewNullableWithValue(255), "ff"},
		{"%.1f", nullable.NewNullableWithValue(2.25), "2.2"},
		{"%v", nullable.NewNullableWithValue([]string{"a", "b"}), "[a b]"},
		{"%v", nullable.NewNullNullable[string](), "null"},
		{"%d", nullable.NewNullNullable[int](), "null"},
		{"%6v|", nullable.NewNullNullable[int](), "  null|"},
		{"%-6v|", nullable.NewNullNullable[int](), "null  |"},
		{"%v", nullable.Nullable[string](nil), "null"},
		{"%s", nullable.Nullable[string]{}, "null"},
		{"%v", val, "{h gone 42 [a b]}"},
		{"%+v", val, "{Name:h Reason:gone At:42 Users:[a b]}"},
		{"%v", &val, "&{h gone 42 [a b]}"},
		{"%v", null, "{h null null null}"},
		{"%+v", null, "{Name:h Reason:null At:null Users:null}"},
		{"%#v", nullable.NewNullableWithValue(1), "map[bool]int{true:1}"},
		{"%#v", nullable.NewNullNullable[int](), "map[bool]int{false:0}"},
	} {
		if got := fmt.Sprintf(tc.format, tc.arg); got != tc.want {
			t.Errorf("Sprintf(%q, %#v) = %q, want %q", tc.format, tc.arg, got, tc.want)
		}
	}
	if got := fmt.Sprint(val.Reason, null.Reason); got != "gone null" {
		t.Errorf("Sprint = %q", got)
	}
}

// TestThreeStates: absent, null and a value survive a JSON round trip apart,
// which PATCH-like updates depend on.
func TestThreeStates(t *testing.T) {
	type req struct {
		F nullable.Nullable[[]string] `json:"f,omitempty"`
	}
	for _, tc := range []struct {
		in        string
		specified bool
		null      bool
		value     []string
	}{
		{`{}`, false, false, nil},
		{`{"f":null}`, true, true, nil},
		{`{"f":[]}`, true, false, []string{}},
		{`{"f":["a"]}`, true, false, []string{"a"}},
	} {
		var r req
		if err := json.Unmarshal([]byte(tc.in), &r); err != nil {
			t.Fatal(err)
		}
		if r.F.IsSpecified() != tc.specified || r.F.IsNull() != tc.null {
			t.Errorf("%s: specified %v null %v", tc.in, r.F.IsSpecified(), r.F.IsNull())
		}
		v, err := r.F.Get()
		if (err == nil) != (tc.value != nil) || fmt.Sprint(v) != fmt.Sprint(tc.value) {
			t.Errorf("%s: Get = %v, %v", tc.in, v, err)
		}
		out, err := json.Marshal(r)
		if err != nil || string(out) != tc.in {
			t.Errorf("%s: marshalled back as %s (%v)", tc.in, out, err)
		}
	}

	var n nullable.Nullable[int]
	if n.IsSpecified() || n.GetOrEmpty() != 0 {
		t.Error("zero value is not unspecified")
	}
	n.Set(3)
	if n.MustGet() != 3 || n.IsNull() {
		t.Error("Set")
	}
	n.SetNull()
	if !n.IsNull() || n.GetOrEmpty() != 0 {
		t.Error("SetNull")
	}
	n.SetUnspecified()
	if n.IsSpecified() {
		t.Error("SetUnspecified")
	}
	// Without omitempty, an unspecified value is written as null, not as 0.
	out, _ := json.Marshal(struct {
		N nullable.Nullable[int] `json:"n"`
	}{})
	if string(out) != `{"n":null}` {
		t.Errorf("unspecified without omitempty: %s", out)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustGet of null did not panic")
		}
	}()
	nullable.NewNullNullable[int]().MustGet()
}

// TestLeaf: the package generated code depends on imports the standard
// library only.
func TestLeaf(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			t.Errorf("nullable imports %s: it must depend on the standard library only", imp)
		}
	}
}
