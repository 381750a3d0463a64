package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// TestFakeServerErrors checks the typed errors for the answers the real
// server gives: 400 with details, 401, 404.
func TestFakeServerErrors(t *testing.T) {
	_, srv := newFake(t)
	ctx := context.Background()

	_, err := newClient(t, srv.URL, client.WithoutRetries()).CreateWebhook(ctx, client.CreateWebhookRequest{URL: "https://example.com/h"})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("CreateWebhook invalid: err = %v, want *Error", err)
	}
	wantDetails := []models.ErrorDetail{{Field: "/name", Reason: "is required"}, {Field: "/events", Reason: "must contain at least 1 item"}}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Message != "Validation failed." || !reflect.DeepEqual(apiErr.Details, wantDetails) {
		t.Errorf("400 error = %+v", apiErr)
	}
	if want := "jetwebhooks: 400: Validation failed. (/name: is required; /events: must contain at least 1 item)"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}

	bad, err := client.New(srv.URL, "api_wrong")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ListWebhooks(ctx)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Message != "Missing or invalid API key." {
		t.Errorf("401: err = %v", err)
	}
	if client.IsNotFound(err) {
		t.Errorf("IsNotFound(401) = true")
	}

	_, err = newClient(t, srv.URL, client.WithoutRetries()).GetWebhook(ctx, "6f1c2d3e-4b5a-4c6d-8e7f-000000000404")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || !client.IsNotFound(err) {
		t.Fatalf("404: err = %v", err)
	}
	if want := "jetwebhooks: 404: Webhook not found."; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !client.IsNotFound(fmt.Errorf("context: %w", err)) {
		t.Errorf("IsNotFound does not see through wrapping")
	}
}

func TestErrorBodies(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		message    string
		details    []models.ErrorDetail
		retryAfter time.Duration
		errString  string
	}{
		{
			name: "400 with details", status: 400, header: jsonCT,
			body:    `{"success":false,"error":"Invalid event type.","details":[{"field":"/events/0","reason":"unknown event type"}]}`,
			message: "Invalid event type.", details: []models.ErrorDetail{{Field: "/events/0", Reason: "unknown event type"}},
			errString: "jetwebhooks: 400: Invalid event type. (/events/0: unknown event type)",
		},
		{
			name: "401", status: 401, header: jsonCT,
			body: `{"success":false,"error":"Unauthorized."}`, message: "Unauthorized.",
			errString: "jetwebhooks: 401: Unauthorized.",
		},
		{
			name: "404", status: 404, header: jsonCT,
			body: `{"success":false,"error":"Webhook not found."}`, message: "Webhook not found.",
			errString: "jetwebhooks: 404: Webhook not found.",
		},
		{
			name: "500", status: 500, header: jsonCT,
			body: `{"success":false,"error":"Internal server error."}`, message: "Internal server error.",
		},
		{
			name: "message fallback (JetEmail)", status: 400, header: jsonCT,
			body: `{"success":false,"message":"Name is required"}`, message: "Name is required",
			errString: "jetwebhooks: 400: Name is required",
		},
		{
			name: "error preferred over message", status: 422, header: jsonCT,
			body: `{"error":"the error","message":"the message"}`, message: "the error",
		},
		{
			name: "empty error falls back to message", status: 400, header: jsonCT,
			body: `{"error":"","message":"the message"}`, message: "the message",
		},
		{
			name: "nested error object", status: 403, header: jsonCT,
			body: `{"error":{"code":"forbidden","message":"Not allowed."}}`, message: "Not allowed.",
		},
		{
			name: "details of another shape are ignored", status: 400, header: jsonCT,
			body: `{"success":false,"error":"Bad.","details":"name too long"}`, message: "Bad.",
		},
		{
			name: "JSON without a message", status: 500, header: jsonCT,
			body: `{"success":false}`, message: "Internal Server Error",
			errString: "jetwebhooks: 500: Internal Server Error",
		},
		{
			name: "non-JSON body", status: 502, header: map[string]string{"Content-Type": "text/html"},
			body: `<html><body>Bad Gateway</body></html>`, message: "Bad Gateway",
			errString: "jetwebhooks: 502: Bad Gateway",
		},
		{
			name: "non-JSON body labelled JSON", status: 500, header: jsonCT,
			body: `<html>oops</html>`, message: "Internal Server Error",
		},
		{
			name: "non-JSON 400 labelled JSON", status: 400, header: jsonCT,
			body: `not json`, message: "Bad Request",
		},
		{
			name: "empty body", status: 404, header: nil,
			body: ``, message: "Not Found",
		},
		{
			name: "unknown status", status: 599, header: nil,
			body: ``, message: "unexpected HTTP status", errString: "jetwebhooks: 599: unexpected HTTP status",
		},
		{
			name: "429 Retry-After seconds", status: 429, header: map[string]string{"Content-Type": "application/json", "Retry-After": "7"},
			body: `{"success":false,"error":"Too many requests."}`, message: "Too many requests.", retryAfter: 7 * time.Second,
		},
		{
			name: "503 Retry-After seconds, no body", status: 503, header: map[string]string{"Retry-After": " 120 "},
			message: "Service Unavailable", retryAfter: 2 * time.Minute,
		},
		{
			name: "429 malformed Retry-After", status: 429, header: map[string]string{"Retry-After": "soon"},
			message: "Too Many Requests",
		},
		{
			name: "429 negative Retry-After", status: 429, header: map[string]string{"Retry-After": "-5"},
			message: "Too Many Requests",
		},
		{
			name: "Retry-After ignored on 500", status: 500, header: map[string]string{"Retry-After": "7"},
			message: "Internal Server Error",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := cannedServer(t, tc.status, tc.header, tc.body)
			_, err := newClient(t, srv.URL, client.WithoutRetries()).GetWebhook(context.Background(), "x")
			var apiErr *client.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Message != tc.message || !reflect.DeepEqual(apiErr.Details, tc.details) || apiErr.RetryAfter != tc.retryAfter {
				t.Errorf("got %+v, want status %d message %q details %v retryAfter %v", apiErr, tc.status, tc.message, tc.details, tc.retryAfter)
			}
			if tc.errString != "" && err.Error() != tc.errString {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.errString)
			}
			if client.IsNotFound(err) != (tc.status == 404) {
				t.Errorf("IsNotFound = %v for %d", client.IsNotFound(err), tc.status)
			}
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	when := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	srv, _ := cannedServer(t, http.StatusServiceUnavailable, map[string]string{"Retry-After": when}, "")
	_, err := newClient(t, srv.URL, client.WithoutRetries()).ListWebhooks(context.Background())
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	// The date has one-second resolution and some time has passed.
	if apiErr.RetryAfter < 80*time.Second || apiErr.RetryAfter > 90*time.Second {
		t.Errorf("RetryAfter = %v, want about 90s", apiErr.RetryAfter)
	}

	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	srv, _ = cannedServer(t, http.StatusTooManyRequests, map[string]string{"Retry-After": past}, "")
	_, err = newClient(t, srv.URL, client.WithoutRetries()).ListWebhooks(context.Background())
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 0 {
		t.Errorf("past Retry-After: err = %v, RetryAfter = %v, want 0", err, apiErr.RetryAfter)
	}
}

