package signature_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

// FuzzVerify checks three properties over arbitrary secrets, ids, times,
// bodies and header values:
//   - Verify never panics on attacker-controlled headers, and accepts a
//     header only if it equals the signature computed independently;
//   - whatever Signer produces verifies (with a fresh clock), and matches
//     the one-shot JetEmailSignature/StandardSignature helpers;
//   - flipping any bit of the body makes verification fail.
func FuzzVerify(f *testing.F) {
	f.Add(jetSecret, "evt_abc123", int64(1704825600), []byte(jetBody), jetSig, "1704825600", uint(0))
	f.Add(jetSecret, "evt_abc123", int64(1704825600), []byte(jetBody), jetSigStripped, "1704825600", uint(7))
	f.Add(stdSecret, stdID, stdTS, []byte(stdBody), stdSig, "1614265330", uint(3))
	f.Add(stdSecret, stdID, stdTS, []byte(stdBody), "v1a,x v1,"+stdSig[3:]+" v1,", "+1614265330", uint(99))
	f.Add("plain", "x", int64(0), []byte{}, "", "", uint(0))

	f.Fuzz(func(t *testing.T, secret, id string, ts int64, body []byte, sigHdr, tsHdr string, flip uint) {
		// 1. Arbitrary headers against a verifier: must not panic, and a
		// success must be explained by a genuine signature.
		if v, err := signature.NewVerifier([]string{secret}, signature.WithTolerance(0)); err == nil {
			h := http.Header{}
			h.Set(signature.HeaderSignature, sigHdr)
			h.Set(signature.HeaderTimestamp, tsHdr)
			h.Set(signature.StdHeaderID, id)
			h.Set(signature.StdHeaderTimestamp, tsHdr)
			h.Set(signature.StdHeaderSignature, sigHdr)
			res, err := v.Verify(h, body)
			if err == nil {
				if res.JetEmail && sigHdr != signature.JetEmailSignature(secret, body) {
					t.Fatalf("accepted JetEmail signature %q that is not the real one", sigHdr)
				}
				if !res.JetEmail && !res.Standard {
					t.Fatalf("nil error but no scheme verified: %+v", res)
				}
			}
		}

		// 2. Signer output always verifies. Ids must be non-empty (the
		// Standard Webhooks spec requires webhook-id) and timestamps
		// non-negative (a sign would not parse); the delivery engine
		// never produces anything else.
		s, err := signature.NewSigner(secret)
		if err != nil {
			return
		}
		if id == "" {
			id = "evt"
		}
		if ts < 0 {
			ts = -(ts + 1)
		}
		when := time.Unix(ts, 0)
		h := http.Header{}
		s.Sign(h, id, when, body)

		if got, want := h.Get(signature.HeaderSignature), signature.JetEmailSignature(secret, body); got != want {
			t.Fatalf("Signer JetEmail %q != one-shot %q", got, want)
		}
		key, keyErr := signature.DecodeSecret(secret)
		if keyErr == nil {
			if got, want := h.Get(signature.StdHeaderSignature), signature.StandardSignature(key, id, ts, body); got != want {
				t.Fatalf("Signer Standard %q != one-shot %q", got, want)
			}
		}

		v, err := signature.NewVerifier([]string{secret}, signature.WithClock(func() time.Time { return when }))
		if err != nil {
			t.Fatalf("NewVerifier accepted by NewSigner but rejected here: %v", err)
		}
		res, err := v.Verify(h, body)
		if err != nil {
			t.Fatalf("Signer output does not verify: %v (headers %v)", err, h)
		}
		if !res.JetEmail || res.Standard != (keyErr == nil) || res.ID != id || res.Timestamp.Unix() != ts {
			t.Fatalf("unexpected result %+v (std key err %v)", res, keyErr)
		}

		// 3. A mutated body never verifies.
		mutated := append([]byte(nil), body...)
		if len(mutated) == 0 {
			mutated = append(mutated, byte(flip))
		} else {
			i := flip % uint(len(mutated))
			mutated[i] ^= 1 << (flip % 8)
		}
		if _, err := v.Verify(h, mutated); !errors.Is(err, signature.ErrInvalidSignature) {
			t.Fatalf("mutated body: err = %v, want ErrInvalidSignature", err)
		}
	})
}
