package api_test

// Contract checking: every HTTP response any test in this package sees goes
// through validatingTransport, which validates it against the embedded spec
// with openapi3filter.ValidateResponse (IncludeResponseStatus, so a status the
// operation does not document is a failure) and checks the error shape every
// 4xx/5xx must have. TestMain then checks that the full run exercised every
// documented (operation, status) pair.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
)

// goErrorText are fragments of Go, library or driver error text that must
// never reach a client.
var goErrorText = []string{
	"unmarshal", "strconv", "invalid character", "runtime", ".go:", "goroutine", "panic",
	"json:", "EOF", "sql", "sqlite", "echo", "code=", "kin-openapi", "openapi3", "context deadline",
	"unexpected end", "cannot", "<nil>", "%!",
}

// uuidFormat is the same check the server registers for format: uuid.
var uuidFormat = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type contractT struct {
	spec     *openapi3.T
	router   routers.Router
	errorSch *openapi3.Schema
	opts     *openapi3filter.Options
}

var loadContract = sync.OnceValues(func() (*contractT, error) {
	spec, err := apiserver.GetSpec()
	if err != nil {
		return nil, err
	}
	// servers: [{url: /}] is relative; route on paths alone, as the notes
	// recommend, so requests to the httptest host match.
	spec.Servers = nil
	router, err := legacy.NewRouter(spec, openapi3.EnableSchemaFormatValidation())
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	ref := spec.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("spec has no components/schemas/Error")
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(uuidFormat.String())),
			openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
				u, err := url.Parse(s)
				if err != nil || !u.IsAbs() || u.Host == "" {
					return errors.New("must be an absolute URL")
				}
				return nil
			})),
		},
	}
	return &contractT{spec: spec, router: router, errorSch: ref.Value, opts: opts}, nil
})

// coverage counts the validated responses per "operationId status".
var coverage = struct {
	sync.Mutex
	seen map[string]int
}{seen: map[string]int{}}

func cover(key string) {
	coverage.Lock()
	coverage.seen[key]++
	coverage.Unlock()
}

// validatingTransport records and validates every response it carries.
type validatingTransport struct {
	t    testing.TB
	base http.RoundTripper

	mu    sync.Mutex
	count int
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	vt.mu.Lock()
	vt.count++
	vt.mu.Unlock()
	if err := checkContract(req, resp, body); err != nil {
		vt.t.Errorf("contract violation: %s %s -> %d: %v\n\tbody: %.600s", req.Method, req.URL.RequestURI(), resp.StatusCode, err, body)
	}
	return resp, nil
}

func (vt *validatingTransport) validated() int {
	vt.mu.Lock()
	defer vt.mu.Unlock()
	return vt.count
}

// checkContract validates one response: against the operation's documented
// response when the request names an operation, against the Error schema
// otherwise; and every error answer must have the one error shape.
func checkContract(req *http.Request, resp *http.Response, body []byte) error {
	return checkContractEchoing(req, resp, body, nil)
}

// checkContractEchoing is checkContract for a response whose request may come
// back in it by design (member names in "property ... is unsupported", a
// filter value the account does not own): a fragment of Go error text that
// the request body sent itself contains is not held against the response.
// The fuzz target uses it; sent nil is checkContract.
func checkContractEchoing(req *http.Request, resp *http.Response, body, sent []byte) error {
	c, err := loadContract()
	if err != nil {
		return fmt.Errorf("load contract: %w", err)
	}
	if req.Method != http.MethodHead {
		ct := resp.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return fmt.Errorf("Content-Type is %q, want application/json", ct)
		}
	}
	if resp.StatusCode >= 400 {
		if err := checkErrorShapeEchoing(body, sent); err != nil {
			return err
		}
	}

	req = routable(req)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return fmt.Errorf("find route: %w", err)
		}
		switch re.Reason {
		case routers.ErrPathNotFound.Error():
			// The legacy router reports a method the spec does not have on
			// a templated path (GET /webhooks/{uuid}/rotate-secret) as an
			// unknown path; the path is there, so that is a 405.
			if specHasPath(c.spec, req.URL.Path) {
				if resp.StatusCode != http.StatusMethodNotAllowed {
					return fmt.Errorf("method is not in the spec for this path, but the status is %d, not 405", resp.StatusCode)
				}
				if resp.Header.Get("Allow") == "" {
					return errors.New("405 without an Allow header")
				}
				break
			}
			if resp.StatusCode != http.StatusNotFound {
				return fmt.Errorf("path is not in the spec, but the status is %d, not 404", resp.StatusCode)
			}
		case routers.ErrMethodNotAllowed.Error():
			if resp.StatusCode != http.StatusMethodNotAllowed {
				return fmt.Errorf("method is not in the spec for this path, but the status is %d, not 405", resp.StatusCode)
			}
			if resp.Header.Get("Allow") == "" {
				return errors.New("405 without an Allow header")
			}
		default:
			return fmt.Errorf("find route: %w", err)
		}
		cover("(no operation) " + strconv.Itoa(resp.StatusCode))
		return c.validateError(body)
	}

	// The legacy router lets a trailing path parameter match an empty
	// segment (DELETE /webhooks matches DELETE /webhooks/{uuid} with
	// uuid ""). That is not the operation: judge it as the router would have
	// without the empty match.
	for _, v := range params {
		if v == "" {
			want := http.StatusNotFound
			if item := c.spec.Paths.Value(req.URL.Path); item != nil && item.GetOperation(req.Method) == nil {
				want = http.StatusMethodNotAllowed
			}
			if resp.StatusCode != want {
				return fmt.Errorf("request names no operation (empty path parameter), but the status is %d, not %d", resp.StatusCode, want)
			}
			cover("(no operation) " + strconv.Itoa(resp.StatusCode))
			return c.validateError(body)
		}
	}

	op := normalOpID(route.Operation.OperationID)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                c.opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	cover(op + " " + strconv.Itoa(resp.StatusCode))
	return nil
}

