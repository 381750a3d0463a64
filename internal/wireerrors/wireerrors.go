// Package wireerrors puts the answers Go's HTTP server gives on its own,
// before any handler runs, into the API's JSON error shape.
//
// net/http rejects some requests while reading them: headers over
// MaxHeaderBytes (431), a malformed request or header line, a path with bad
// percent-encoding, a header name or value with forbidden bytes, a missing or
// malformed Host, a Content-Length that is not a number (400), an unknown
// Transfer-Encoding (501), an HTTP version it does not serve (505) and an
// Expect other than 100-continue (417). It writes those answers straight to
// the connection, in text/plain or with no body; no handler, middleware or
// error handler ever sees them, and no server option changes them. The only
// place left to make them JSON is the connection itself, so Install wraps each
// accepted connection and rewrites exactly the answers net/http builds
// itself, keeping their status and their Connection: close.
//
// A write is rewritten only while no handler is answering on the connection,
// and only if it is one whole answer in one of net/http's fixed forms: a
// status line, "Content-Type: text/plain; charset=utf-8" and "Connection:
// close" with no Date, then the status again as the body; or a header-only
// 417 Expectation Failed. Everything else passes through byte for byte.
package wireerrors

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// Install readies hs to answer net/http's own pre-handler errors in the JSON
// error shape and returns the function to serve it with, in place of
// hs.Serve. It wraps hs's Handler, ConnContext and ConnState (keeping what
// they did) so that each connection knows whether a handler's response is
// under way: only outside one can a write be net/http's own answer, so a
// response body is never taken for one. It changes hs at once, not in the
// returned function, so that serving in a goroutine races with nothing (say
// a Shutdown). Serve plain TCP with it: a TLS listener wrapped here would
// hide the *tls.Conn net/http looks for.
func Install(hs *http.Server) (serve func(net.Listener) error) {
	next, nextCtx, nextState := hs.Handler, hs.ConnContext, hs.ConnState
	if next == nil {
		next = http.DefaultServeMux
	}
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*conn); ok {
			c.responding.Store(true)
		}
		next.ServeHTTP(w, r)
	})
	hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if nextCtx != nil {
			ctx = nextCtx(ctx, c)
		}
		return context.WithValue(ctx, connKey{}, c)
	}
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		// Idle comes after a response is written in full, before the next
		// request is read.
		if wc, ok := c.(*conn); ok && st == http.StateIdle {
			wc.responding.Store(false)
		}
		if nextState != nil {
			nextState(c, st)
		}
	}
	return func(ln net.Listener) error { return hs.Serve(listener{ln}) }
}

type connKey struct{}

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// conn rewrites net/http's own error answers on their way out.
type conn struct {
	net.Conn
	// responding is set while a handler's response is being written: from
	// the handler's start until the connection goes idle.
	responding atomic.Bool
}

func (c *conn) Write(p []byte) (int, error) {
	if !c.responding.Load() {
		if out, ok := rewrite(p); ok {
			if _, err := c.Conn.Write(out); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps net/http's half-close before it hangs up on a request it
// refused (a 431 while the client is still sending): without it the client
// may lose the answer to a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// net/http's headers on the answers it writes itself (server.go, conn.serve).
const (
	plainHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	// maxPlainBody bounds the body of such an answer: the longest is a
	// status line repeated ("400 Bad Request: missing required Host header").
	maxPlainBody = 128
)

// messages are the sentences clients get instead of net/http's texts, by
// the text net/http puts after the status (empty: none).
var messages = map[int]map[string]string{
	400: {
		"":                             "Malformed request.",
		"missing required Host header": "Host header is missing.",
		"malformed Host header":        "Host header is malformed.",
		"invalid header name":          "A header name is not valid.",
		"invalid header value":         "A header value is not valid.",
	},
	417: {"": "Only the Expect value 100-continue is supported."},
	431: {"": "Request headers are too large."},
	501: {"": "Transfer-Encoding is not supported."},
	505: {"": "HTTP version not supported; use HTTP/1.1."},
}

// rewrite returns the JSON form of p if p is one whole error answer that
// net/http wrote itself, and false for anything else.
func rewrite(p []byte) ([]byte, bool) {
	code, phrase, reason, ok := parse(p)
	if !ok {
		return nil, false
	}
	byText := messages[code]
	msg, known := byText[reason]
	if !known {
		msg, known = byText[""]
	}
	if !known {
		// A status a later net/http may answer: keep it, in our shape, with
		// a sentence of our own (never net/http's text).
		msg = "Request rejected."
	}
	body, err := json.Marshal(models.Error{Success: false, Error: msg})
	if err != nil {
		return nil, false
	}
	var b bytes.Buffer
	b.Grow(160 + len(body))
	b.Write(p[:len("HTTP/1.1 000 ")])
	b.WriteString(phrase)
	b.WriteString("\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(body)))
	b.WriteString("\r\n\r\n")
	b.Write(body)
	return b.Bytes(), true
}

// parse recognises net/http's own error answers and returns their status,
// its reason phrase and the text net/http added after it ("" if none).
func parse(p []byte) (code int, phrase, reason string, ok bool) {
	// "HTTP/1.x NNN " at least, with a 4xx or 5xx status.
	if len(p) < 13 || !bytes.HasPrefix(p, []byte("HTTP/1.")) || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
		p[9] != '4' && p[9] != '5' || p[12] != ' ' {
		return 0, "", "", false
	}
	code, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return 0, "", "", false
	}
	eol := bytes.Index(p, []byte("\r\n"))
	if eol < 0 {
		return 0, "", "", false
	}
	rest := p[eol:]

	if code == 417 {
		// net/http refuses an unknown Expect before the handler runs,
		// through the ResponseWriter: headers only (Connection: close, Date,
		// Content-Length: 0).
		if !bytes.HasSuffix(rest, []byte("\r\n\r\n")) || bytes.Count(rest, []byte("\r\n\r\n")) != 1 ||
			!bytes.Contains(rest, []byte("\r\nContent-Length: 0\r\n")) {
			return 0, "", "", false
		}
		return code, string(p[13:eol]), "", true
	}

	if !bytes.HasPrefix(rest, []byte(plainHeaders)) {
		return 0, "", "", false
	}
	body := rest[len(plainHeaders):]
	if len(body) > maxPlainBody || bytes.ContainsAny(body, "\r\n") {
		return 0, "", "", false
	}
	// The body repeats the status ("431 Request Header Fields Too Large",
	// "400 Bad Request: invalid header name"), except for the 501.
	if !bytes.Equal(body, p[9:eol]) && !(code == 501 && string(body) == "Unsupported transfer encoding") {
		return 0, "", "", false
	}
	// "Bad Request" or "Bad Request: invalid header name".
	phrase, reason, _ = strings.Cut(string(p[13:eol]), ": ")
	return code, phrase, reason, true
}
