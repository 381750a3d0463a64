package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"
)

// macKey holds one HMAC key plus a pool of keyed hash states. hmac.New
// hashes the key into inner/outer pads and allocates several objects, so
// reusing states (Reset returns them to the just-keyed state) removes that
// work from every delivery. A sync.Pool keeps this safe for concurrent use
// without a lock on the hot path.
type macKey struct {
	pool sync.Pool
}

func newMACKey(key []byte) *macKey {
	// Copy so later mutation of the caller's slice cannot change the key.
	k := append([]byte(nil), key...)
	m := &macKey{}
	m.pool.New = func() any { return hmac.New(sha256.New, k) }
	return m
}

// sum writes prefix then body into a keyed HMAC and appends the MAC to dst.
// Writing the two parts separately means the body is never copied.
func (m *macKey) sum(dst, prefix, body []byte) []byte {
	h := m.pool.Get().(hash.Hash)
	if len(prefix) > 0 {
		h.Write(prefix)
	}
	h.Write(body)
	dst = h.Sum(dst)
	h.Reset()
	m.pool.Put(h)
	return dst
}

// scratch is per-call working memory for Sign, pooled so that the message
// prefix, the MAC output and the header values are built without heap
// allocations. It lives on the heap (inside the pool), which matters: a
// stack buffer passed to hash.Hash.Sum through the interface would escape
// and be heap-allocated on every call anyway.
type scratch struct {
	sum [sha256.Size]byte
	msg []byte // Standard Webhooks prefix: id "." ts "."
	out []byte // all header values back to back
}

// maxPooledScratch bounds what a pooled scratch may retain, so one delivery
// with a huge id cannot pin a large buffer for the life of the process.
const maxPooledScratch = 4 << 10

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Canonical map keys. Sign assigns to the header map directly instead of
// calling Header.Set, which would canonicalize the name on every call.
// Receivers must read with Header.Get (or these canonical forms), which is
// the normal contract of net/http anyway; on the wire names are
// case-insensitive.
var (
	keyID           = textproto.CanonicalMIMEHeaderKey(HeaderID)           // "X-Webhook-Id"
	keyTimestamp    = textproto.CanonicalMIMEHeaderKey(HeaderTimestamp)    // "X-Webhook-Timestamp"
	keySignature    = textproto.CanonicalMIMEHeaderKey(HeaderSignature)    // "X-Webhook-Signature"
	keyStdID        = textproto.CanonicalMIMEHeaderKey(StdHeaderID)        // "Webhook-Id"
	keyStdTimestamp = textproto.CanonicalMIMEHeaderKey(StdHeaderTimestamp) // "Webhook-Timestamp"
	keyStdSignature = textproto.CanonicalMIMEHeaderKey(StdHeaderSignature) // "Webhook-Signature"
)

// Signer signs outgoing deliveries with both schemes. It precomputes and
// pools the HMAC state for each secret, so signing does not re-derive keys.
// A Signer is immutable after [NewSigner] and safe for concurrent use.
type Signer struct {
	jet *macKey   // keyed with secrets[0] verbatim (JetEmail)
	std []*macKey // decoded keys of the whsec_ secrets, newest first
}

// NewSigner returns a Signer for an endpoint's secrets, newest first; at
// least one is required and none may be empty.
//
// X-Webhook-Signature is computed with secrets[0] only, because JetEmail's
// header holds a single signature. webhook-signature carries one "v1," entry
// per secret, newest first, so receivers still holding an older secret keep
// verifying while a rotation rolls out.
//
// A secret that lacks the "whsec_" prefix or whose remainder is not valid
// standard base64 has no Standard Webhooks key. Such a secret is still used
// verbatim for the JetEmail signature (JetEmail accepts arbitrary secret
// strings) but is skipped for webhook-signature. If no secret yields a
// Standard Webhooks key, Sign omits the three webhook-* headers entirely
// rather than send a signature no receiver could check.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: at least one secret is required", ErrInvalidSecret)
	}
	s := &Signer{}
	for i, sec := range secrets {
		if sec == "" {
			return nil, fmt.Errorf("%w: secret %d is empty", ErrInvalidSecret, i)
		}
		if i == 0 {
			s.jet = newMACKey([]byte(sec))
		}
		if key, err := DecodeSecret(sec); err == nil {
			s.std = append(s.std, newMACKey(key))
		}
	}
	return s, nil
}

// Sign sets the six signature headers on h (only the three X-Webhook-*
// ones if no secret yielded a Standard Webhooks key, see [NewSigner]) for a
// delivery of body with event id id, sent at ts (truncated to whole unix seconds). body must be
// exactly the bytes that will be sent. Existing values for those headers
// are replaced.
//
// id must be non-empty (Standard Webhooks receivers reject an empty
// webhook-id) and, per that spec, should not contain '.'; ts must not be
// before 1970, since receivers accept only unsigned decimal seconds. The
// delivery engine's ids and clock satisfy both, so Sign does not check.
//
// Sign is built for the delivery hot path: it allocates one string holding
// all header values and one []string backing array shared by the six
// header entries, and nothing else in steady state (map growth of a fresh
// h aside).
func (s *Signer) Sign(h http.Header, id string, ts time.Time, body []byte) {
	sc := scratchPool.Get().(*scratch)

	// Lay out every value in one buffer so a single string conversion
	// yields all of them as substrings:
	//   <ts><"sha256="hex><"v1,"b64>[ <"v1,"b64>...]
	out := sc.out[:0]
	out = strconv.AppendInt(out, ts.Unix(), 10)
	tsEnd := len(out)

	out = append(out, jetPrefix...)
	out = hex.AppendEncode(out, s.jet.sum(sc.sum[:0], nil, body))
	jetEnd := len(out)

	if len(s.std) > 0 {
		msg := stdMessagePrefix(sc.msg[:0], id, out[:tsEnd])
		for i, k := range s.std {
			if i > 0 {
				out = append(out, ' ')
			}
			out = append(out, stdPrefix...)
			out = base64.StdEncoding.AppendEncode(out, k.sum(sc.sum[:0], msg, body))
		}
		sc.msg = msg
	}

	all := string(out)
	tsStr, jetSig, stdSig := all[:tsEnd], all[tsEnd:jetEnd], all[jetEnd:]

	// Keep the grown buffers for the next call unless they got large.
	if cap(out)+cap(sc.msg) <= maxPooledScratch {
		sc.out = out
		scratchPool.Put(sc)
	}

	// One backing array for all header slices; the three-index slices cap
	// each at length 1 so a later Add on one header reallocates instead of
	// overwriting its neighbour.
	n := 3
	if len(s.std) > 0 {
		n = 6
	}
	vals := make([]string, n)
	vals[0], vals[1], vals[2] = id, tsStr, jetSig
	h[keyID] = vals[0:1:1]
	h[keyTimestamp] = vals[1:2:2]
	h[keySignature] = vals[2:3:3]
	if n == 6 {
		vals[3], vals[4], vals[5] = id, tsStr, stdSig
		h[keyStdID] = vals[3:4:4]
		h[keyStdTimestamp] = vals[4:5:5]
		h[keyStdSignature] = vals[5:6:6]
	} else {
		// Drop stale Standard Webhooks headers (e.g. from a reused header
		// map) so they cannot contradict this delivery.
		delete(h, keyStdID)
		delete(h, keyStdTimestamp)
		delete(h, keyStdSignature)
	}
}
