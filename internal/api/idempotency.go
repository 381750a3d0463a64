package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// idempotencyTTL is how long a key is remembered (Stripe's 24 hours).
const idempotencyTTL = 24 * time.Hour

var (
	errIdempotencyMismatch = newError(http.StatusConflict, "This Idempotency-Key was already used with a different request.")
	errIdempotencyRunning  = newError(http.StatusConflict, "A request with this Idempotency-Key is still being processed; retry shortly.")
	// The answer of a create is rendered from the webhook as it is now (the
	// stored record keeps no secret); once the webhook is gone there is
	// nothing to render, and running the create again would make a second
	// webhook for one key. 409, like the key's other conflicts: the request
	// cannot succeed as it is, and clients of this operation know 409.
	errIdempotencyGone = newError(http.StatusConflict, "The webhook created with this Idempotency-Key has since been deleted; use a new key to create another.")
)

// idemKey is the context key of the reservation a request holds.
type idemKey struct{}

// reservation is the Idempotency-Key a request holds. A handler that commits
// its answer together with its work (CreateWebhook) marks it finished, so the
// middleware does not record it a second time.
type reservation struct {
	lease    store.IdempotencyLease
	finished bool
}

// heldReservation returns the reservation the request of ctx holds, or nil.
func heldReservation(ctx context.Context) *reservation {
	r, _ := ctx.Value(idemKey{}).(*reservation)
	return r
}

// idempotent makes an operation safe to retry with an Idempotency-Key header:
// the first request with a key runs and its answer is stored (in the database,
// so every node sees it); a repeat with the same body gets that answer again,
// marked Idempotent-Replayed; a repeat with another body is a 409. Requests
// that fail (an error, or a 5xx) release the key, so the client can retry.
// A request that dies without doing either (the process is killed) holds the
// key only for the lease: then a retry of the same request runs. It runs
// after validation: an invalid request never takes a key.
//
// replay, if not nil, renders a finished record that names a resource
// instead of carrying a body (see store.IdempotencyRecord).
func (a *API) idempotent(scope func(echo.Context) string, replay func(echo.Context, *store.IdempotencyRecord) error) echo.MiddlewareFunc {
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
			token, err := leaseToken()
			if err != nil {
				return err
			}
			res := &reservation{lease: store.IdempotencyLease{Scope: scope(c), Key: key, Token: token}}
			now := a.cfg.Now()
			rec, err := a.store.ReserveIdempotencyKey(req.Context(), &store.ReserveIdempotencyParams{
				IdempotencyLease: res.lease, RequestHash: hash, Now: now,
				LeaseUntil: now.Add(a.cfg.IdempotencyLease), ExpiredBefore: now.Add(-idempotencyTTL),
			})
			if err != nil {
				return err
			}
			if rec != nil {
				return a.answerRecorded(c, rec, hash, replay)
			}
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), idemKey{}, res)))
			rw := &captureWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rw
			// A panic is answered 500 by the recover middleware further out;
			// like any 5xx it must release the key, or every retry would be
			// refused as "still being processed" until the lease ends.
			defer func() {
				if p := recover(); p != nil {
					c.Response().Writer = rw.ResponseWriter
					a.release(context.WithoutCancel(req.Context()), res.lease)
					panic(p)
				}
			}()
			err = next(c)
			c.Response().Writer = rw.ResponseWriter
			status := c.Response().Status
			if res.finished {
				return err
			}
			// The client may be gone; the record must still be written.
			ctx := context.WithoutCancel(req.Context())
			if err != nil || status >= 500 || !c.Response().Committed {
				a.release(ctx, res.lease)
				return err
			}
			if ferr := a.store.FinishIdempotencyKey(ctx, res.lease, status, rw.buf.Bytes()); ferr != nil {
				// The request succeeded. A repeat gets 409 "still being
				// processed" until the lease ends, then runs again, which
				// for ingest finds the events already stored.
				a.log.Warn("store idempotent response", "err", ferr)
			}
			return nil
		}
	}
}

// answerRecorded answers a request whose key is already taken.
func (a *API) answerRecorded(c echo.Context, rec *store.IdempotencyRecord, hash []byte, replay func(echo.Context, *store.IdempotencyRecord) error) error {
	if !bytes.Equal(rec.RequestHash, hash) {
		return errIdempotencyMismatch
	}
	if rec.Status == 0 {
		return errIdempotencyRunning
	}
	if rec.ResourceUUID != "" {
		if replay == nil {
			return fmt.Errorf("idempotency record of %q names a resource and the operation cannot render it", c.Path())
		}
		return replay(c, rec)
	}
	c.Response().Header().Set("Idempotent-Replayed", "true")
	return c.JSONBlob(rec.Status, rec.Body)
}

// release gives a reservation back after a failure, so the retry runs.
func (a *API) release(ctx context.Context, lease store.IdempotencyLease) {
	if err := a.store.ReleaseIdempotencyKey(ctx, lease); err != nil {
		a.log.Warn("release idempotency key", "err", err)
	}
}

// replayCreate answers a repeated POST /webhooks from the webhook the first
// request made, as it is now: after a rotation that is the current secret
// (which GET returns to the same key anyway), never one meant to be erased.
func (a *API) replayCreate(c echo.Context, rec *store.IdempotencyRecord) error {
	ctx := c.Request().Context()
	w, err := a.store.GetWebhook(ctx, accountFrom(ctx).ID, rec.ResourceUUID)
	if errors.Is(err, store.ErrNotFound) {
		return errIdempotencyGone
	}
	if err != nil {
		return err
	}
	resp := createdResponse(w)
	replayed := "true"
	resp.Headers.IdempotentReplayed = &replayed
	return resp.VisitCreateWebhookResponse(c.Response())
}

// createdResponse is the answer of POST /webhooks for w, the first time and
// at every replay.
func createdResponse(w *store.Webhook) apiserver.CreateWebhook200JSONResponse {
	msg := "Webhook created successfully"
	return apiserver.CreateWebhook200JSONResponse{Body: models.WebhookResponse{Success: true, Message: &msg, Webhook: toModelWithSecret(w)}}
}

// leaseToken identifies one request's reservation.
func leaseToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("idempotency lease token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
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
