package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeAuthFailureBudget: --auth-failure-budget reaches the API: with a
// budget of 2 an hour, the third wrong key from this address is a 429 with
// Retry-After, and a well-formed Authorization header is needed to spend it.
func TestServeAuthFailureBudget(t *testing.T) {
	t.Parallel()
	p := startServe(t, filepath.Join(t.TempDir(), "jw.db"), "--auth-failure-budget", "2", "--auth-failure-window", "1h")
	try := func() (int, string, string) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+p.addr+"/webhooks", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer api_wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	for i := range 2 {
		if code, _, body := try(); code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d %s, want 401", i+1, code, body)
		}
	}
	code, ra, body := try()
	if code != http.StatusTooManyRequests || ra != "1800" || !strings.Contains(body, `"success":false`) {
		t.Errorf("third wrong key: %d, Retry-After %q, %s; want 429, 1800 (an hour's budget of 2) and the error shape", code, ra, body)
	}
}
