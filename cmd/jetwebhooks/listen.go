package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

const (
	// maxListenBody bounds a received delivery; the signature covers the
	// whole body, so a larger one is refused (413) rather than truncated.
	maxListenBody = 5 << 20
	// maxShownBody bounds how much of a body that is not JSON is printed.
	maxShownBody = 4 << 10
	// forwardTimeout bounds one forwarded request, like the server's own
	// delivery timeout.
	forwardTimeout = 10 * time.Second
	// shutdownGrace is how long requests in flight may finish after
	// SIGINT/SIGTERM.
	shutdownGrace = 5 * time.Second
)

// newListenCmd is `jetwebhooks listen`: a local receiver that verifies
// deliveries with the signature package and prints them.
func newListenCmd() *cobra.Command {
	var (
		host, path, forward string
		port, respond       int
		secrets             []string
		tolerance           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Receive deliveries locally: verify both signatures, print each event",
		Long: `Run a local webhook receiver. Each delivery is verified with the signature package
(the one Go receivers import): X-Webhook-Signature (JetEmail) and webhook-signature (Standard
Webhooks), each with its timestamp within --tolerance. The listener prints the event type,
id, which schemes verified (or why not) and the body, then answers:

  - 401 when verification fails (as a real receiver would; the server does not retry 4xx);
  - with --forward URL, whatever that URL answers: the body and headers are re-POSTed to it;
  - otherwise --respond (200 by default; e.g. 500 to watch the server retry).

The secret is --secret or JETWEBHOOKS_WEBHOOK_SECRET: the webhook's whsec_… secret, or several
comma-separated during a rotation. It is never printed. The listener binds 127.0.0.1 (--host
to change) and prints "listening on http://HOST:PORT/PATH" when ready; it runs until
interrupted (Ctrl-C, SIGTERM). The server must be allowed to reach it: make run opens the
egress policy for loopback (serve --egress-allow 127.0.0.0/8).`,
		Example: `  jetwebhooks listen --port 9000 --secret whsec_…
  JETWEBHOOKS_WEBHOOK_SECRET=whsec_… jetwebhooks listen --respond 500
  jetwebhooks listen --port 9000 --secret whsec_… --forward http://127.0.0.1:3000/webhooks/jetemail
  jetwebhooks listen --port 9000 --path /hook --tolerance 1m --secret whsec_new,whsec_old`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !changed(cmd, "secret") {
				secrets = strings.Split(os.Getenv("JETWEBHOOKS_WEBHOOK_SECRET"), ",")
			}
			var keep []string
			for _, s := range secrets {
				if s = strings.TrimSpace(s); s != "" {
					keep = append(keep, s)
				}
			}
			if len(keep) == 0 {
				return usagef("--secret or JETWEBHOOKS_WEBHOOK_SECRET is required: the webhook's whsec_… secret (jetwebhooks webhooks get shows it)")
			}
			v, err := signature.NewVerifier(keep, signature.WithTolerance(tolerance))
			if err != nil {
				return usagef("--secret: %v", err)
			}
			switch {
			case port < 0 || port > 65535:
				return usagef("--port: %d is not a TCP port (0 picks a free one)", port)
			case !strings.HasPrefix(path, "/"):
				return usagef("--path must start with /")
			case respond < 200 || respond > 599:
				return usagef("--respond: %d is not an HTTP status between 200 and 599", respond)
			case forward != "" && changed(cmd, "respond"):
				return usagef("--respond and --forward contradict each other: with --forward the listener answers what the forward URL answers")
			}
			if forward != "" {
				u, err := url.Parse(forward)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usagef("--forward: %q is not an absolute http(s) URL", forward)
				}
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			l := &listener{
				v: v, path: path, respond: respond, forward: forward, out: out, seen: map[string]int{},
				fwd: &http.Client{
					Timeout:       forwardTimeout,
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				},
			}
			srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
			answer := fmt.Sprintf("answering %d", respond)
			if forward != "" {
				answer = "forwarding to " + forward
			}
			tol := tolerance.String()
			if tolerance <= 0 {
				tol = "off"
			}
			l.printf("listening on http://%s%s\n", ln.Addr(), path)
			l.printf("verifying X-Webhook-Signature and webhook-signature with %d secret(s), timestamp tolerance %s; %s\n", len(keep), tol, answer)

			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			l.printf("stopped\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&port, "port", 9000, "TCP port to listen on (0 picks a free one)")
	f.StringVar(&host, "host", "127.0.0.1", "address to bind")
	f.StringVar(&path, "path", "/", "URL path deliveries are POSTed to")
	f.StringSliceVar(&secrets, "secret", nil, "webhook signing secret(s), comma-separated or repeated (env JETWEBHOOKS_WEBHOOK_SECRET; never printed)")
	f.IntVar(&respond, "respond", http.StatusOK, "HTTP status to answer verified deliveries with, e.g. 500 to exercise retries")
	f.StringVar(&forward, "forward", "", "re-POST each verified delivery (body and headers) to this URL and answer with its status")
	f.DurationVar(&tolerance, "tolerance", signature.DefaultTolerance, "how far a delivery's timestamp may be from now (0 turns the check off)")
	_ = cmd.RegisterFlagCompletionFunc("respond", fixedCompletion("200", "202", "204", "400", "404", "429", "500", "503"))
	return cmd
}

// listener handles deliveries for `jetwebhooks listen`.
type listener struct {
	v       *signature.Verifier
	path    string
	respond int
	forward string
	fwd     *http.Client

	mu   sync.Mutex // serialises output; guards seen
	out  io.Writer
	seen map[string]int // deliveries received per event id
}

func (l *listener) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, format, args...)
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now().Format("15:04:05")
	if r.URL.Path != l.path {
		http.NotFound(w, r)
		l.printf("%s  %s %s: 404 (listening on %s)\n", now, r.Method, r.URL.Path, l.path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		l.printf("%s  %s %s: 405 (deliveries are POSTs)\n", now, r.Method, r.URL.Path)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxListenBody))
	if err != nil {
		code := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, code, map[string]any{"error": "cannot read body"})
		l.printf("%s  POST %s: %d, cannot read body: %v\n", now, r.URL.Path, code, err)
		return
	}

	var env struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &env)
	res, verr := l.v.Verify(r.Header, body)
	id := res.ID
	for _, alt := range []string{r.Header.Get(signature.StdHeaderID), r.Header.Get(signature.HeaderID), env.ID, "(no id)"} {
		if id == "" {
			id = alt
		}
	}
	typ := env.Type
	if typ == "" {
		typ = "(no type)"
	}
	l.mu.Lock()
	l.seen[id]++
	n := l.seen[id]
	l.mu.Unlock()

	var b strings.Builder
	fmt.Fprintf(&b, "%s  --> %s  %s  (delivery #%d of this id, POST %s)\n", now, typ, id, n, r.URL.Path)
	jet := l.scheme(r.Header, body, signature.HeaderSignature, signature.StdHeaderSignature)
	std := l.scheme(r.Header, body, signature.StdHeaderSignature, signature.HeaderSignature)
	schemes := fmt.Sprintf("X-Webhook-Signature: %s; webhook-signature: %s", jet, std)
	if verr != nil {
		fmt.Fprintf(&b, "    signature: FAILED: %s (%s)\n", trimSig(verr), schemes)
	} else {
		fmt.Fprintf(&b, "    signature: verified (%s)\n", schemes)
	}
	writeBody(&b, body)

	switch {
	case verr != nil:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": trimSig(verr)})
		fmt.Fprintf(&b, "    <-- 401 %s (signature verification failed)\n", http.StatusText(http.StatusUnauthorized))
	case l.forward != "":
		code, err := l.forwardTo(w, r, body)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": "forward failed"})
			fmt.Fprintf(&b, "    <-- 502 %s (forward to %s failed: %v)\n", http.StatusText(http.StatusBadGateway), l.forward, err)
		} else {
			fmt.Fprintf(&b, "    <-- %d %s (from %s)\n", code, http.StatusText(code), l.forward)
		}
	default:
		if l.respond < 300 {
			writeJSON(w, l.respond, map[string]any{"received": true})
		} else {
			writeJSON(w, l.respond, map[string]any{"error": fmt.Sprintf("jetwebhooks listen answers %d (--respond)", l.respond)})
		}
		fmt.Fprintf(&b, "    <-- %d %s\n", l.respond, http.StatusText(l.respond))
	}
	l.printf("%s", b.String())
}

