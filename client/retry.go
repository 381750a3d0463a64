package client

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how the Client retries a request that failed in a way a
// repeat may fix. It retries:
//   - a 429 (rate limited; the request was not carried out), any request;
//   - a 503, and a network error (no answer at all), only for a request that
//     is safe to repeat: a GET, PUT, DELETE, a read such as QueryEvents, or a
//     request with an Idempotency-Key, which the server answers once.
//
// CreateWebhook, and PublishEvent and PublishEvents with an event without an
// id, send an Idempotency-Key the Client makes up when the caller gave none,
// so that they too can be retried without ever making a second webhook or
// event. Events that all carry ids are safe to repeat as they are: the server
// accepts each id once. Waits follow the answer's
// Retry-After when it has one, else an exponential backoff with full jitter.
type RetryPolicy struct {
	// MaxAttempts is the number of tries, the first included (default 4;
	// 1 retries nothing).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between tries without a
	// Retry-After (defaults 200 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the Client waits out; a longer
	// one ends the retries with the error (default 30 s).
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is what a Client uses unless WithRetryPolicy or
// WithoutRetries says otherwise.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, MinBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second, MaxRetryAfter: 30 * time.Second}

// WithRetryPolicy replaces DefaultRetryPolicy; zero fields take its values.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) {
		d := DefaultRetryPolicy
		if p.MaxAttempts > 0 {
			d.MaxAttempts = p.MaxAttempts
		}
		if p.MinBackoff > 0 {
			d.MinBackoff = p.MinBackoff
		}
		if p.MaxBackoff > 0 {
			d.MaxBackoff = p.MaxBackoff
		}
		if p.MaxRetryAfter > 0 {
			d.MaxRetryAfter = p.MaxRetryAfter
		}
		c.retry = d
	}
}

// WithoutRetries makes every request a single try, and no Idempotency-Key is
// made up for the caller.
func WithoutRetries() Option {
	return func(c *config) { c.retry = RetryPolicy{MaxAttempts: 1} }
}

// safeKey marks a request context whose request is safe to repeat even
// though its method is POST (a read such as QueryEvents).
type safeKey struct{}

func markSafe(ctx context.Context) context.Context { return context.WithValue(ctx, safeKey{}, true) }

// safeToRepeat: the request changes nothing, or the server does it once.
func safeToRepeat(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	if req.Header.Get("Idempotency-Key") != "" {
		return true
	}
	safe, _ := req.Context().Value(safeKey{}).(bool)
	return safe
}

// retryTransport applies a RetryPolicy around another RoundTripper.
type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	sleep  func(ctx context.Context, d time.Duration) error
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		if attempt > 1 && req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err := t.next.RoundTrip(req)
		wait, retry := t.decide(req, resp, err, attempt)
		if !retry {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
		}
		if serr := t.sleep(req.Context(), wait); serr != nil {
			if err == nil {
				err = serr
			}
			return nil, err
		}
	}
}

// decide says whether to try again after attempt, and how long to wait.
func (t *retryTransport) decide(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= t.policy.MaxAttempts || req.Context().Err() != nil {
		return 0, false
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return 0, false // the body cannot be sent again
	}
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || !safeToRepeat(req) {
			return 0, false
		}
	case resp.StatusCode == http.StatusTooManyRequests:
	case resp.StatusCode == http.StatusServiceUnavailable && safeToRepeat(req):
	default:
		return 0, false
	}
	if resp != nil {
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s >= 0 {
			d := time.Duration(s) * time.Second
			if d > t.policy.MaxRetryAfter {
				return 0, false
			}
			return d, true
		}
	}
	backoff := t.policy.MinBackoff << (attempt - 1)
	if backoff <= 0 || backoff > t.policy.MaxBackoff {
		backoff = t.policy.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(backoff)) + 1), true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// idempotencyKey makes up a key for a create or publish the caller gave
// none for, so a retry of it is answered once.
func idempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return "jwgo-" + hex.EncodeToString(b[:])
}
