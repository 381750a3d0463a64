package signature_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

// JetEmail vector (reference doc §7.2, computed with Python's hmac and
// accepted by the JetEmail Python SDK).
const (
	jetSecret = "whsec_test123"
	jetBody   = `{"id":"evt_abc123","service":"outbound","type":"outbound.delivered","created_at":1704825600,"data":{"uid":"message-uid"}}`
	jetSig    = "sha256=f649f8c86bfbffb445a8a5a5acdfbecb039e4a3b93675652902dca94f60a64ef"
	// What a sender that wrongly strips "whsec_" would produce.
	jetSigStripped = "sha256=48318bd5f026aa6537722b407237fee3a480c37641901b65edfd9b5d8e2615f4"
)

// Standard Webhooks canonical vector (spec test suites, Hook0).
const (
	stdID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	stdTS     = int64(1614265330)
	stdBody   = `{"test": 2432232314}`
	stdSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestJetEmailVector(t *testing.T) {
	if got := signature.JetEmailSignature(jetSecret, []byte(jetBody)); got != jetSig {
		t.Fatalf("JetEmailSignature = %s, want %s", got, jetSig)
	}
	// The prefix is part of the key; stripping it must give the other value.
	stripped := strings.TrimPrefix(jetSecret, signature.SecretPrefix)
	if got := signature.JetEmailSignature(stripped, []byte(jetBody)); got != jetSigStripped {
		t.Fatalf("stripped-prefix signature = %s, want %s", got, jetSigStripped)
	}
	if jetSig == jetSigStripped {
		t.Fatal("vectors must differ")
	}
}

func TestJetEmailVectorVerifies(t *testing.T) {
	v := mustVerifier(t, []string{jetSecret}, signature.WithTolerance(0))
	h := http.Header{}
	h.Set(signature.HeaderID, "evt_abc123")
	h.Set(signature.HeaderTimestamp, "1704825600")
	h.Set(signature.HeaderSignature, jetSig)
	res, err := v.Verify(h, []byte(jetBody))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !res.JetEmail || res.Standard || res.ID != "evt_abc123" || res.Timestamp.Unix() != 1704825600 {
		t.Fatalf("unexpected result %+v", res)
	}
	// A receiver that signed with the stripped secret must be rejected.
	h.Set(signature.HeaderSignature, jetSigStripped)
	if _, err := v.Verify(h, []byte(jetBody)); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Fatalf("stripped signature: err = %v, want ErrInvalidSignature", err)
	}
}