// scheme verifies one signature scheme alone: the other scheme's signature
// header is removed, so Verify checks only this one. It returns "ok",
// "absent" or why it failed.
func (l *listener) scheme(h http.Header, body []byte, header, other string) string {
	if h.Get(header) == "" {
		return "absent"
	}
	only := h.Clone()
	only.Del(other)
	if _, err := l.v.Verify(only, body); err != nil {
		return trimSig(err)
	}
	return "ok"
}

func trimSig(err error) string { return strings.TrimPrefix(err.Error(), "signature: ") }

// writeBody appends the body, indented JSON when it is JSON.
func writeBody(b *strings.Builder, body []byte) {
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "    ", "  "); err == nil {
		b.WriteString("    ")
		b.Write(pretty.Bytes())
		b.WriteString("\n")
		return
	}
	shown := body
	if len(shown) > maxShownBody {
		shown = shown[:maxShownBody]
	}
	fmt.Fprintf(b, "    (not JSON, %d bytes) %q\n", len(body), shown)
}

// hopHeaders are not copied to the forward request.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Accept-Encoding": true, "Host": true,
}

// forwardTo re-POSTs the delivery to --forward and copies the answer's
// status, Content-Type and body to w.
func (l *listener) forwardTo(w http.ResponseWriter, r *http.Request, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, l.forward, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, vs := range r.Header {
		if hopHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := l.fwd.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, maxListenBody))
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
	return resp.StatusCode, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
