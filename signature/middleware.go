package signature

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// defaultMaxBody applies when Middleware is given maxBody <= 0. Reading an
// unbounded body before authenticating it would let anyone make the
// receiver buffer arbitrary amounts of memory; 1 MiB is far above any
// webhook payload jetwebhooks sends.
const defaultMaxBody = 1 << 20

// resultKey is the context key for the verified Result; an unexported type
// cannot collide with keys from other packages.
type resultKey struct{}

// Middleware returns HTTP middleware that authenticates webhook deliveries
// before the wrapped handler runs.
//
// It reads at most maxBody bytes of the request body (maxBody <= 0 means
// 1 MiB) and answers 413 if the body is larger, since the signature covers
// the whole body and a truncated one could never verify. It then calls
// [Verifier.Verify] and answers 401 with a JSON body {"error": "..."} if
// verification fails. On success it replaces r.Body with the bytes it read,
// so the next handler sees the full, unconsumed body, and stores the
// [Result] in the request context for [ResultFromContext].
func (v *Verifier) Middleware(maxBody int64) func(http.Handler) http.Handler {
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
					return
				}
				writeError(w, http.StatusBadRequest, "cannot read request body")
				return
			}
			res, err := v.Verify(r.Header, body)
			if err != nil {
				writeError(w, http.StatusUnauthorized, err.Error())
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), resultKey{}, res))
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
	}
}

// ResultFromContext returns the [Result] that [Verifier.Middleware] stored
// for a verified request. ok is false if the request did not pass through
// the middleware.
func ResultFromContext(ctx context.Context) (Result, bool) {
	res, ok := ctx.Value(resultKey{}).(Result)
	return res, ok
}

// writeError sends a small JSON error. The messages are the package's own
// error texts, which name headers but never echo secrets or expected MACs.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
}
