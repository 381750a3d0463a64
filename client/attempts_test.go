package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestListDeliveryAttemptsFollowsCursors: the client escapes the event id in
// the path, follows next_cursor to the end and returns the attempts in
// order, with their nullable fields.
func TestListDeliveryAttemptsFollowsCursors(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("cursor") == "" {
			_, _ = io.WriteString(w, `{"success":true,"attempts":[{"attempt":1,"at":1,"duration_ms":5,"status_code":503,
				"error_class":"http_status","error":"HTTP 503","response_body":"busy"}],"next_cursor":"YTox"}`)
			return
		}
		_, _ = io.WriteString(w, `{"success":true,"attempts":[{"attempt":2,"at":2,"duration_ms":7,"status_code":null,
			"error_class":"timeout","error":"timed out after 10s","response_body":""}]}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	as, err := c.ListDeliveryAttempts(context.Background(), "0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e", "evt_a/b?c")
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Attempt != 1 || as[1].Attempt != 2 {
		t.Fatalf("attempts = %+v", as)
	}
	if code, err := as[0].StatusCode.Get(); err != nil || code != 503 {
		t.Errorf("first status_code = %v, %v", code, err)
	}
	if !as[1].StatusCode.IsNull() {
		t.Errorf("second status_code = %v, want null", as[1].StatusCode)
	}
	if class := as[1].ErrorClass; class == nil || *class != "timeout" {
		t.Errorf("second error_class = %v", class)
	}
	want := []string{
		"/webhooks/0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e/events/evt_a%2Fb%3Fc/attempts?",
		"/webhooks/0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e/events/evt_a%2Fb%3Fc/attempts?cursor=YTox",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("requests = %q, want %q", got, want)
	}
	if _, err := c.ListDeliveryAttemptsPage(context.Background(), "x", "..", 0, ""); err == nil {
		t.Error("a dot-segment event id was sent")
	}
}
