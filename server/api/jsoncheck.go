package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// maxJSONDepth bounds nesting: no request of this API needs more than a few
// levels, and deep nesting only costs the server.
const maxJSONDepth = 32

// readJSONBody reads the request body and refuses what encoding/json (and so
// the validator and the binder) would quietly accept: duplicate member names,
// where different readers could each see a different one; data after the
// value; and absurd nesting. The body is put back for the validator.
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
// for them a byte scan decides (json.Valid, then duplicate names and depth);
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

// cleanJSON reports whether a syntactically valid JSON text has no member
// name twice in one object and nests at most maxJSONDepth levels.
func cleanJSON(data []byte) bool {
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
		case '"':
			start := i + 1
			plain := true // no escape and only ASCII: the raw bytes are the name
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					plain = false
					i++
				} else if data[i] >= 0x80 {
					plain = false // decoding may replace invalid UTF-8
				}
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

// checkJSONTokens walks the tokens of one JSON value.
func checkJSONTokens(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		keys    map[string]struct{}
		wantKey bool
	}
	var stack []*frame
	for {
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
			key, _ := tok.(string)
			if _, dup := top.keys[key]; dup {
				return badRequest(fmt.Sprintf("Request body has the member %s twice.", strconv.Quote(truncate(key, 64))))
			}
			top.keys[key] = struct{}{}
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // this token is the member's value (or its start)
		}
		if d, ok := tok.(json.Delim); ok {
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
		}
		if len(stack) == 0 {
			return noTrailing(dec)
		}
	}
	return nil
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
