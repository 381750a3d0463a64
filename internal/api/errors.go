package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Error is an error meant for the API client: a status and one clear sentence.
// Handlers and middleware return it; ErrorHandler renders it. Anything else
// that reaches ErrorHandler is an internal failure and is answered with a
// generic 500, its text kept for the log.
type Error struct {
	Status  int
	Message string
	Details []models.ErrorDetail
	// Header carries extra response headers (Retry-After, Allow).
	Header http.Header
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

func newError(status int, msg string, details ...models.ErrorDetail) *Error {
	return &Error{Status: status, Message: msg, Details: details}
}

func badRequest(msg string, details ...models.ErrorDetail) *Error {
	return newError(http.StatusBadRequest, msg, details...)
}

var errWebhookNotFound = newError(http.StatusNotFound, "Webhook not found.")

// ErrorHandler is the Echo HTTPErrorHandler: the one place where errors become
// HTTP answers, always JSON of the shape {"success": false, "error": "..."}.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		apiErr := toAPIError(err)
		if apiErr.Status >= 500 {
			log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
		}
		for k, vs := range apiErr.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		body := models.Error{Success: false, Error: apiErr.Message, Details: apiErr.Details}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(apiErr.Status)
		} else {
			err = c.JSON(apiErr.Status, body)
		}
		if err != nil {
			log.Error("write error response", "err", err)
		}
	}
}

func toAPIError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var inErr *ingest.InputError
	if errors.As(err, &inErr) {
		return badRequest(fmt.Sprintf("Event %d is invalid: %s %s.", inErr.Index, inErr.Field, inErr.Reason),
			models.ErrorDetail{Field: fmt.Sprintf("/events/%d/%s", inErr.Index, inErr.Field), Reason: inErr.Reason})
	}
	if errors.Is(err, store.ErrNotFound) {
		return newError(http.StatusNotFound, "Not found.")
	}
	if errors.Is(err, store.ErrLeaseLost) {
		// A retry took the key over while this request was still running.
		return errIdempotencyRunning
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he)
	}
	return newError(http.StatusInternalServerError, "Internal server error.")
}

// fromEchoError maps the framework's own errors (routing, body limit, binding)
// to sentences of our own: Echo's messages can carry Go error text.
func fromEchoError(he *echo.HTTPError) *Error {
	switch he.Code {
	case http.StatusNotFound:
		return newError(http.StatusNotFound, "No such endpoint.")
	case http.StatusMethodNotAllowed:
		return newError(http.StatusMethodNotAllowed, "Method not allowed on this endpoint.")
	case http.StatusRequestEntityTooLarge:
		return newError(http.StatusRequestEntityTooLarge, "Request body is too large.")
	case http.StatusUnsupportedMediaType:
		return newError(http.StatusUnsupportedMediaType, "Content-Type must be application/json.")
	case http.StatusBadRequest:
		// The generated binder's errors: a body that validated but does not
		// bind, or a header or query value given twice.
		return badRequest("Request is not valid for this endpoint.")
	case http.StatusUnauthorized:
		return newError(http.StatusUnauthorized, "Missing or invalid API key.")
	case http.StatusServiceUnavailable:
		return newError(http.StatusServiceUnavailable, "Service unavailable.")
	}
	if he.Code >= 400 && he.Code < 500 {
		return newError(he.Code, strings.TrimSuffix(http.StatusText(he.Code), ".")+".")
	}
	return newError(http.StatusInternalServerError, "Internal server error.")
}
