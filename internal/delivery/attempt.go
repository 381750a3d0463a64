package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// attempt makes one HTTP attempt for a claim and returns its outcome. It never
// uses the engine's run context: an attempt in flight at shutdown finishes
// (bounded by the timeout) so its outcome is recorded rather than repeated.
func (e *Engine) attempt(c *store.Claim) *store.Outcome {
	start := e.cfg.Now()
	o := &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID, At: start, Gated: c.Gated}
	if c.URL == "" {
		o.Status, o.Error = store.StatusFailed, "webhook deleted"
		return o
	}
	if !c.Enabled {
		o.Status, o.Error = store.StatusFailed, "webhook disabled"
		return o
	}
	o.Attempted, o.URL = true, c.URL
	res := e.send(c, start)
	o.Duration = e.cfg.Now().Sub(start)
	o.StatusCode, o.ErrorClass, o.Error, o.ResponseBody = res.code, res.class, res.err, res.body
	if c.Gated && res.code == http.StatusTooManyRequests {
		// The receiver's own signal: a rate-limited webhook pauses until its
		// Retry-After and slows down for a while (the store applies it).
		o.SlowDown = true
		if res.retryAfter > 0 {
			o.PauseUntil = start.Add(res.retryAfter)
		}
	}
	switch {
	case res.outcome == outcomeSuccess:
		o.Status = store.StatusSuccess
	case res.outcome == outcomePermanent:
		o.Status = store.StatusFailed
		if res.code == http.StatusGone {
			// Standard Webhooks: 410 means the endpoint is gone for good.
			o.DisableReason = "endpoint answered 410 Gone"
		}
	default:
		if d, ok := e.nextDelay(c.Attempt, res.retryAfter); ok {
			o.Status, o.NextAttemptAt = store.StatusRetry, start.Add(d)
		} else {
			o.Status = store.StatusFailed
			o.Error = strings.TrimSpace(o.Error + " (retries exhausted; dead-lettered)")
		}
	}
	if e.cfg.Observer != nil {
		e.cfg.Observer.Attempted(o.Status, o.StatusCode, o.Duration)
	}
	if o.Status != store.StatusSuccess {
		// Operators see why deliveries fail without querying the API. Only
		// identifiers and the safe class and message: never the secret, the
		// signature, the payload or the receiver's answer.
		e.log.Info("delivery attempt failed", "webhook", c.WebhookUUID, "event", c.EventID, "attempt", c.Attempt,
			"class", o.ErrorClass, "status", o.StatusCode, "error", o.Error, "delivery", o.Status)
	}
	return o
}

// replayHeader marks a replayed delivery (any webhook's).
const replayHeader = "X-Webhook-Replay"

type outcomeKind int

const (
	outcomeSuccess outcomeKind = iota
	outcomeRetry
	outcomePermanent
)

type sendResult struct {
	outcome outcomeKind
	code    int
	// class is a store.ErrorClass* constant for a failure, empty otherwise.
	class      string
	err        string
	body       string
	retryAfter time.Duration
}

func (e *Engine) send(c *store.Claim, now time.Time) sendResult {
	secrets := c.Secrets
	if len(secrets) == 0 {
		secrets = []string{c.Secret}
	}
	signer, err := e.signers.get(secrets)
	if err != nil {
		// A secret we issued cannot be invalid; if it is, retrying cannot help.
		return sendResult{outcome: outcomePermanent, err: "webhook secret is unusable"}
	}
	if c.HeadersUnusable {
		// Sealed with a key this server lacks, like an unusable secret.
		return sendResult{outcome: outcomePermanent, err: "webhook headers are unusable"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Body))
	if err != nil {
		return sendResult{outcome: outcomePermanent, err: "webhook url is not a valid request target"}
	}
	// The webhook's own headers first: the service's below replace any
	// that collide, so none can change the body's type or a signature.
	e.setCustomHeaders(req.Header, c)
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{e.cfg.UserAgent}
	signer.Sign(req.Header, c.EventID, now, c.Body)
	if c.Replay {
		// A replay may arrive after newer events (and, for an ordered or
		// rate-limited webhook, it does) or repeat one already processed:
		// the receiver is told it is one.
		req.Header[replayHeader] = []string{"true"}
	}
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		var refused *egress.RefusedError
		if errors.As(err, &refused) {
			// The customer is told only egress.RefusedMessage; the reason
			// (not the URL, which may carry a token) is for the operator.
			e.log.Info("webhook destination refused", "webhook", c.WebhookUUID, "delivery", c.DeliveryID, "reason", refused.Reason)
		}
		return classifyError(err, e.cfg.Timeout)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(e.cfg.MaxResponseBody)))
	// Read on up to the response size cap: draining lets the connection be
	// reused, and a 2xx answer longer than the cap is a failed attempt.
	rest, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, int64(e.cfg.MaxResponseSize-len(body))+1))
	r := sendResult{code: resp.StatusCode, body: sanitizeBody(body, e.cfg.MaxResponseBody)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300 && len(body)+int(rest) > e.cfg.MaxResponseSize:
		// A webhook receiver acknowledges in a few bytes; a longer answer
		// usually means the URL is a web page, not a webhook endpoint.
		r.outcome, r.class = outcomeRetry, store.ErrorClassResponseTooLarge
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode) + " with a response body over " + strconv.Itoa(e.cfg.MaxResponseSize) + " bytes"
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.outcome = outcomeSuccess
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		r.outcome, r.class = outcomeRetry, store.ErrorClassHTTPStatus
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
		}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// Redirects are never followed (a redirect could point anywhere the
		// egress policy forbids); a 3xx is a failed attempt, retried in case
		// the endpoint is fixed.
		r.outcome, r.class = outcomeRetry, store.ErrorClassRedirect
		r.err = redirectMessage(resp)
	default:
		r.outcome, r.class = outcomePermanent, store.ErrorClassHTTPStatus
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return r
}

