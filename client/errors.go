package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// Error is the error every method returns when the server answers with a
// status outside 2xx. Use errors.As to get at it:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
//		for _, d := range apiErr.Details {
//			log.Printf("%s: %s", d.Field, d.Reason)
//		}
//	}
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the server's one-sentence explanation: the body's "error"
	// field, else its "message" field (as some JetEmail endpoints use), else
	// the HTTP status text.
	Message string
	// Details names the offending fields of a rejected request, if the
	// server said.
	Details []models.ErrorDetail
	// RetryAfter is how long the server asked to wait before retrying, from
	// the Retry-After header (seconds or HTTP date) of a 429 or 503 answer;
	// zero when not given.
	RetryAfter time.Duration
}

// Error returns "jetwebhooks: <status>: <message>", followed by the details
// in parentheses when there are any.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = statusText(e.StatusCode)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "jetwebhooks: %d: %s", e.StatusCode, msg)
	if len(e.Details) > 0 {
		b.WriteString(" (")
		for i, d := range e.Details {
			if i > 0 {
				b.WriteString("; ")
			}
			switch {
			case d.Field == "":
				b.WriteString(d.Reason)
			case d.Reason == "":
				b.WriteString(d.Field)
			default:
				b.WriteString(d.Field + ": " + d.Reason)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

// IsNotFound reports whether err is, or wraps, an *Error with status 404: the
// webhook (or event) does not exist in the calling account.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// newError builds the *Error for an answer outside 2xx from its status,
// headers and (possibly empty, possibly non-JSON) body.
func newError(rsp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: rsp.StatusCode}
	e.Message, e.Details = parseErrorBody(body)
	if e.Message == "" {
		e.Message = statusText(rsp.StatusCode)
	}
	if rsp.StatusCode == http.StatusTooManyRequests || rsp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(rsp.Header.Get("Retry-After"), time.Now())
	}
	return e
}

// parseErrorBody extracts the message and details of an error body, leniently:
// anything it does not understand is ignored rather than reported.
func parseErrorBody(body []byte) (string, []models.ErrorDetail) {
	var raw struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Details json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", nil
	}
	msg := messageOf(raw.Error)
	if msg == "" {
		msg = messageOf(raw.Message)
	}
	var details []models.ErrorDetail
	if len(raw.Details) > 0 {
		if err := json.Unmarshal(raw.Details, &details); err != nil {
			details = nil
		}
	}
	return msg, details
}

// messageOf returns v if it is a JSON string, or the "message" of v if it is
// an object with one ({"error": {"message": "..."}}); otherwise "".
func messageOf(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return strings.TrimSpace(s)
	}
	var obj struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(v, &obj); err == nil {
		return strings.TrimSpace(obj.Message)
	}
	return ""
}

// statusText is http.StatusText with a fallback for unknown codes.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "unexpected HTTP status"
}

// parseRetryAfter reads a Retry-After value: delay seconds, or an HTTP date
// relative to now. It returns 0 for a missing, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case secs <= 0:
			return 0
		case secs > int64(math.MaxInt64/time.Second):
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
