package wireerrors_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/wireerrors"
)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, MaxHeaderBytes: 4 << 10, ReadHeaderTimeout: 5 * time.Second}
	go wireerrors.Install(hs)(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

func exchange(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestHandlersAnswersPassThrough: a handler answering with the very texts
// net/http uses for its own errors, text/plain and Connection: close, must
// reach the client byte for byte; only net/http's own answers are rewritten.
func TestHandlersAnswersPassThrough(t *testing.T) {
	mimic := "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain":
			w.Header().Set("Connection", "close")
			code, _ := strconv.Atoi(r.URL.Query().Get("code"))
			http.Error(w, strconv.Itoa(code)+" "+http.StatusText(code), code)
		case "/mimic":
			// A body that is, byte for byte, net/http's own answer, flushed
			// after the headers so that it reaches the connection as a
			// write of its own.
			w.Header().Set("Content-Length", strconv.Itoa(len(mimic)))
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			io.WriteString(w, mimic)
		case "/417":
			w.WriteHeader(http.StatusExpectationFailed)
			io.WriteString(w, "handler's own 417")
		}
	}))
	for _, code := range []int{400, 431, 501, 505} {
		resp, body := exchange(t, addr, "GET /plain?code="+strconv.Itoa(code)+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != code || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			body != strconv.Itoa(code)+" "+http.StatusText(code)+"\n" {
			t.Errorf("a handler's own %d was changed: %d %q %q", code, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, body := exchange(t, addr, "GET /mimic HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 || body != mimic {
		t.Errorf("a body that looks like net/http's answer was changed: %d %q", resp.StatusCode, body)
	}
	if resp, body := exchange(t, addr, "GET /417 HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 417 || body != "handler's own 417" {
		t.Errorf("a handler's own 417 with a body was changed: %d %q", resp.StatusCode, body)
	}
	// And net/http's own answers on the same listener are rewritten.
	for req, code := range map[string]int{
		"GET /plain HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n": 431,
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n":                                                 400,
		"GET /plain HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n":                                400,
		"GET /plain HTTP/1.1\r\nHost: x\r\nExpect: nothing\r\n\r\n":                            417,
	} {
		resp, body := exchange(t, addr, req)
		if resp.StatusCode != code || resp.Header.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(body, `{"error":"`) || !strings.HasSuffix(body, `","success":false}`) ||
			resp.Header.Get("Connection") != "close" && !resp.Close {
			t.Errorf("net/http's own %d: %d %q %q", code, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// BenchmarkKeepAlive is the price of the wrapper on a keep-alive request to
// a trivial handler over loopback, against plain hs.Serve.
func BenchmarkKeepAlive(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "wireerrors"}[wrapped], func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"status":"ok"}`)
			})}
			if wrapped {
				go wireerrors.Install(hs)(ln)
			} else {
				go hs.Serve(ln)
			}
			defer hs.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
