// Package signature signs and verifies jetwebhooks deliveries.
//
// Every delivery that jetwebhooks sends carries two independent signatures
// at once, so that receivers written for either ecosystem work unchanged.
//
// # JetEmail scheme
//
// This is what the JetEmail SDKs verify, so existing JetEmail receivers keep
// working when pointed at jetwebhooks:
//
//	X-Webhook-ID:        <event id>
//	X-Webhook-Timestamp: <unix seconds>   (not covered by the MAC)
//	X-Webhook-Signature: sha256=<lowercase hex HMAC-SHA256(secret, body)>
//
// The HMAC key is the secret string exactly as issued, "whsec_" prefix
// included, with no base64 decoding. That is what the JetEmail SDKs do;
// stripping the prefix would produce signatures they reject.
//
// # Standard Webhooks scheme
//
// Standard Webhooks (https://www.standardwebhooks.com) binds the message id
// and timestamp into the MAC, so a captured delivery cannot be replayed
// with a fresh timestamp:
//
//	webhook-id:        <event id>
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + ts + "." + body)>
//
// Here the key is the base64-decoded part after "whsec_". During secret
// rotation the header carries several space-separated "v1," entries.
//
// # Sender and receiver
//
// The sender side is [Signer], used on the delivery engine's hot path; it
// precomputes keys and pools HMAC state so that signing costs two small
// allocations per delivery. The receiver side is [Verifier] (and its
// [Verifier.Middleware]), which Go users can import to check deliveries:
//
//	v, err := signature.NewVerifier([]string{os.Getenv("WEBHOOK_SECRET")})
//	if err != nil { ... }
//	http.Handle("/webhook", v.Middleware(0)(handler)) // 401 unless signed
//
// Only the Go standard library is used, so importing this package into a
// receiver pulls in no third-party code.
package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names and defaults shared by the signer and the verifier.
const (
	// HeaderID carries the event id in JetEmail's scheme. JetEmail tells
	// receivers to de-duplicate on it; it is not covered by the signature.
	HeaderID = "X-Webhook-ID"
	// HeaderTimestamp carries the send time in unix seconds in JetEmail's
	// scheme. It is not covered by the signature, so whoever replays a
	// captured delivery can refresh it; only the Standard Webhooks
	// timestamp gives real replay protection.
	HeaderTimestamp = "X-Webhook-Timestamp"
	// HeaderSignature carries "sha256=<hex>" in JetEmail's scheme.
	HeaderSignature = "X-Webhook-Signature"

	// StdHeaderID is the Standard Webhooks message id, covered by the MAC.
	StdHeaderID = "webhook-id"
	// StdHeaderTimestamp is the Standard Webhooks timestamp (unix seconds),
	// covered by the MAC.
	StdHeaderTimestamp = "webhook-timestamp"
	// StdHeaderSignature is the Standard Webhooks signature list: one or
	// more space-separated "v1,<base64>" entries.
	StdHeaderSignature = "webhook-signature"

	// SecretPrefix marks a Standard Webhooks secret; the rest of the string
	// is the base64-encoded HMAC key.
	SecretPrefix = "whsec_"

	// DefaultTolerance is how far a delivery's timestamp may be from the
	// verifier's clock, in either direction. Five minutes matches both the
	// JetEmail SDKs (300 s) and the Standard Webhooks reference libraries.
	DefaultTolerance = 5 * time.Minute
)

// Sentinel errors. Verification errors may be wrapped with detail (for
// example which header is missing), so compare them with [errors.Is].
var (
	// ErrMissingHeaders means neither scheme's signature header is present,
	// or a present scheme lacks a header it needs (timestamp, or id for
	// Standard Webhooks).
	ErrMissingHeaders = errors.New("signature: missing webhook headers")
	// ErrInvalidTimestamp means a timestamp header is not base-10 integer
	// seconds.
	ErrInvalidTimestamp = errors.New("signature: invalid webhook timestamp")
	// ErrTimestampOutOfTolerance means a timestamp is too far from now;
	// the delivery is stale (possibly replayed) or a clock is wrong.
	ErrTimestampOutOfTolerance = errors.New("signature: webhook timestamp outside tolerance")
	// ErrInvalidSignature means a signature header is present but matches
	// none of the accepted secrets.
	ErrInvalidSignature = errors.New("signature: invalid webhook signature")
	// ErrInvalidSecret means a secret is empty, or (for [DecodeSecret]) is
	// not "whsec_" followed by non-empty standard base64.
	ErrInvalidSecret = errors.New("signature: invalid webhook secret")
)

// secretBytes is the size of a generated HMAC key: the SHA-256 output size
// (RFC 2104 advises keys at least that long) and inside the 24..64-byte
// range the Standard Webhooks spec recommends.
const secretBytes = 32

// NewSecret returns a fresh secret: "whsec_" followed by the standard base64
// encoding of 32 bytes from crypto/rand. The same string works for both
// schemes: JetEmail uses it verbatim as the HMAC key, Standard Webhooks uses
// the decoded bytes.
func NewSecret() (string, error) {
	var key [secretBytes]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", fmt.Errorf("signature: generating secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key[:]), nil
}

// DecodeSecret returns the Standard Webhooks HMAC key for secret: the
// standard-base64-decoded part after "whsec_". It returns an error wrapping
// [ErrInvalidSecret] if the prefix is missing, the base64 is malformed, or
// the key would be empty (an empty HMAC key authenticates nothing).
func DecodeSecret(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: missing %q prefix", ErrInvalidSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSecret, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return key, nil
}

// jetPrefix and stdPrefix are the fixed parts of the two signature formats.
const (
	jetPrefix = "sha256="
	stdPrefix = "v1,"
)

// Encoded lengths, used to size buffers up front.
var (
	jetSigLen = len(jetPrefix) + hex.EncodedLen(sha256.Size)
	stdSigLen = len(stdPrefix) + base64.StdEncoding.EncodedLen(sha256.Size)
)

// JetEmailSignature returns the X-Webhook-Signature value for body:
// "sha256=" + lowercase hex HMAC-SHA256 keyed with secret exactly as given
// ("whsec_" prefix included, matching the JetEmail SDKs). It is a one-shot
// helper; [Signer] is cheaper when signing many deliveries.
func JetEmailSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	var sum [sha256.Size]byte
	buf := make([]byte, 0, jetSigLen)
	buf = append(buf, jetPrefix...)
	buf = hex.AppendEncode(buf, mac.Sum(sum[:0]))
	return string(buf)
}

// StandardSignature returns one Standard Webhooks signature entry,
// "v1," + base64 HMAC-SHA256(key, id + "." + ts + "." + body), where key is
// the decoded secret from [DecodeSecret]. It is a one-shot helper; [Signer]
// is cheaper when signing many deliveries.
func StandardSignature(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(stdMessagePrefix(nil, id, strconv.AppendInt(nil, ts, 10)))
	mac.Write(body)
	var sum [sha256.Size]byte
	buf := make([]byte, 0, stdSigLen)
	buf = append(buf, stdPrefix...)
	buf = base64.StdEncoding.AppendEncode(buf, mac.Sum(sum[:0]))
	return string(buf)
}

// stdMessagePrefix appends id + "." + ts + "." to dst: everything the
// Standard Webhooks MAC covers except the body, which is written to the
// hash separately so it is never copied.
func stdMessagePrefix(dst []byte, id string, ts []byte) []byte {
	dst = append(dst, id...)
	dst = append(dst, '.')
	dst = append(dst, ts...)
	return append(dst, '.')
}