// maxLocation bounds the redirect target quoted in a failure message.
const maxLocation = 512

// redirectMessage says where a 3xx pointed. The target is the receiver's own
// answer (not something the operator's resolver said), so quoting it tells
// the customer nothing new about the operator's network; it is cleaned and
// bounded like a response body.
func redirectMessage(resp *http.Response) string {
	msg := "HTTP " + strconv.Itoa(resp.StatusCode) + " redirect not followed"
	loc := resp.Header.Get("Location")
	if loc == "" {
		return msg + " (no Location)"
	}
	if u, err := resp.Location(); err == nil {
		loc = u.String() // relative targets resolved against the webhook URL
	}
	loc = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, sanitizeBody([]byte(loc), maxLocation))
	return msg + ": Location " + loc
}

// sanitizeBody makes a receiver's answer safe to store in the history: valid
// UTF-8 (invalid bytes become U+FFFD), no NUL bytes (PostgreSQL text cannot
// hold them, and the error would fail the whole completion batch), and at most
// limit bytes, cut at a rune boundary (a rune split by the read limit is
// dropped, not turned into U+FFFD past the limit).
func sanitizeBody(b []byte, limit int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) > limit {
		i := limit
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// destinationRefusedMessage is the one text for an unresolvable name and an
// address the egress policy refuses: telling them apart would let a customer
// probe which internal names exist.
const destinationRefusedMessage = egress.RefusedMessage

// isDestinationRefused reports the failures shown as destination_refused:
// the egress policy refused the address, or the name did not resolve.
func isDestinationRefused(err error) bool {
	var dnsErr *net.DNSError
	return errors.Is(err, egress.ErrDestinationRefused) || (errors.As(err, &dnsErr) && !dnsErr.IsTimeout)
}

// classifyError turns a transport failure into a retry decision, an error
// class and a short text for the history. This is the one place failures are
// classified. The text never contains addresses: a customer must not learn
// the operator's DNS answers or network layout from it. Every class is
// retried: even an egress refusal, so that it looks exactly like an
// unresolvable name (same class, same text, same schedule).
func classifyError(err error, timeout time.Duration) sendResult {
	var tlsErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alertErr tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	r := sendResult{outcome: outcomeRetry}
	switch {
	case isDestinationRefused(err):
		// A forbidden address and a name that does not resolve read the
		// same and are both retried, so neither the text nor the number of
		// attempts tells a customer which internal names exist.
		r.class, r.err = store.ErrorClassDestinationRefused, destinationRefusedMessage
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		r.class, r.err = store.ErrorClassTimeout, fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		r.class, r.err = store.ErrorClassConnectionRefused, "connection refused"
	case errors.As(err, &tlsErr) || errors.As(err, &recErr) || errors.As(err, &alertErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalidCert):
		r.class, r.err = store.ErrorClassTLS, "TLS handshake failed"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		r.class, r.err = store.ErrorClassConnectionFailed, "connection closed by the receiver"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		r.class, r.err = store.ErrorClassConnectionFailed, "host unreachable"
	default:
		r.class, r.err = store.ErrorClassConnectionFailed, "request failed"
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// parseRetryAfter reads seconds or an HTTP date; anything else is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(7*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// signerCache keeps one Signer per secret: decoding the key and warming its
// HMAC pool once per webhook instead of once per attempt.
type signerCache struct {
	mu sync.RWMutex
	m  map[string]*signature.Signer
}

func (s *signerCache) get(secrets []string) (*signature.Signer, error) {
	// During a rotation grace period the key covers both secrets, so the
	// signer signs with both.
	secret := secrets[0]
	if len(secrets) > 1 {
		secret = strings.Join(secrets, "\x00")
	}
	s.mu.RLock()
	sg := s.m[secret]
	s.mu.RUnlock()
	if sg != nil {
		return sg, nil
	}
	sg, err := signature.NewSigner(secrets...)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.m == nil || len(s.m) >= 10000 {
		s.m = make(map[string]*signature.Signer) // bound memory; rebuilding is cheap
	}
	s.m[secret] = sg
	s.mu.Unlock()
	return sg, nil
}
