package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// apiError is an API refusal: its sentence and the fields it names, keyed
// by the body member ("name", "url", "events", …).
type apiError struct {
	Status  int
	Message string
	Fields  map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// recorder is a minimal in-memory http.ResponseWriter for in-process calls.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// call makes one API request in process as the session's account and
// decodes a 2xx answer into out. A 4xx answer is an *apiError carrying the
// API's own words; anything else is an internal error.
func (p *Portal) call(r *http.Request, s *session, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("portal api call: %w", err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, p.cfg.APIBase+path, rd)
	if err != nil {
		return fmt.Errorf("portal api call: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = r.RemoteAddr
	rec := &recorder{header: http.Header{}}
	p.cfg.API.ServeAccount(rec, req, s.acc)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 200 && rec.status < 300 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("portal api call %s %s: decode: %w", method, path, err)
		}
		return nil
	}
	var e models.Error
	if err := json.Unmarshal(rec.body.Bytes(), &e); err != nil || rec.status >= 500 {
		return fmt.Errorf("portal api call %s %s: status %d", method, path, rec.status)
	}
	ae := &apiError{Status: rec.status, Message: e.Error, Fields: map[string]string{}}
	{
		for _, d := range e.Details {
			f := strings.TrimPrefix(d.Field, "/")
			f, _, _ = strings.Cut(f, "/")
			if _, seen := ae.Fields[f]; !seen {
				ae.Fields[f] = d.Reason
			}
		}
	}
	return ae
}