func TestStandardVector(t *testing.T) {
	key, err := signature.DecodeSecret(stdSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := signature.StandardSignature(key, stdID, stdTS, []byte(stdBody)); got != stdSig {
		t.Fatalf("StandardSignature = %s, want %s", got, stdSig)
	}

	// Through the Signer too, which uses the pooled code path.
	s := mustSigner(t, stdSecret)
	h := http.Header{}
	s.Sign(h, stdID, time.Unix(stdTS, 0), []byte(stdBody))
	if got := h.Get(signature.StdHeaderSignature); got != stdSig {
		t.Fatalf("Signer webhook-signature = %s, want %s", got, stdSig)
	}

	// And the verifier accepts the vector as a receiver would see it.
	v := mustVerifier(t, []string{stdSecret}, signature.WithClock(func() time.Time { return time.Unix(stdTS+10, 0) }))
	h = http.Header{}
	h.Set(signature.StdHeaderID, stdID)
	h.Set(signature.StdHeaderTimestamp, "1614265330")
	h.Set(signature.StdHeaderSignature, stdSig)
	res, err := v.Verify(h, []byte(stdBody))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !res.Standard || res.JetEmail || res.ID != stdID || res.Timestamp.Unix() != stdTS {
		t.Fatalf("unexpected result %+v", res)
	}
}

func TestSignSetsAllHeaders(t *testing.T) {
	// jetSecret is newest, so it keys X-Webhook-Signature; it is not valid
	// base64 after the prefix, so only stdSecret yields a v1 entry.
	s := mustSigner(t, jetSecret, stdSecret)
	h := http.Header{}
	ts := time.Unix(1704825600, 999_000_000) // sub-second part is truncated
	s.Sign(h, "evt_abc123", ts, []byte(jetBody))

	want := map[string]string{
		signature.HeaderID:           "evt_abc123",
		signature.HeaderTimestamp:    "1704825600",
		signature.HeaderSignature:    jetSig,
		signature.StdHeaderID:        "evt_abc123",
		signature.StdHeaderTimestamp: "1704825600",
	}
	for k, w := range want {
		if got := h.Get(k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	key, _ := signature.DecodeSecret(stdSecret)
	if got, w := h.Get(signature.StdHeaderSignature), signature.StandardSignature(key, "evt_abc123", 1704825600, []byte(jetBody)); got != w {
		t.Errorf("webhook-signature = %q, want %q", got, w)
	}
	// Every header has exactly one value.
	if len(h) != 6 {
		t.Errorf("got %d header keys, want 6: %v", len(h), h)
	}
	for k, vs := range h {
		if len(vs) != 1 {
			t.Errorf("%s has %d values", k, len(vs))
		}
	}
	// Adding to one header must not clobber its neighbour in the shared
	// backing array.
	h.Add(signature.HeaderID, "extra")
	if got := h.Get(signature.HeaderTimestamp); got != "1704825600" {
		t.Errorf("Add on %s changed %s to %q", signature.HeaderID, signature.HeaderTimestamp, got)
	}
}

func TestSignerNonStandardSecret(t *testing.T) {
	// "whsec_test123" decodes as base64 ("test123" is 7 chars, invalid std
	// base64), and "plain-secret" has no prefix: both are JetEmail-only.
	for _, sec := range []string{jetSecret, "plain-secret"} {
		if _, err := signature.DecodeSecret(sec); err == nil {
			t.Fatalf("DecodeSecret(%q) succeeded, test assumes it fails", sec)
		}
		s := mustSigner(t, sec)
		h := http.Header{}
		h.Set(signature.StdHeaderSignature, "v1,stale")
		s.Sign(h, "evt_1", time.Unix(1704825600, 0), []byte(jetBody))
		if got, want := h.Get(signature.HeaderSignature), signature.JetEmailSignature(sec, []byte(jetBody)); got != want {
			t.Errorf("%q: X-Webhook-Signature = %s, want %s", sec, got, want)
		}
		for _, k := range []string{signature.StdHeaderID, signature.StdHeaderTimestamp, signature.StdHeaderSignature} {
			if _, ok := h[http.CanonicalHeaderKey(k)]; ok {
				t.Errorf("%q: %s set without a Standard Webhooks key", sec, k)
			}
		}
		v := mustVerifier(t, []string{sec}, signature.WithTolerance(0))
		if res, err := v.Verify(h, []byte(jetBody)); err != nil || !res.JetEmail || res.Standard {
			t.Errorf("%q: Verify = %+v, %v", sec, res, err)
		}
	}
}

func TestNewSignerErrors(t *testing.T) {
	for _, secrets := range [][]string{nil, {""}, {stdSecret, ""}} {
		if _, err := signature.NewSigner(secrets...); !errors.Is(err, signature.ErrInvalidSecret) {
			t.Errorf("NewSigner(%q) err = %v, want ErrInvalidSecret", secrets, err)
		}
		if _, err := signature.NewVerifier(secrets); !errors.Is(err, signature.ErrInvalidSecret) {
			t.Errorf("NewVerifier(%q) err = %v, want ErrInvalidSecret", secrets, err)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	key, err := signature.DecodeSecret(stdSecret)
	if err != nil || len(key) != 24 {
		t.Fatalf("DecodeSecret(canonical) = %d bytes, %v", len(key), err)
	}
	for _, bad := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!!", "whsec_test123"} {
		if _, err := signature.DecodeSecret(bad); !errors.Is(err, signature.ErrInvalidSecret) {
			t.Errorf("DecodeSecret(%q) err = %v, want ErrInvalidSecret", bad, err)
		}
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := signature.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, signature.SecretPrefix) {
			t.Fatalf("%q lacks prefix", s)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, signature.SecretPrefix))
		if err != nil || len(raw) != 32 {
			t.Fatalf("%q decodes to %d bytes, %v", s, len(raw), err)
		}
		key, err := signature.DecodeSecret(s)
		if err != nil || len(key) != 32 {
			t.Fatalf("DecodeSecret(%q) = %d bytes, %v", s, len(key), err)
		}
		if seen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		seen[s] = true
	}
}

func mustSigner(t testing.TB, secrets ...string) *signature.Signer {
	t.Helper()
	s, err := signature.NewSigner(secrets...)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

func mustVerifier(t testing.TB, secrets []string, opts ...signature.VerifyOption) *signature.Verifier {
	t.Helper()
	v, err := signature.NewVerifier(secrets, opts...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}
