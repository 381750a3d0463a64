// Package nullable is the type of the API's nullable fields: a value that is
// absent, null, or present. The generated models (gen/) use it for every
// field the spec marks nullable: openapi.yaml points at it with x-go-type.
//
// It exists because the type oapi-codegen would otherwise use,
// github.com/oapi-codegen/nullable, is a map underneath, and fmt prints it as
// one: a webhook's DisabledReason printed as map[true:endpoint answered 410].
// This Nullable is the same map, with the same methods and constructors,
// plus a Format method, so fmt prints the value itself, or null.
//
// It is a vocabulary type, not logic: it imports the standard library only
// and nothing from this module, so generated code depending on it does not
// invert the rule that generated code never depends on hand-written code.
// Keep it that way.
package nullable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Nullable is a value that can be in one of three states, which JSON requests
// keep apart (an update leaves an absent field unchanged and clears a null
// one):
//
//   - unspecified: the field was absent (nil or empty map, the zero value);
//   - null: the field was an explicit null (map[false]);
//   - a value: map[true] holds it.
//
// Optional fields carry the omitempty JSON tag, so an unspecified Nullable is
// left out of the JSON; do not use *Nullable.
//
// fmt prints a Nullable as its value (with the verb and flags given), and
// null when it is null or unspecified; %#v shows the map.
type Nullable[T any] map[bool]T

// NewNullableWithValue returns a Nullable holding t.
func NewNullableWithValue[T any](t T) Nullable[T] {
	var n Nullable[T]
	n.Set(t)
	return n
}

// NewNullNullable returns a Nullable that is an explicit null.
func NewNullNullable[T any]() Nullable[T] {
	var n Nullable[T]
	n.SetNull()
	return n
}

// Get returns the value, or an error when it is null or unspecified.
func (t Nullable[T]) Get() (T, error) {
	var empty T
	if t.IsNull() {
		return empty, errors.New("value is null")
	}
	if !t.IsSpecified() {
		return empty, errors.New("value is not specified")
	}
	return t[true], nil
}

// GetOrEmpty returns the value, or T's zero value when it is null or
// unspecified; Get tells those apart.
func (t Nullable[T]) GetOrEmpty() T {
	var empty T
	if !t.IsSpecified() || t.IsNull() {
		return empty
	}
	return t[true]
}

// MustGet returns the value; it panics when it is null or unspecified.
func (t Nullable[T]) MustGet() T {
	v, err := t.Get()
	if err != nil {
		panic(err)
	}
	return v
}

// Set makes t hold value.
func (t *Nullable[T]) Set(value T) {
	*t = map[bool]T{true: value}
}

// IsNull reports whether t is an explicit null.
func (t Nullable[T]) IsNull() bool {
	_, foundNull := t[false]
	return foundNull
}

// SetNull makes t an explicit null.
func (t *Nullable[T]) SetNull() {
	var empty T
	*t = map[bool]T{false: empty}
}

// IsSpecified reports whether t is null or holds a value (the field was
// present).
func (t Nullable[T]) IsSpecified() bool {
	return len(t) != 0
}

// SetUnspecified makes t unspecified (the field absent).
func (t *Nullable[T]) SetUnspecified() {
	*t = map[bool]T{}
}

// MarshalJSON encodes the value, or null. An unspecified field is left out by
// omitempty; one without omitempty (a required field never set) is written
// as null too, rather than as T's zero value.
func (t Nullable[T]) MarshalJSON() ([]byte, error) {
	v, ok := t[true]
	if !ok {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes null or a value. An absent field never reaches it and
// stays unspecified.
func (t *Nullable[T]) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		t.SetNull()
		return nil
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	t.Set(v)
	return nil
}

// Format implements fmt.Formatter: the value printed with the same verb and
// flags (so %v, %s, %d, %+v, %x, %6.2f … apply to it, also when t is a field
// of a printed struct), and null when there is none, padded to the width if
// one is given. %#v prints the underlying map, as Go syntax.
func (t Nullable[T]) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "%#v", map[bool]T(t))
		return
	}
	if v, ok := t[true]; ok {
		fmt.Fprintf(f, fmt.FormatString(f, verb), v)
		return
	}
	spec := "%"
	if f.Flag('-') {
		spec += "-"
	}
	if w, ok := f.Width(); ok {
		spec += strconv.Itoa(w)
	}
	fmt.Fprintf(f, spec+"s", "null")
}
