package signature_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

func TestMiddleware(t *testing.T) {
	sec := newSecret(t)
	v := mustVerifier(t, []string{sec}, at0)

	var (
		gotBody   []byte
		gotResult signature.Result
		gotOK     bool
		calls     int
	)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		gotBody, _ = io.ReadAll(r.Body)
		gotResult, gotOK = signature.ResultFromContext(r.Context())
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(v.Middleware(1 << 10)(next))
	defer srv.Close()

	// Bodies are closed by the calling (sub)test's cleanup, which runs
	// before srv.Close, so Close never waits on an unread response.
	post := func(t *testing.T, h http.Header, b []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	t.Run("valid", func(t *testing.T) {
		calls = 0
		resp := post(t, signed(t, sec), body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		if calls != 1 || !bytes.Equal(gotBody, body) {
			t.Fatalf("downstream saw %d calls, body %q", calls, gotBody)
		}
		want := signature.Result{ID: "evt_abc123", Timestamp: t0, JetEmail: true, Standard: true}
		if !gotOK || gotResult != want {
			t.Fatalf("ResultFromContext = %+v, %v; want %+v", gotResult, gotOK, want)
		}
	})

	for name, tc := range map[string]struct {
		h    http.Header
		body []byte
	}{
		"tampered":  {signed(t, sec), []byte(strings.Replace(jetBody, "outbound", "inbound", 1))},
		"unsigned":  {http.Header{}, body},
		"wrong key": {signed(t, newSecret(t)), body},
	} {
		t.Run(name, func(t *testing.T) {
			calls = 0
			resp := post(t, tc.h, tc.body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if calls != 0 {
				t.Fatal("downstream handler ran for an unauthenticated request")
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
				t.Errorf("error body: %+v, %v", e, err)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		calls = 0
		big := bytes.Repeat([]byte("x"), 2<<10)
		h := http.Header{}
		mustSigner(t, sec).Sign(h, "evt_big", t0, big)
		// A recorder rather than the server: after an over-limit body the
		// real server closes the connection with a deliberate 500 ms
		// linger (RST avoidance), which would only slow the test down.
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big))
		req.Header = h
		rec := httptest.NewRecorder()
		v.Middleware(1<<10)(next).ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge || calls != 0 {
			t.Fatalf("status %d, calls %d; want 413 and no downstream call", rec.Code, calls)
		}
	})
}

func TestResultFromContextMissing(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	if _, ok := signature.ResultFromContext(req.Context()); ok {
		t.Fatal("ok = true for a request that never passed the middleware")
	}
}
