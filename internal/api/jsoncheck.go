package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// maxJSONDepth bounds nesting: no request of this API needs more than a few
// levels, and deep nesting only costs the server.
const maxJSONDepth = 32

// readJSONBody reads the request body and refuses what encoding/json (and so
// the validator and the binder) would quietly accept: duplicate member names,
// where different readers could each see a different one; data after the
// value; absurd nesting; text that is not Unicode (invalid UTF-8, or an
// escaped UTF-16 surrogate without its pair), which decoding silently turns
// into U+FFFD; and numbers beyond float64 (1e999999), which most JSON
// readers, Go's among them, cannot decode. These hold for the whole body,
// event data included. The body is put back for the validator.
func readJSONBody(req *http.Request) error {
	data, err := readBody(req)
	req.Body.Close()
	if err != nil {
		// BodyLimit cuts a body without Content-Length off while it is read.
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return newError(http.StatusRequestEntityTooLarge, "Request body is too large.")
		}
		return badRequest("Request body could not be read.")
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	req.ContentLength = int64(len(data))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil // the validator reports a missing required body
	}
	return checkJSON(data)
}

// readBody reads the whole body into one buffer sized by Content-Length (which
// BodyLimit has already held to the limit), where io.ReadAll would grow one by
// doubling: an ingest batch is tens of kilobytes, read on every request.
func readBody(req *http.Request) ([]byte, error) {
	if req.ContentLength <= 0 {
		return io.ReadAll(req.Body)
	}
	var buf bytes.Buffer
	buf.Grow(int(req.ContentLength) + bytes.MinRead) // ReadFrom wants MinRead spare bytes to detect EOF
	_, err := buf.ReadFrom(req.Body)
	return buf.Bytes(), err
}

// checkJSON refuses what readJSONBody describes. Most bodies are clean, and
// for them a byte scan decides (json.Valid, then cleanJSON);
// anything else goes to checkJSONTokens, which alone words the refusal, so
// the answers are the same either way (FuzzCheckJSONFastPath holds the two
// together). Walking tokens costs an allocation per token, which made the
// check a tenth of the CPU of a batch ingest.
func checkJSON(data []byte) error {
	if json.Valid(data) && cleanJSON(data) {
		return nil
	}
	return checkJSONTokens(data)
}

// cleanJSON reports whether a syntactically valid JSON text is valid UTF-8,
// escapes no lone UTF-16 surrogate, has no number beyond float64, has no
// member name twice in one object and nests at most maxJSONDepth levels.
func cleanJSON(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	// Small objects compare names linearly (no map, and a plain name is a
	// slice of data, not a copy); a large one switches to a map.
	const linear = 16
	type level struct {
		object bool
		names  [][]byte
		set    map[string]struct{}
	}
	var stack []level
	expectName := false // the next string in the current object is a name
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			stack = append(stack, level{object: c == '{'})
			if len(stack) > maxJSONDepth {
				return false
			}
			expectName = c == '{'
		case '}', ']':
			stack = stack[:len(stack)-1]
			expectName = false
		case ',':
			expectName = len(stack) > 0 && stack[len(stack)-1].object
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			// Only an exponent or some 309 digits can take a number
			// beyond float64; the others need no parsing.
			j, exp := i, false
			for ; j < len(data) && isNumberByte(data[j]); j++ {
				exp = exp || data[j] == 'e' || data[j] == 'E'
			}
			if (exp || j-i > 300) && numberOutOfRange(data[i:j]) {
				return false
			}
			i = j - 1
		case '"':
			start := i + 1
			plain := true // no escape: the raw bytes are the name
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					plain = false
					if data[i+1] == 'u' {
						n, ok := surrogateEscapes(data[i:])
						if !ok {
							return false
						}
						i += n - 1
						continue
					}
					i++
				}
				// Bytes beyond ASCII are valid UTF-8 (checked above), which
				// decodes to itself: only an escape makes a name not plain.
			}
			if !expectName {
				continue
			}
			expectName = false
			name := data[start:i]
			if !plain {
				var decoded string
				if json.Unmarshal(data[start-1:i+1], &decoded) != nil {
					return false
				}
				name = []byte(decoded)
			}
			l := &stack[len(stack)-1]
			if l.set != nil {
				if _, dup := l.set[string(name)]; dup {
					return false
				}
				l.set[string(name)] = struct{}{}
				continue
			}
			for _, n := range l.names {
				if bytes.Equal(n, name) {
					return false
				}
			}
			l.names = append(l.names, name)
			if len(l.names) > linear {
				l.set = make(map[string]struct{}, 2*linear)
				for _, n := range l.names {
					l.set[string(n)] = struct{}{}
				}
				l.names = nil
			}
		}
	}
	return true
}

// checkJSONTokens walks the tokens of one JSON value. Refusals of a
// member or element name it by its JSON pointer, worded as the validator
// words schema failures.
func checkJSONTokens(data []byte) error {
	return walkJSON(data, func(v *visit) error {
		switch tok := v.tok.(type) {
		case string:
			if reason := textProblem(v.raw); reason == "" {
				return nil
			} else if v.name {
				// A name has no pointer of its own: the object's names it.
				return fieldError(pointer(v.stack[:len(v.stack)-1]), "has a member name that "+reason)
			} else {
				return fieldError(pointer(v.stack), reason)
			}
		case json.Number:
			if numberOutOfRange([]byte(tok)) {
				return fieldError(pointer(v.stack), reasonNumberRange)
			}
		}
		return nil
	})
}