// routable returns req as the server routes it: an encoded slash (%2F) is
// data inside its path segment, not a separator. The spec's router matches
// the decoded path, where it is one; in the copy it routes, each encoded slash
// becomes U+2215 (DIVISION SLASH), which stays inside the segment.
func routable(req *http.Request) *http.Request {
	raw := req.URL.EscapedPath()
	if !strings.Contains(strings.ToUpper(raw), "%2F") {
		return req
	}
	segs := strings.Split(raw, "/")
	for i, seg := range segs {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "%2F", "%E2%88%95"), "%2f", "%E2%88%95")
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		} else {
			segs[i] = seg
		}
	}
	r := req.Clone(req.Context())
	r.URL.Path, r.URL.RawPath = strings.Join(segs, "/"), ""
	return r
}

// specHasPath reports whether path matches one of the spec's path
// templates, each {parameter} matching one non-empty segment.
func specHasPath(spec *openapi3.T, path string) bool {
	segs := strings.Split(path, "/")
	for tmpl := range spec.Paths.Map() {
		parts := strings.Split(tmpl, "/")
		if len(parts) != len(segs) {
			continue
		}
		ok := true
		for i, p := range parts {
			if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
				ok = ok && segs[i] != ""
			} else {
				ok = ok && p == segs[i]
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c *contractT) validateError(body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if err := c.errorSch.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("body does not match components/schemas/Error: %w", err)
	}
	return nil
}

// checkErrorShape: {"success": false, "error": "<non-empty>"}, and no Go
// error text anywhere in the body.
func checkErrorShape(body []byte) error { return checkErrorShapeEchoing(body, nil) }

// checkErrorShapeEchoing is checkErrorShape, allowing Go-error-text
// fragments that the request body sent contains (see checkContractEchoing).
func checkErrorShapeEchoing(body, sent []byte) error {
	var e struct {
		Success *bool   `json:"success"`
		Error   *string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("error body is not a JSON object: %v", err)
	}
	if e.Success == nil || *e.Success {
		return errors.New(`error body lacks "success": false`)
	}
	if e.Error == nil || strings.TrimSpace(*e.Error) == "" {
		return errors.New(`error body lacks a non-empty "error"`)
	}
	if frag := goTextInExcept(body, sent); frag != "" {
		return fmt.Errorf("error body contains Go error text %q", frag)
	}
	return nil
}

// goTextIn returns the first fragment of goErrorText found in the raw body or
// in any of its decoded strings (encoding/json escapes <, > and &).
func goTextIn(body []byte) string { return goTextInExcept(body, nil) }

// goTextInExcept is goTextIn, skipping fragments that occur in sent, raw or
// in any of its JSON strings (read leniently, up to its first error).
func goTextInExcept(body, sent []byte) string {
	texts := []string{string(body)}
	var v any
	if json.Unmarshal(body, &v) == nil {
		texts = append(texts, jsonStrings(v)...)
	}
	lower := strings.ToLower(strings.Join(texts, "\n"))
	echoed := strings.ToLower(string(sent) + "\n" + strings.Join(lenientStrings(sent), "\n"))
	for _, frag := range goErrorText {
		f := strings.ToLower(frag)
		if strings.Contains(lower, f) && (len(sent) == 0 || !strings.Contains(echoed, f)) {
			return frag
		}
	}
	return ""
}

// lenientStrings returns the strings (member names included) of a JSON text
// up to its first syntax error.
func lenientStrings(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	var out []string
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

// jsonStrings returns every string (keys included) of a decoded JSON value.
func jsonStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range v {
			out = append(out, k)
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

// normalOpID undoes the generator's normalisation: the embedded spec carries
// operationIds with an upper-case first letter (CreateWebhook), openapi.yaml
// the lower-camel ones (createWebhook). Coverage keys use the latter.
func normalOpID(id string) string {
	if id == "" {
		return id
	}
	return strings.ToLower(id[:1]) + id[1:]
}

// documentedPairs returns every "operationId status" the spec declares.
func documentedPairs(spec *openapi3.T) []string {
	var out []string
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			for code := range op.Responses.Map() {
				out = append(out, normalOpID(op.OperationID)+" "+code)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestMain runs the tests and then, for a full run (no -run, -skip or -list)
// that passed, fails if some documented (operation, status) pair was never
// seen by the validating transport: a documented answer no test checks.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code != 0 || flagSet("test.run") || flagSet("test.skip") || flagSet("test.list") {
		os.Exit(code)
	}
	c, err := loadContract()
	if err != nil {
		fmt.Fprintln(os.Stderr, "contract:", err)
		os.Exit(1)
	}
	var missing []string
	coverage.Lock()
	for _, pair := range documentedPairs(c.spec) {
		if coverage.seen[pair] == 0 {
			missing = append(missing, pair)
		}
	}
	coverage.Unlock()
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: documented responses no test exercised: %s\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
	os.Exit(code)
}

func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != ""
}
