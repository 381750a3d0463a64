package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// operation is one spec operation, prepared once at start-up so a request
// needs no second routing pass: Echo has already matched it.
type operation struct {
	id       string
	route    *routers.Route
	security string // the security scheme that applies ("" = none)
	hasBody  bool
	// bodyRequired is false for operations whose body may be omitted.
	bodyRequired bool
	// defaulted are the body's top-level members that have a default and
	// are not nullable: kin-openapi puts the default in place of an explicit
	// null too, so null must be refused before it validates.
	defaulted []string
}

// isUUID reports whether s is a uuid in its 8-4-4-4-12 hex form, either case.
// It runs on every request that names a webhook, where a regular expression
// cost more than the rest of the path check.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

var errNotUUID = errors.New("must be a UUID")

// validationOptions returns the openapi3 schema options that give the formats
// we rely on real checks: kin-openapi leaves uri and uuid unchecked by default.
// They are per validation, not global, so embedding programs keep theirs.
func validationOptions() []openapi3.SchemaValidationOption {
	// One map, built once: WithStringFormatValidator (singular) would make a
	// new map and fill it on every value kin-openapi validates, a tenth of
	// a validated GET's time. kin-openapi only reads it.
	return []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(stringFormats)}
}

// stringFormats are the string formats the API checks itself: uuid without a
// regexp, and uri as an absolute URL with a host.
var stringFormats = map[string]openapi3.StringFormatValidator{
	"uuid": openapi3.NewCallbackValidator(func(s string) error {
		if !isUUID(s) {
			return errNotUUID
		}
		return nil
	}),
	"uri": openapi3.NewCallbackValidator(func(s string) error {
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return errors.New("must be an absolute URL")
		}
		return nil
	}),
}

// loadOperations validates the spec and indexes its operations by id.
func loadOperations(ctx context.Context, spec *openapi3.T) (map[string]*operation, error) {
	// Validate compiles the spec's patterns, with compilePattern, into
	// kin-openapi's cache, where request validation finds them.
	if err := spec.Validate(ctx, openapi3.EnableSchemaFormatValidation(), openapi3.SetRegexCompiler(compilePattern)); err != nil {
		return nil, fmt.Errorf("embedded spec is invalid: %w", err)
	}
	ops := map[string]*operation{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			sec := spec.Security
			if op.Security != nil {
				sec = *op.Security
			}
			scheme := ""
			if len(sec) > 0 {
				names := make([]string, 0, len(sec[0]))
				for n := range sec[0] {
					names = append(names, n)
				}
				sort.Strings(names)
				scheme = names[0]
			}
			// kin-openapi would only check that credentials are present;
			// authenticate checks them for real before validation, so the
			// validator gets the operation without security requirements
			// (an empty list, not nil, which would fall back to the spec's).
			validated := *op
			validated.Security = &openapi3.SecurityRequirements{}
			ops[op.OperationID] = &operation{
				id:           op.OperationID,
				route:        &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: &validated},
				security:     scheme,
				hasBody:      op.RequestBody != nil,
				bodyRequired: op.RequestBody != nil && op.RequestBody.Value != nil && op.RequestBody.Value.Required,
				defaulted:    defaultedMembers(op),
			}
		}
	}
	return ops, nil
}