// TestEveryMethodReturnsTypedError runs each method against a server that
// always fails.
func TestEveryMethodReturnsTypedError(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 413, 415, 500} {
		body := fmt.Sprintf(`{"success":false,"error":"failure %d","details":[{"field":"f","reason":"r"}]}`, status)
		srv, count := cannedServer(t, status, map[string]string{"Content-Type": "application/json"}, body)
		c := newClient(t, srv.URL, client.WithIngestToken(testIngestToken))
		ctx := context.Background()
		calls := map[string]func() error{
			"ListWebhooks": func() error { _, err := c.ListWebhooks(ctx); return err },
			"GetWebhook":   func() error { _, err := c.GetWebhook(ctx, "x"); return err },
			"CreateWebhook": func() error {
				_, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "n", URL: "https://example.com/h", Events: []client.SubscribableEventType{"outbound.delivered"}})
				return err
			},
			"UpdateWebhook": func() error { return c.UpdateWebhook(ctx, client.UpdateWebhookRequest{Status: client.Status(true)}) },
			"DeleteWebhook": func() error { return c.DeleteWebhook(ctx, "x") },
			"ListWebhooksPage": func() error {
				_, err := c.ListWebhooksPage(ctx, 10, "cursor")
				return err
			},
			"RotateSecret": func() error { _, err := c.RotateSecret(ctx, "x", time.Hour); return err },
			"TestWebhook":  func() error { _, err := c.TestWebhook(ctx, "x", "outbound.bounced"); return err },
			"QueryEvents":  func() error { _, err := c.QueryEvents(ctx, client.QueryRequest{}); return err },
			"ReplayEvent": func() error {
				_, err := c.ReplayEvent(ctx, client.ReplayRequest{EventID: client.Ptr("evt_1")})
				return err
			},
			"PublishEvent": func() error {
				_, err := c.PublishEvent(ctx, client.Event{AccountID: "a", Type: "outbound.delivered"})
				return err
			},
			"PublishEvents": func() error {
				_, err := c.PublishEvents(ctx, []client.Event{{AccountID: "a", Type: "outbound.delivered"}})
				return err
			},
		}
		for name, call := range calls {
			err := call()
			var apiErr *client.Error
			if !errors.As(err, &apiErr) {
				t.Errorf("%d %s: err = %v (%T), want *Error", status, name, err, err)
				continue
			}
			want := client.Error{StatusCode: status, Message: fmt.Sprintf("failure %d", status), Details: []models.ErrorDetail{{Field: "f", Reason: "r"}}}
			if !reflect.DeepEqual(*apiErr, want) {
				t.Errorf("%d %s: %+v, want %+v", status, name, *apiErr, want)
			}
			if !strings.HasPrefix(apiErr.Error(), fmt.Sprintf("jetwebhooks: %d: failure %d", status, status)) {
				t.Errorf("%d %s: Error() = %q", status, name, apiErr.Error())
			}
		}
		if n := count(); n != len(calls) {
			t.Errorf("%d: server got %d requests, want %d", status, n, len(calls))
		}
	}
}

func TestErrorStringWithoutMessage(t *testing.T) {
	e := &client.Error{StatusCode: 418}
	if got, want := e.Error(), "jetwebhooks: 418: I'm a teapot"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &client.Error{StatusCode: 400, Message: "Bad.", Details: []models.ErrorDetail{{Reason: "no field"}, {Field: "/x"}}}
	if got, want := e.Error(), "jetwebhooks: 400: Bad. (no field; /x)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if client.IsNotFound(nil) || client.IsNotFound(errors.New("404")) {
		t.Error("IsNotFound true for a non-*Error")
	}
}