// visit is what walkJSON shows of one member name or value.
type visit struct {
	tok json.Token
	// raw is the token's bytes, after the separators before it: Token
	// decodes strings, replacing what is not Unicode, so that is checked
	// on the bytes.
	raw   []byte
	end   int64    // the offset just after the token
	name  bool     // a member name, not a value
	stack []*frame // the open objects and arrays: pointer(stack) names a value
}

// walkJSON walks the tokens of one JSON value, refusing duplicate names,
// nesting deeper than maxJSONDepth, invalid JSON and data after the value,
// and calls fn for each member name and each value (for an object or array,
// at its start) until fn returns an error.
func walkJSON(data []byte, fn func(*visit) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	v := &visit{} // one for the walk: fn may not keep it
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return badRequest("Request body is not valid JSON.")
			}
			break
		}
		if err != nil {
			return badRequest("Request body is not valid JSON.")
		}
		*v = visit{tok: tok, raw: data[start:dec.InputOffset()], end: dec.InputOffset(), stack: stack}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return noTrailing(dec)
				}
				continue
			}
			v.name = true
			if err := fn(v); err != nil {
				return err
			}
			key, _ := tok.(string)
			if _, dup := top.keys[key]; dup {
				return badRequest(fmt.Sprintf("Request body has the member %s twice.", strconv.Quote(truncate(key, 64))))
			}
			top.keys[key] = struct{}{}
			top.key = key
			top.wantKey = false
			continue
		}
		d, isDelim := tok.(json.Delim)
		if top != nil && top.object {
			top.wantKey = true // this token is the member's value (or its start)
		} else if top != nil && (!isDelim || d != ']') {
			top.index = top.next // this token is an element (or its start)
			top.next++
		}
		if !isDelim || d == '{' || d == '[' {
			if err := fn(v); err != nil {
				return err
			}
		}
		switch d {
		case '{':
			stack = append(stack, &frame{object: true, keys: map[string]struct{}{}, wantKey: true})
		case '[':
			stack = append(stack, &frame{})
		case '}', ']':
			stack = stack[:len(stack)-1]
		}
		if len(stack) > maxJSONDepth {
			return badRequest(fmt.Sprintf("Request body nests deeper than %d levels.", maxJSONDepth))
		}
		if len(stack) == 0 {
			return noTrailing(dec)
		}
	}
	return nil
}

// pointerAt is the JSON pointer of the value of data that ends at offset
// end ("" when none does): encoding/json reports where a value it could
// not decode ends, and names it only by Go struct path, without indexes.
func pointerAt(data []byte, end int64) (string, bool) {
	var ptr string
	found := errors.New("found")
	err := walkJSON(data, func(v *visit) error {
		if !v.name && v.end == end {
			ptr = pointer(v.stack)
			return found
		}
		return nil
	})
	return ptr, err == found
}

// frame is one open object or array of the token walk.
type frame struct {
	object  bool
	keys    map[string]struct{}
	wantKey bool
	key     string // the member being read (objects)
	index   int    // the element being read (arrays)
	next    int    // the index of the next element (arrays)
}

// pointer is the JSON pointer (RFC 6901) of the value being read.
func pointer(stack []*frame) string {
	var b strings.Builder
	for _, f := range stack {
		b.WriteByte('/')
		if f.object {
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(truncate(f.key, 64)))
		} else {
			b.WriteString(strconv.Itoa(f.index))
		}
	}
	return b.String()
}

// fieldError refuses the value at ptr ("" = the body itself) for reason,
// worded as validationError words schema failures.
func fieldError(ptr, reason string) error {
	if ptr == "" {
		ptr = "body"
	}
	var details []models.ErrorDetail
	var first string
	add(&details, &first, ptr, reason)
	return badRequest(first, details...)
}

// Reasons for refusing text and numbers that JSON can carry but that
// decoding would change or cannot represent.
const (
	reasonUTF8        = "is not valid UTF-8"
	reasonSurrogate   = "escapes a UTF-16 surrogate without its pair (not valid Unicode)"
	reasonNumberRange = "is not a number within range"
)

// textProblem says what is wrong with the raw bytes of a string token (with
// any separators before it), or "" when nothing is.
func textProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return reasonUTF8
	}
	for i := bytes.IndexByte(raw, '\\'); i >= 0 && i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // the escaped character
			continue
		}
		n, ok := surrogateEscapes(raw[i:])
		if !ok {
			return reasonSurrogate
		}
		i += n - 1
	}
	return ""
}

// surrogateEscapes looks at the \uXXXX escape at the start of b (of valid
// JSON) and reports how many bytes it takes (with a high surrogate, the low
// one that must follow it too), and false for a surrogate without its pair,
// which decoding would turn into U+FFFD.
func surrogateEscapes(b []byte) (int, bool) {
	if len(b) < 6 {
		return len(b), true // not valid JSON; its own check refuses it
	}
	switch c := hex4(b[2:6]); {
	case c < 0xd800 || c > 0xdfff:
		return 6, true
	case c >= 0xdc00:
		return 6, false // a low surrogate first
	}
	if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
		return 6, false
	}
	if c := hex4(b[8:12]); c < 0xdc00 || c > 0xdfff {
		return 6, false
	}
	return 12, true
}

// hex4 is the value of four hex digits (-1 when they are not).
func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		v = v<<4 | int(c)
	}
	return v
}

// isNumberByte reports whether c can be part of a JSON number.
func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// numberOutOfRange reports whether the JSON number n is beyond float64.
// (A tiny one, 1e-999999, is only rounded to zero, as any reader does.)
func numberOutOfRange(n []byte) bool {
	_, err := strconv.ParseFloat(string(n), 64)
	return errors.Is(err, strconv.ErrRange)
}

// noTrailing insists that one complete value was all there was.
func noTrailing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("Request body has data after the JSON value.")
	}
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