// defaultedMembers lists the top-level members of op's JSON body that have a
// default and are not nullable.
func defaultedMembers(op *openapi3.Operation) []string {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	var out []string
	for name, p := range mt.Schema.Value.Properties {
		if p != nil && p.Value != nil && p.Value.Default != nil && !p.Value.Nullable {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// refuseNull answers 400 when one of the members names is an explicit null
// in the (already read) body. A body that is not an object is left to the
// validator.
func refuseNull(req *http.Request, names []string) error {
	if len(names) == 0 || req.GetBody == nil {
		return nil
	}
	rc, err := req.GetBody()
	if err != nil {
		return err
	}
	defer rc.Close()
	var members map[string]json.RawMessage
	if json.NewDecoder(rc).Decode(&members) != nil {
		return nil
	}
	for _, name := range names {
		if v, ok := members[name]; ok && string(v) == "null" {
			return badRequest(fmt.Sprintf("Invalid %s: must not be null.", name),
				models.ErrorDetail{Field: "/" + name, Reason: "must not be null"})
		}
	}
	return nil
}

// validator checks one request against its operation: authentication first
// (so an anonymous caller learns nothing about validation), then the media
// type, then parameters and body against the schema. The validated body value
// is kept on the request (KeepValidatedValue) so the strict handler binds
// exactly what was validated instead of decoding the bytes a second time.
//
// Except for events: their data is the producer's, delivered as sent (member
// order, string escapes, every digit). The validated value is a decoded map,
// which the binder would encode again with sorted keys; without it the binder
// decodes the bytes themselves into the model, whose data is a
// json.RawMessage. The schema refuses unknown members, and the JSON check
// duplicate and case-variant ones, so that decode binds what was validated.
func (a *API) validator(op *operation) echo.MiddlewareFunc {
	opts := &openapi3filter.Options{
		KeepValidatedValue:      !strings.EqualFold(op.id, "ingestEvent") && !strings.EqualFold(op.id, "ingestEventBatch"),
		MultiError:              true,
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc, // done below, before validation
		SchemaValidationOptions: validationOptions(),
	}
	opts.WithCustomSchemaErrorFunc(func(e *openapi3.SchemaError) string { return e.Reason })
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := a.authenticate(c, op); err != nil {
				return err
			}
			// authenticate may have replaced the request (account in context);
			// the validated body must be left on the one the handler reads.
			req := c.Request()
			if op.hasBody && (op.bodyRequired || sendsBody(req)) {
				if err := checkJSONBody(req); err != nil {
					return err
				}
				if err := readJSONBody(req); err != nil {
					return err
				}
				if err := refuseNull(req, op.defaulted); err != nil {
					return err
				}
			}
			params := make(map[string]string, len(c.ParamNames()))
			for i, name := range c.ParamNames() {
				v := c.ParamValues()[i]
				if u, err := url.PathUnescape(v); err == nil {
					v = u
				}
				params[name] = v
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op.route, Options: opts}
			if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
				// A chunked body has no Content-Length for BodyLimit to refuse
				// up front; it is cut off while the validator reads it. That
				// is a 413, not a validation error.
				if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
					return err
				}
				return validationError(err)
			}
			return integerSyntaxError(req, next(c))
		}
	}
}

// reasonInteger is why 1.0 or 1e2 is refused where an integer is expected.
const reasonInteger = "must be an integer, written without a decimal point or exponent"

// integerSyntaxError words the generated binder's refusal of a whole number
// written with a decimal point or an exponent (1.0, 1e2) for an integer
// member: the validator accepts it (JSON Schema counts 1.0 as an integer),
// Go cannot decode it into an int, and Echo's error names no field (only a
// Go struct path, without array indexes). Other errors pass unchanged.
func integerSyntaxError(req *http.Request, err error) error {
	var he *echo.HTTPError
	var ute *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &he) || he.Code != http.StatusBadRequest || !errors.As(he.Internal, &ute) ||
		ute.Type == nil || !strings.HasPrefix(ute.Value, "number") || req.GetBody == nil {
		return err
	}
	switch ute.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return err
	}
	rc, rerr := req.GetBody()
	if rerr != nil {
		return err
	}
	defer rc.Close()
	data, rerr := io.ReadAll(rc)
	if rerr != nil {
		return err
	}
	if ptr, ok := pointerAt(data, ute.Offset); ok {
		return fieldError(ptr, reasonInteger)
	}
	return err
}

// sendsBody reports whether the request carries a body at all.
func sendsBody(req *http.Request) bool {
	return req.ContentLength > 0 || (req.ContentLength < 0 && len(req.TransferEncoding) > 0)
}

// checkJSONBody answers 415 for anything but JSON, before the validator reads
// the body.
func checkJSONBody(req *http.Request) error {
	ct := req.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, "Content-Type must be application/json.")
	}
	return nil
}

// validationError turns kin-openapi's errors into one sentence and per-field
// details. Only schema reasons and field paths are used: they never contain the
// submitted values.
func validationError(err error) error {
	var details []models.ErrorDetail
	var first string
	var visit func(error)
	visit = func(err error) {
		// Only a MultiError at this level is flattened: errors.As would also
		// find the one a RequestError wraps and lose the parameter's name
		// (a bad ?limit= was reported as "body").
		if me, ok := err.(openapi3.MultiError); ok {
			for _, e := range me {
				visit(e)
			}
			return
		}
		var reqErr *openapi3filter.RequestError
		if errors.As(err, &reqErr) {
			field := "body"
			if reqErr.Parameter != nil {
				field = reqErr.Parameter.Name
			}
			if reqErr.Err == nil {
				add(&details, &first, field, reqErr.Reason)
				return
			}
			var pe *openapi3filter.ParseError
			if errors.As(reqErr.Err, &pe) {
				reason := "is not valid JSON"
				if reqErr.Parameter != nil {
					reason = "is not a valid value" // a header or query value, not JSON
				}
				add(&details, &first, field, reason)
				return
			}
			if errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired) {
				add(&details, &first, field, "is required")
				return
			}
			if inner := reqErr.Err; inner != nil {
				if _, ok := inner.(openapi3.MultiError); ok || isSchemaError(inner) {
					visitSchema(inner, field, &details, &first)
					return
				}
			}
			add(&details, &first, field, "is invalid")
			return
		}
		if isSchemaError(err) {
			visitSchema(err, "body", &details, &first)
			return
		}
		add(&details, &first, "request", "is invalid")
	}
	visit(err)
	if first == "" {
		first = "Request is invalid."
	}
	return badRequest(first, details...)
}

