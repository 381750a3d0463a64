package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verifier checks deliveries on the receiving side. It accepts several
// secrets so a receiver can keep accepting the old secret while a rotation
// rolls out. A Verifier is immutable after [NewVerifier] and safe for
// concurrent use.
type Verifier struct {
	jet       []*macKey // every accepted secret, verbatim (JetEmail)
	std       []*macKey // decoded keys of the whsec_ secrets (Standard Webhooks)
	tolerance time.Duration
	now       func() time.Time
}

// VerifyOption configures a [Verifier].
type VerifyOption func(*Verifier)

// WithTolerance sets how far a timestamp may be from the verifier's clock,
// in either direction (default [DefaultTolerance]). d <= 0 disables the
// check, which removes replay protection; timestamps must still parse.
func WithTolerance(d time.Duration) VerifyOption {
	return func(v *Verifier) { v.tolerance = d }
}

// WithClock replaces time.Now as the verifier's clock, mainly for tests and
// for replaying stored deliveries. A nil now is ignored.
func WithClock(now func() time.Time) VerifyOption {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// NewVerifier returns a Verifier that accepts deliveries signed with any of
// secrets (at least one; none empty). Each secret is tried verbatim for the
// JetEmail scheme; secrets of the form "whsec_<base64>" are also decoded
// for the Standard Webhooks scheme, and others simply cannot verify it.
func NewVerifier(secrets []string, opts ...VerifyOption) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: at least one secret is required", ErrInvalidSecret)
	}
	v := &Verifier{tolerance: DefaultTolerance, now: time.Now}
	for i, sec := range secrets {
		if sec == "" {
			return nil, fmt.Errorf("%w: secret %d is empty", ErrInvalidSecret, i)
		}
		v.jet = append(v.jet, newMACKey([]byte(sec)))
		if key, err := DecodeSecret(sec); err == nil {
			v.std = append(v.std, newMACKey(key))
		}
	}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// Result describes a successful verification.
type Result struct {
	// ID is the delivery's event id: webhook-id when the Standard Webhooks
	// signature verified (it is covered by that MAC), else X-Webhook-ID,
	// which JetEmail does not sign.
	ID string
	// Timestamp is the send time, chosen the same way as ID.
	Timestamp time.Time
	// JetEmail reports that X-Webhook-Signature was present and verified.
	JetEmail bool
	// Standard reports that webhook-signature was present and verified.
	Standard bool
}

// Verify checks the signature headers in h against body, which must be the
// raw request body exactly as received (not re-encoded JSON).
//
// Every scheme whose signature header is present must verify with one of
// the accepted secrets and carry a timestamp within tolerance; at least one
// must be present. Requiring all present schemes, rather than any, means a
// forged or stale header is never ignored just because the other scheme
// passed. Errors wrap [ErrMissingHeaders] (no signature header at all, or a
// present scheme lacks its timestamp or id), [ErrInvalidTimestamp],
// [ErrTimestampOutOfTolerance] or [ErrInvalidSignature]. Signatures are
// compared in constant time.
func (v *Verifier) Verify(h http.Header, body []byte) (Result, error) {
	jetSig := h.Get(HeaderSignature)
	stdSig := h.Get(StdHeaderSignature)
	if jetSig == "" && stdSig == "" {
		return Result{}, fmt.Errorf("%w: neither %s nor %s is set", ErrMissingHeaders, HeaderSignature, StdHeaderSignature)
	}

	var res Result
	if jetSig != "" {
		ts, err := v.timestamp(h, HeaderTimestamp)
		if err != nil {
			return Result{}, err
		}
		if !v.verifyJet(jetSig, body) {
			return Result{}, fmt.Errorf("%w: %s does not match", ErrInvalidSignature, HeaderSignature)
		}
		res.ID, res.Timestamp, res.JetEmail = h.Get(HeaderID), ts, true
	}
	if stdSig != "" {
		id := h.Get(StdHeaderID)
		if id == "" {
			return Result{}, fmt.Errorf("%w: %s is not set", ErrMissingHeaders, StdHeaderID)
		}
		ts, err := v.timestamp(h, StdHeaderTimestamp)
		if err != nil {
			return Result{}, err
		}
		if !v.verifyStd(stdSig, id, h.Get(StdHeaderTimestamp), body) {
			return Result{}, fmt.Errorf("%w: %s does not match", ErrInvalidSignature, StdHeaderSignature)
		}
		// Prefer the signed id and timestamp over JetEmail's unsigned ones.
		res.ID, res.Timestamp, res.Standard = id, ts, true
	}
	return res, nil
}

