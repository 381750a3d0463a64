package contract_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/internal/contract"
)

// TestCheck: answers the spec describes pass; a missing required field, an
// undocumented status, an error answer not in the error shape and a wrong
// Content-Type are each reported; paths outside the spec are not checked.
func TestCheck(t *testing.T) {
	cases := []struct {
		name, method, path string
		status             int
		ctype, body        string
		violation          string
	}{
		{"valid list", "GET", "/webhooks", 200, "application/json", `{"success":true,"webhooks":[]}`, ""},
		{"valid error", "GET", "/webhooks/x", 404, "application/json", `{"success":false,"error":"Not found."}`, ""},
		{"missing field", "GET", "/webhooks", 200, "application/json", `{"success":true}`, "webhooks"},
		{"undocumented status", "GET", "/webhooks", 418, "application/json", `{"success":false,"error":"teapot"}`, "418"},
		{"error shape", "GET", "/webhooks/x", 404, "application/json", `{"message":"no"}`, "Error schema"},
		{"content type", "GET", "/webhooks", 200, "text/plain", `{"success":true,"webhooks":[]}`, "Content-Type"},
		{"outside the spec", "GET", "/healthz", 200, "text/plain", `ok`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []contract.Violation
			h, err := contract.Check(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}), func(v contract.Violation) { got = append(got, v) })
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Fatalf("the response was altered: %d %s", rec.Code, rec.Body)
			}
			switch {
			case tc.violation == "" && len(got) > 0:
				t.Errorf("reported %v", got)
			case tc.violation != "" && (len(got) != 1 || !strings.Contains(got[0].String(), tc.violation)):
				t.Errorf("reported %v, want one violation mentioning %q", got, tc.violation)
			}
		})
	}
}
