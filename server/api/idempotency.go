package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// idempotencyTTL is how long a key is remembered (Stripe's 24 hours).
const idempotencyTTL = 24 * time.Hour

var (
	errIdempotencyMismatch = newError(http.StatusConflict, "This Idempotency-Key was already used with a different request.")
	errIdempotencyRunning  = newError(http.StatusConflict, "A request with this Idempotency-Key is still being processed; retry shortly.")
)

// idempotent makes an operation safe to retry with an Idempotency-Key header:
// the first request with a key runs and its answer is stored (in the database,
// so every node sees it); a repeat with the same body gets that answer again,
// marked Idempotent-Replayed; a repeat with another body is a 409. Requests
// that fail (an error, or a 5xx) release the key, so the client can retry.
// It runs after validation: an invalid request never takes a key.
func (a *API) idempotent(scope func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			key := req.Header.Get("Idempotency-Key")
			if key == "" {
				return next(c)
			}
			// The key is stored as text: PostgreSQL refuses NUL and invalid
			// UTF-8 there (a 500), and Go's server lets bytes 0x80-0xff
			// through in header values.
			if !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
				return badRequest("Invalid Idempotency-Key: must be UTF-8 text without NUL characters.",
					models.ErrorDetail{Field: "Idempotency-Key", Reason: "must be UTF-8 text without NUL characters"})
			}
			hash, err := requestHash(req)
			if err != nil {
				return err
			}
			sc := scope(c)
			now := a.cfg.Now()
			rec, err := a.store.ReserveIdempotencyKey(req.Context(), sc, key, hash, now, now.Add(-idempotencyTTL))
			if err != nil {
				return err
			}
			if rec != nil {
				if !bytes.Equal(rec.RequestHash, hash) {
					return errIdempotencyMismatch
				}
				if rec.Status == 0 {
					return errIdempotencyRunning
				}
				c.Response().Header().Set("Idempotent-Replayed", "true")
				return c.JSONBlob(rec.Status, rec.Body)
			}
			rw := &captureWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rw
			// A panic is answered 500 by the recover middleware further out;
			// like any 5xx it must release the key, or every retry would be
			// refused as "still being processed" until the key expires.
			defer func() {
				if p := recover(); p != nil {
					c.Response().Writer = rw.ResponseWriter
					if rerr := a.store.ReleaseIdempotencyKey(context.WithoutCancel(req.Context()), sc, key); rerr != nil {
						a.log.Warn("release idempotency key", "err", rerr)
					}
					panic(p)
				}
			}()
			err = next(c)
			c.Response().Writer = rw.ResponseWriter
			status := c.Response().Status
			ctx := req.Context()
			if err != nil || status >= 500 || !c.Response().Committed {
				if rerr := a.store.ReleaseIdempotencyKey(ctx, sc, key); rerr != nil {
					a.log.Warn("release idempotency key", "err", rerr)
				}
				return err
			}
			if ferr := a.store.FinishIdempotencyKey(ctx, sc, key, status, rw.buf.Bytes()); ferr != nil {
				// The request succeeded; a repeat will get 409 "still being
				// processed" until the key expires rather than run twice.
				a.log.Warn("store idempotent response", "err", ferr)
			}
			return nil
		}
	}
}

// requestHash identifies a request's meaning: method, path and body (as
// validated, defaults included).
func requestHash(req *http.Request) ([]byte, error) {
	h := sha256.New()
	io.WriteString(h, req.Method+" "+req.URL.Path+"\n")
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		defer body.Close()
		if _, err := io.Copy(h, body); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// captureWriter keeps a copy of what the handler writes.
type captureWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.buf.Len() < 1<<20 {
		w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
