// Package contract holds the server to openapi.yaml: Check wraps an
// http.Handler and validates every response it writes to an operation of the
// spec with kin-openapi's openapi3filter.ValidateResponse (status included:
// an undocumented status is a violation), and every error answer against the
// spec's Error schema.
//
// Tests wrap the servers they start in it (servertest does), so any test whose
// request gets an answer the spec does not describe fails. `serve
// --validate-responses` does the same in a running process and logs each
// violation, for development. It buffers each response body: it is not for
// production traffic.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/jetwebhooks/jetwebhooks"
)

// Violation is one response the spec does not describe.
type Violation struct {
	Method string
	Path   string
	Status int
	Err    error
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s -> %d: %v", v.Method, v.Path, v.Status, v.Err)
}

// uuidFormat is the check the server registers for format: uuid.
var uuidFormat = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type checker struct {
	router   routers.Router
	errorSch *openapi3.Schema
	opts     *openapi3filter.Options
	next     http.Handler
	report   func(Violation)
}

// Check returns h wrapped so that every response to a request for one of the
// spec's operations is validated after h has written it; report receives each
// violation. Requests for paths outside the spec (health, metrics, docs, the
// portal) are passed through unchecked.
func Check(h http.Handler, report func(Violation)) (http.Handler, error) {
	spec, err := openapi3.NewLoader().LoadFromData(jetwebhooks.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("contract: load spec: %w", err)
	}
	// servers: [{url: /}] is relative: route on paths alone.
	spec.Servers = nil
	router, err := legacy.NewRouter(spec, openapi3.EnableSchemaFormatValidation())
	if err != nil {
		return nil, fmt.Errorf("contract: router: %w", err)
	}
	ref := spec.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("contract: spec has no components/schemas/Error")
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(uuidFormat.String())),
		},
	}
	return &checker{router: router, errorSch: ref.Value, opts: opts, next: h, report: report}, nil
}

func (c *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, params, err := c.router.FindRoute(r)
	if err != nil || emptyParam(params) {
		c.next.ServeHTTP(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(rec, r)
	if err := c.validate(r, route, params, rec); err != nil {
		c.report(Violation{Method: r.Method, Path: r.URL.RequestURI(), Status: rec.status, Err: err})
	}
}

// emptyParam: the legacy router lets a trailing path parameter match an
// empty segment (DELETE /webhooks as DELETE /webhooks/{uuid}); that request
// names no operation.
func emptyParam(params map[string]string) bool {
	for _, v := range params {
		if v == "" {
			return true
		}
	}
	return false
}

func (c *checker) validate(r *http.Request, route *routers.Route, params map[string]string, rec *recorder) error {
	if r.Method != http.MethodHead && rec.buf.Len() > 0 {
		ct := rec.Header().Get("Content-Type")
		if !strings.HasPrefix(ct, "application/json") {
			return fmt.Errorf("Content-Type is %q, want application/json", ct)
		}
	}
	if rec.status >= 400 {
		if err := c.errorSch.VisitJSON(decode(rec.buf.Bytes())); err != nil {
			return fmt.Errorf("error answer is not the Error schema: %w", err)
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 rec.status,
		Header:                 rec.Header(),
		Options:                c.opts,
	}
	in.SetBodyBytes(rec.buf.Bytes())
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// recorder passes a response through and keeps its status and body.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	buf         bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// decode turns a JSON body into the generic value kin-openapi validates.
func decode(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}
