package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
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

	"github.com/jetwebhooks/jetwebhooks/server/egress"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// attempt makes one HTTP attempt for a claim and returns its outcome. It never
// uses the engine's run context: an attempt in flight at shutdown finishes
// (bounded by the timeout) so its outcome is recorded rather than repeated.
func (e *Engine) attempt(c *store.Claim) *store.Outcome {
	start := e.cfg.Now()
	o := &store.Outcome{DeliveryID: c.DeliveryID, ClaimSeq: c.ClaimSeq, WebhookUUID: c.WebhookUUID, At: start}
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
	o.StatusCode, o.Error, o.ResponseBody = res.code, res.err, res.body
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
	return o
}

type outcomeKind int

const (
	outcomeSuccess outcomeKind = iota
	outcomeRetry
	outcomePermanent
)

type sendResult struct {
	outcome    outcomeKind
	code       int
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
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Body))
	if err != nil {
		return sendResult{outcome: outcomePermanent, err: "webhook url is not a valid request target"}
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{e.cfg.UserAgent}
	signer.Sign(req.Header, c.EventID, now, c.Body)
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
	// Drain a little more so the connection can be reused; give up on huge answers.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := sendResult{code: resp.StatusCode, body: sanitizeBody(body, e.cfg.MaxResponseBody)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.outcome = outcomeSuccess
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		r.outcome = outcomeRetry
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
		}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// Redirects are never followed (a redirect could point anywhere the
		// egress policy forbids); a 3xx is a failed attempt, retried in case
		// the endpoint is fixed.
		r.outcome = outcomeRetry
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode) + " redirect not followed"
	default:
		r.outcome = outcomePermanent
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return r
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

// classifyError turns a transport failure into a retry decision and a short
// text for the history. The text never contains addresses: a customer must not
// learn the operator's DNS answers or network layout from it.
func classifyError(err error, timeout time.Duration) sendResult {
	var dnsErr *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, egress.ErrDestinationRefused):
		// A forbidden address and a name that does not resolve read the
		// same and are both retried, so neither the text nor the number of
		// attempts tells a customer which internal names exist. (A lookup
		// can fail for a while; a refused dial costs no connection.)
		return sendResult{outcome: outcomeRetry, err: egress.RefusedMessage}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return sendResult{outcome: outcomeRetry, err: fmt.Sprintf("timed out after %s", timeout)}
	case errors.As(err, &dnsErr):
		// Only from a client without the egress transport.
		return sendResult{outcome: outcomeRetry, err: egress.RefusedMessage}
	case errors.Is(err, syscall.ECONNREFUSED):
		return sendResult{outcome: outcomeRetry, err: "connection refused"}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return sendResult{outcome: outcomeRetry, err: "connection closed by the receiver"}
	case errors.As(err, &tlsErr) || errors.As(err, &recErr):
		return sendResult{outcome: outcomeRetry, err: "TLS handshake failed"}
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return sendResult{outcome: outcomeRetry, err: "host unreachable"}
	}
	return sendResult{outcome: outcomeRetry, err: "request failed"}
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
