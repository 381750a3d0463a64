package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// syncBuffer is a log sink the server's goroutines may write to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rawExchange writes req as is on a fresh connection to addr and reads one
// response: the Go client would refuse to send most of the requests below.
// The request is written while the response is read, since the server may
// answer (and hang up) before it has read all of an oversized request.
func rawExchange(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(conn, req) // an early answer makes this write fail; that is fine
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// TestEveryErrorIsJSON walks every kind of error the process answers, on the
// API listener and on the metrics listener, through a real http.Server: those
// the handlers decide, and those Go's HTTP server decides before any handler
// runs (headers too large, malformed header lines, bad percent-encoding). Each
// must carry the documented JSON error body, the right status, Allow on a
// 405, and nothing internal.
func TestEveryErrorIsJSON(t *testing.T) {
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	e := newEnv(t, func(c *server.Config) {
		c.MetricsListener = mln
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	// A test-only route that panics with something no client may see.
	const secret = "secret-internal-detail"
	e.srv.EchoForTest().GET("/test-panic", func(echo.Context) error { panic(secret + ": database password is hunter2") })
	// A panic whose value is an HTTP error must not choose the answer.
	e.srv.EchoForTest().GET("/test-panic-status", func(echo.Context) error { panic(echo.NewHTTPError(http.StatusTeapot, secret)) })
	_, key, err := accounts.Create(t.Context(), e.raw, "Errors", []string{"u"}, []string{"example.com"}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := strings.TrimPrefix(e.url, "http://")
	metricsAddr := mln.Addr().String() // bound already: requests wait for Serve

	getReq := func(target string, headers ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "Connection: close\r\n\r\n"
	}
	auth := "Authorization: Bearer " + key + "\r\n"
	post := func(target, contentType, body string, headers ...string) string {
		return "POST " + target + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + contentType +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
	}
	const jsonCT = "Content-Type: application/json\r\n"
	hookBody := `{"name":"n","url":"https://example.com/h","events":["outbound.delivered"]}`

	cases := []struct {
		name   string
		addr   string
		req    string
		status int
		allow  []string // on a 405: the methods the path serves
	}{
		{"unknown path", apiAddr, getReq("/nope"), 404, nil},
		{"unknown path under /docs", apiAddr, getReq("/docs/nope.js"), 404, nil},
		{"dot-dot under /docs", apiAddr, getReq("/docs/../x"), 404, nil},
		{"encoded dot-dot under /docs", apiAddr, getReq("/docs/%2e%2e/x"), 404, nil},
		{"encoded dot-dot to the spec", apiAddr, getReq("/docs/%2e%2e/openapi.json"), 404, nil},
		{"wrong method on an API path", apiAddr, "PUT /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" + auth + "\r\n", 405, []string{"GET", "PATCH", "POST"}},
		{"wrong method on a webhook", apiAddr, "POST /webhooks/0b7f5d3e-2a6c-4b8e-9f41-6d2c8a1e3b57 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, []string{"DELETE", "GET"}},
		{"wrong method on /healthz", apiAddr, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405, []string{"GET"}},
		{"body too large", apiAddr, post("/webhooks", jsonCT, `{"name":"`+strings.Repeat("a", 2<<20)+`"}`, auth), 413, nil},
		{"body too large, chunked", apiAddr, "POST /webhooks HTTP/1.1\r\nHost: x\r\n" + auth + jsonCT + "Transfer-Encoding: chunked\r\n\r\n200000\r\n" + strings.Repeat("a", 0x200000) + "\r\n0\r\n\r\n", 413, nil},
		{"wrong content type", apiAddr, post("/webhooks", "Content-Type: text/plain\r\n", hookBody, auth), 415, nil},
		{"malformed content type", apiAddr, post("/webhooks", "Content-Type: ;;;\r\n", hookBody, auth), 415, nil},
		{"content type with a broken parameter", apiAddr, post("/webhooks", "Content-Type: application/json; charset=\"\r\n", hookBody, auth), 415, nil},
		{"content type of bytes over 0x7f", apiAddr, post("/webhooks", "Content-Type: application/json\xff\r\n", hookBody, auth), 415, nil},
		{"bearer without a token", apiAddr, getReq("/webhooks", "Authorization: Bearer\r\n"), 401, nil},
		{"bearer and a space", apiAddr, getReq("/webhooks", "Authorization: Bearer \r\n"), 401, nil},
		{"other auth scheme", apiAddr, getReq("/webhooks", "Authorization: Basic dTpw\r\n"), 401, nil},
		{"non-ASCII token", apiAddr, getReq("/webhooks", "Authorization: Bearer \x80\xff\xfe\r\n"), 401, nil},
		{"recovered panic", apiAddr, getReq("/test-panic"), 500, nil},
		{"recovered panic with an HTTP error", apiAddr, getReq("/test-panic-status"), 500, nil},
		// Go's HTTP server answers these before any handler runs.
		{"headers too large", apiAddr, getReq("/webhooks", "X-Big: "+strings.Repeat("a", 80<<10)+"\r\n"), 431, nil},
		{"header line without a colon", apiAddr, getReq("/webhooks", "this is not a header\r\n"), 400, nil},
		{"invalid header name", apiAddr, getReq("/webhooks", "Bad Name: x\r\n"), 400, nil},
		{"control byte in a header value", apiAddr, getReq("/webhooks", "X-A: a\x01b\r\n"), 400, nil},
		{"bad percent-encoding", apiAddr, getReq("/webhooks/%zz"), 400, nil},
		{"malformed request line", apiAddr, "GARBAGE\r\n\r\n", 400, nil},
		{"no Host header", apiAddr, "GET /healthz HTTP/1.1\r\n\r\n", 400, nil},
		{"unsupported HTTP version", apiAddr, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, nil},
		{"unsupported transfer coding", apiAddr, "POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, nil},
		{"unknown expectation", apiAddr, getReq("/healthz", "Expect: the-unexpected\r\n"), 417, nil},
		{"HTTP/1.0 and an invalid header name", apiAddr, "GET / HTTP/1.0\r\nBad Name: x\r\n\r\n", 400, nil},
		{"Content-Length not a number", apiAddr, "POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, nil},
		{"two Content-Lengths", apiAddr, "POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, nil},
		// The metrics listener serves /metrics and nothing else.
		{"metrics: unknown path", metricsAddr, getReq("/nope"), 404, nil},
		{"metrics: wrong method", metricsAddr, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, []string{"GET", "HEAD"}},
		{"metrics: headers too large", metricsAddr, getReq("/metrics", "X-Big: "+strings.Repeat("a", 80<<10)+"\r\n"), 431, nil},
		{"metrics: bad percent-encoding", metricsAddr, getReq("/%zz"), 400, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawExchange(t, tc.addr, tc.req)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d; body %.200q", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
				t.Errorf("Content-Type %q, want application/json; body %.200q", ct, body)
			}
			var shape struct {
				Success *bool           `json:"success"`
				Error   string          `json:"error"`
				Details json.RawMessage `json:"details"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&shape); err != nil {
				t.Errorf("body is not the error shape (%v): %.200q", err, body)
			} else if shape.Success == nil || *shape.Success || strings.TrimSpace(shape.Error) == "" {
				t.Errorf("body %s: want success=false and an error sentence", body)
			}
			if tc.allow != nil {
				got := strings.Split(resp.Header.Get("Allow"), ",")
				for i := range got {
					got[i] = strings.TrimSpace(got[i])
				}
				got = slices.DeleteFunc(got, func(m string) bool { return m == "OPTIONS" })
				slices.Sort(got)
				if !slices.Equal(got, tc.allow) {
					t.Errorf("Allow %q, want %v (OPTIONS optional)", resp.Header.Get("Allow"), tc.allow)
				}
			}
			low := strings.ToLower(string(body))
			for _, leak := range []string{secret, "hunter2", "goroutine", ".go:", "panic", "runtime", "http:", "invalid url escape", "net/http", "malformed mime"} {
				if strings.Contains(low, leak) {
					t.Errorf("body leaks %q: %.300s", leak, body)
				}
			}
		})
	}
	// The panic's cause and stack reach the log, not the client.
	if l := logs.String(); !strings.Contains(l, "hunter2") || !strings.Contains(l, "goroutine") {
		t.Errorf("the recovered panic and its stack were not logged:\n%.2000s", l)
	}
}