func isSchemaError(err error) bool {
	var se *openapi3.SchemaError
	return errors.As(err, &se)
}

func visitSchema(err error, base string, details *[]models.ErrorDetail, first *string) {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			visitSchema(e, base, details, first)
		}
		return
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		add(details, first, base, "is invalid")
		return
	}
	field := base
	if ptr := se.JSONPointer(); len(ptr) > 0 {
		field = "/" + strings.Join(ptr, "/")
	}
	reason := se.Reason
	if _, ok := se.Value.(json.Number); ok && se.SchemaField == "type" {
		// A number beyond float64 (1e309): kin-openapi's reason for it is Go
		// text ("cannot convert json.Number to float64").
		reason = reasonNumberRange
	}
	if n, ok := se.Value.(json.Number); ok && se.SchemaField == "enum" && se.Schema != nil && se.Schema.Type.Is("integer") {
		// 0.5 for an integer enum (status): kin-openapi stops at the enum,
		// whose reason would not say what is wrong with the number.
		if f, err := n.Float64(); err == nil && f != math.Trunc(f) {
			reason = "value must be an integer"
		}
	}
	if se.SchemaField == "pattern" && se.Schema != nil {
		if r, ok := patternReasons[se.Schema.Pattern]; ok {
			reason = r
		}
	}
	add(details, first, field, reason)
}

// textPattern is the spec's pattern for the text fields it defines: no
// control characters (C0 and DEL).
const textPattern = `^[^\x00-\x1F\x7F]*$`

// compilePattern compiles a spec pattern as kin-openapi does (Go RE2, with
// \uXXXX read as \x{XXXX}), except textPattern: it is checked on up to five
// fields of every ingested event, where the regular expression took some
// 220 ns a field (1 ms for a batch of 1000) and a byte loop takes 7 ns. The
// loop matches exactly what the expression does, since no byte of another
// character's UTF-8 encoding (nor of invalid UTF-8, which the expression
// reads as U+FFFD) is below 0x80.
func compilePattern(expr string) (openapi3.RegexMatcher, error) {
	if expr == textPattern {
		return noControlChars{}, nil
	}
	re, err := regexp.Compile(codepointEscape.ReplaceAllString(expr, `\x{$1}`))
	if err != nil {
		return nil, err // an untyped nil: kin-openapi checks the matcher for nil
	}
	return re, nil
}

// codepointEscape is an ECMAScript \uXXXX escape, as kin-openapi rewrites it.
var codepointEscape = regexp.MustCompile(`\\u([0-9A-F]{4})`)

// noControlChars matches textPattern.
type noControlChars struct{}

// MatchString reports whether s has no byte below 0x20 and no 0x7F.
func (noControlChars) MatchString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// patternReasons words the spec's patterns for clients: kin-openapi's
// reason quotes the regular expression. Every pattern of the spec has one
// (TestEveryPatternHasAReason).
var patternReasons = map[string]string{
	textPattern:                          "must not contain control characters (U+0000 to U+001F, U+007F)",
	`^ *[a-zA-Z0-9_\-][a-zA-Z0-9 _\-]*$`: "must be letters, digits, hyphens, underscores and spaces, not only spaces",
	`^evt_[A-Za-z0-9_-]{1,64}$`:          "must be evt_ and 1 to 64 letters, digits, hyphens or underscores",
	headerValuePattern:                   "must not contain control characters other than tab (U+0000 to U+0008, U+000A to U+001F, U+007F)",
}

func add(details *[]models.ErrorDetail, first *string, field, reason string) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "is invalid"
	}
	if len(*details) >= 20 {
		return
	}
	*details = append(*details, models.ErrorDetail{Field: field, Reason: reason})
	if *first == "" {
		// The headline stays one short sentence; long enumerations of allowed
		// values remain in the details.
		if i := strings.Index(reason, " ["); i > 0 {
			reason = reason[:i]
		}
		switch field {
		case "body":
			*first = "Request body " + reason + "."
		default:
			*first = fmt.Sprintf("Invalid %s: %s.", strings.TrimPrefix(field, "/"), reason)
		}
	}
}