// timestamp parses header name as unix seconds and applies the tolerance.
func (v *Verifier) timestamp(h http.Header, name string) (time.Time, error) {
	raw := h.Get(name)
	if raw == "" {
		return time.Time{}, fmt.Errorf("%w: %s is not set", ErrMissingHeaders, name)
	}
	sec, ok := parseUnix(raw)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %s must be integer unix seconds", ErrInvalidTimestamp, name)
	}
	if v.tolerance > 0 && !within(sec, v.now().Unix(), v.tolerance) {
		return time.Time{}, fmt.Errorf("%w: %s", ErrTimestampOutOfTolerance, name)
	}
	return time.Unix(sec, 0), nil
}

// parseUnix accepts only ASCII digits. strconv.ParseInt alone would also
// take a sign ("+1", "-1"), which no sender emits; for Standard Webhooks
// the header text is part of the MAC, so keeping one spelling per value
// avoids surprises.
func parseUnix(s string) (int64, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// within reports whether |ts-now| <= tol, in whole seconds. It works in
// unsigned arithmetic because the difference of two arbitrary int64s can
// overflow int64 (and a time.Duration would saturate, so negating it to
// get an absolute value is wrong at the extremes).
func within(ts, now int64, tol time.Duration) bool {
	var diff uint64
	if ts >= now {
		diff = uint64(ts) - uint64(now)
	} else {
		diff = uint64(now) - uint64(ts)
	}
	// diff is whole seconds, so diff <= tol iff diff <= floor(tol/1s).
	return diff <= uint64(tol/time.Second)
}

// verifyJet compares the whole header, "sha256=" prefix included, like the
// JetEmail SDKs: uppercase hex or a different prefix does not verify.
func (v *Verifier) verifyJet(got string, body []byte) bool {
	if len(got) != jetSigLen {
		return false
	}
	var sum [sha256.Size]byte
	want := make([]byte, 0, jetSigLen)
	for _, k := range v.jet {
		want = append(want[:0], jetPrefix...)
		want = hex.AppendEncode(want, k.sum(sum[:0], nil, body))
		if hmac.Equal(want, []byte(got)) {
			return true
		}
	}
	return false
}

// verifyStd checks the space-separated signature list. Entries with a
// version other than "v1" (such as the spec's asymmetric "v1a") are skipped
// as the spec requires, so a sender may add schemes without breaking us.
// Each key's MAC is computed once and compared against every entry.
func (v *Verifier) verifyStd(list, id, ts string, body []byte) bool {
	if len(v.std) == 0 {
		return false
	}
	var sigs []string
	for _, entry := range strings.Fields(list) {
		if b64, ok := strings.CutPrefix(entry, stdPrefix); ok && len(b64) == stdSigLen-len(stdPrefix) {
			sigs = append(sigs, b64)
		}
	}
	if len(sigs) == 0 {
		return false
	}
	msg := stdMessagePrefix(nil, id, []byte(ts))
	var sum [sha256.Size]byte
	want := make([]byte, 0, stdSigLen)
	for _, k := range v.std {
		want = base64.StdEncoding.AppendEncode(want[:0], k.sum(sum[:0], msg, body))
		for _, s := range sigs {
			if hmac.Equal(want, []byte(s)) {
				return true
			}
		}
	}
	return false
}
