package signature_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

var (
	t0   = time.Unix(1704825600, 0)
	at0  = signature.WithClock(func() time.Time { return t0 })
	body = []byte(jetBody)
)

// signed returns headers for body signed by secrets at t0.
func signed(t testing.TB, secrets ...string) http.Header {
	t.Helper()
	h := http.Header{}
	mustSigner(t, secrets...).Sign(h, "evt_abc123", t0, body)
	return h
}

func newSecret(t testing.TB) string {
	t.Helper()
	s, err := signature.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	sec := newSecret(t)
	h := signed(t, sec)
	res, err := mustVerifier(t, []string{sec}, at0).Verify(h, body)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := signature.Result{ID: "evt_abc123", Timestamp: t0, JetEmail: true, Standard: true}
	if res != want {
		t.Fatalf("Result = %+v, want %+v", res, want)
	}
}

// Each scheme verifies on its own when the other's headers are removed, so
// receivers using only one scheme work.
func TestEachSchemeAlone(t *testing.T) {
	sec := newSecret(t)
	v := mustVerifier(t, []string{sec}, at0)

	h := signed(t, sec)
	h.Del(signature.StdHeaderID)
	h.Del(signature.StdHeaderTimestamp)
	h.Del(signature.StdHeaderSignature)
	if res, err := v.Verify(h, body); err != nil || !res.JetEmail || res.Standard {
		t.Errorf("JetEmail only: %+v, %v", res, err)
	}

	h = signed(t, sec)
	h.Del(signature.HeaderID)
	h.Del(signature.HeaderTimestamp)
	h.Del(signature.HeaderSignature)
	if res, err := v.Verify(h, body); err != nil || res.JetEmail || !res.Standard {
		t.Errorf("Standard only: %+v, %v", res, err)
	}
}

func TestRotation(t *testing.T) {
	oldSec, newSec := newSecret(t), newSecret(t)
	h := signed(t, newSec, oldSec) // newest first

	sigs := strings.Fields(h.Get(signature.StdHeaderSignature))
	if len(sigs) != 2 {
		t.Fatalf("webhook-signature has %d entries, want 2: %q", len(sigs), sigs)
	}
	for i, sec := range []string{newSec, oldSec} {
		key, _ := signature.DecodeSecret(sec)
		if want := signature.StandardSignature(key, "evt_abc123", t0.Unix(), body); sigs[i] != want {
			t.Errorf("entry %d = %s, want %s (newest first)", i, sigs[i], want)
		}
	}
	if got, want := h.Get(signature.HeaderSignature), signature.JetEmailSignature(newSec, body); got != want {
		t.Errorf("X-Webhook-Signature = %s, want newest secret's %s", got, want)
	}

	// A receiver with only the new secret verifies both schemes.
	res, err := mustVerifier(t, []string{newSec}, at0).Verify(h, body)
	if err != nil || !res.JetEmail || !res.Standard {
		t.Errorf("new-only verifier: %+v, %v", res, err)
	}

	// A receiver with only the old secret verifies its v1 entry. But
	// X-Webhook-Signature can hold one signature (newest secret), and
	// Verify must not ignore a present-but-mismatching header (it is
	// indistinguishable from a forgery), so the full dual-scheme delivery
	// is rejected; only the Standard Webhooks headers alone pass.
	if _, err := mustVerifier(t, []string{oldSec}, at0).Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("old-only verifier on both schemes: err = %v, want ErrInvalidSignature", err)
	}
	std := h.Clone()
	std.Del(signature.HeaderSignature)
	res, err = mustVerifier(t, []string{oldSec}, at0).Verify(std, body)
	if err != nil || !res.Standard {
		t.Errorf("old-only verifier on webhook-signature: %+v, %v", res, err)
	}

	// Receiver-side rotation: a verifier holding both accepts either.
	both := mustVerifier(t, []string{newSec, oldSec}, at0)
	for _, sec := range []string{oldSec, newSec} {
		if res, err := both.Verify(signed(t, sec), body); err != nil || !res.JetEmail || !res.Standard {
			t.Errorf("two-secret verifier: %+v, %v", res, err)
		}
	}
}

func TestTolerance(t *testing.T) {
	sec := newSecret(t)
	h := signed(t, sec)
	for _, tc := range []struct {
		name  string
		skew  time.Duration
		tol   time.Duration
		valid bool
	}{
		{"exact", 0, signature.DefaultTolerance, true},
		{"just inside late", signature.DefaultTolerance, signature.DefaultTolerance, true},
		{"just inside early", -signature.DefaultTolerance, signature.DefaultTolerance, true},
		{"outside late", signature.DefaultTolerance + time.Second, signature.DefaultTolerance, false},
		{"outside early", -signature.DefaultTolerance - time.Second, signature.DefaultTolerance, false},
		{"custom tight", 2 * time.Second, time.Second, false},
		{"disabled", 1000 * time.Hour, 0, true},
		{"disabled negative", -1000 * time.Hour, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.skew)
			v := mustVerifier(t, []string{sec}, signature.WithTolerance(tc.tol), signature.WithClock(func() time.Time { return now }))
			_, err := v.Verify(h, body)
			if tc.valid && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if !tc.valid && !errors.Is(err, signature.ErrTimestampOutOfTolerance) {
				t.Fatalf("err = %v, want ErrTimestampOutOfTolerance", err)
			}
		})
	}
}

// Timestamps at the int64 extremes must be rejected, not wrap around into
// the tolerance window.
func TestToleranceExtremes(t *testing.T) {
	sec := newSecret(t)
	key, _ := signature.DecodeSecret(sec)
	v := mustVerifier(t, []string{sec}, signature.WithClock(func() time.Time { return time.Unix(-1<<62, 0) }))
	for _, ts := range []int64{0, 1<<63 - 1} {
		h := http.Header{}
		h.Set(signature.StdHeaderID, "evt_1")
		h.Set(signature.StdHeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(signature.StdHeaderSignature, signature.StandardSignature(key, "evt_1", ts, body))
		if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrTimestampOutOfTolerance) {
			t.Errorf("ts %d: err = %v, want ErrTimestampOutOfTolerance", ts, err)
		}
	}
}

func TestTamperedBody(t *testing.T) {
	sec := newSecret(t)
	h := signed(t, sec)
	tampered := []byte(strings.Replace(jetBody, "delivered", "bounced", 1))
	if _, err := mustVerifier(t, []string{sec}, at0).Verify(h, tampered); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Fatalf("err = %v, want ErrInvalidSignature", err)
	}
}

func TestWrongSecret(t *testing.T) {
	h := signed(t, newSecret(t))
	if _, err := mustVerifier(t, []string{newSecret(t)}, at0).Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Fatalf("err = %v, want ErrInvalidSignature", err)
	}
}

// A present-but-wrong scheme fails the whole verification even when the
// other scheme is valid: otherwise an attacker's header would be silently
// ignored and code reading it (or the Result) could be misled.
func TestForgedHeaderRejected(t *testing.T) {
	sec := newSecret(t)
	v := mustVerifier(t, []string{sec}, at0)
	forged := signature.JetEmailSignature("attacker", body)

	h := signed(t, sec)
	h.Set(signature.HeaderSignature, forged)
	if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("forged JetEmail + valid std: err = %v, want ErrInvalidSignature", err)
	}

	h = signed(t, sec)
	h.Set(signature.StdHeaderSignature, "v1,"+strings.Repeat("A", 43)+"=")
	if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("forged std + valid JetEmail: err = %v, want ErrInvalidSignature", err)
	}

	// Standard Webhooks binds id and timestamp: changing either breaks it.
	h = signed(t, sec)
	h.Set(signature.StdHeaderID, "evt_other")
	if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("changed webhook-id: err = %v, want ErrInvalidSignature", err)
	}
	h = signed(t, sec)
	h.Set(signature.StdHeaderTimestamp, strconv.FormatInt(t0.Unix()+1, 10))
	if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("changed webhook-timestamp: err = %v, want ErrInvalidSignature", err)
	}

	// JetEmail comparison is over the full string: uppercase hex fails.
	h = signed(t, sec)
	h.Set(signature.HeaderSignature, "sha256="+strings.ToUpper(strings.TrimPrefix(h.Get(signature.HeaderSignature), "sha256=")))
	if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("uppercase hex: err = %v, want ErrInvalidSignature", err)
	}
}

// Unknown signature versions are skipped; a list with no v1 entry fails.
func TestStandardSignatureList(t *testing.T) {
	sec := newSecret(t)
	v := mustVerifier(t, []string{sec}, at0)
	h := signed(t, sec)
	h.Del(signature.HeaderSignature)
	good := h.Get(signature.StdHeaderSignature)

	h.Set(signature.StdHeaderSignature, "v1a,c29tZXRoaW5n v1,bogus  "+good+" v2,x")
	if res, err := v.Verify(h, body); err != nil || !res.Standard {
		t.Errorf("mixed list: %+v, %v", res, err)
	}
	h.Set(signature.StdHeaderSignature, "v1a,"+strings.TrimPrefix(good, "v1,"))
	if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("no v1 entry: err = %v, want ErrInvalidSignature", err)
	}
}

func TestMissingHeaders(t *testing.T) {
	sec := newSecret(t)
	v := mustVerifier(t, []string{sec}, at0)

	if _, err := v.Verify(http.Header{}, body); !errors.Is(err, signature.ErrMissingHeaders) {
		t.Errorf("no headers: err = %v, want ErrMissingHeaders", err)
	}
	for _, drop := range []string{signature.HeaderTimestamp, signature.StdHeaderTimestamp, signature.StdHeaderID} {
		h := signed(t, sec)
		h.Del(drop)
		if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrMissingHeaders) {
			t.Errorf("without %s: err = %v, want ErrMissingHeaders", drop, err)
		}
	}
	// X-Webhook-ID is not required: JetEmail's SDKs never check it.
	h := signed(t, sec)
	h.Del(signature.HeaderID)
	if _, err := v.Verify(h, body); err != nil {
		t.Errorf("without X-Webhook-ID: %v", err)
	}
}

func TestGarbageTimestamp(t *testing.T) {
	sec := newSecret(t)
	v := mustVerifier(t, []string{sec}, at0, signature.WithTolerance(0))
	for _, hdr := range []string{signature.HeaderTimestamp, signature.StdHeaderTimestamp} {
		for _, bad := range []string{"abc", "1704825600.5", "+1704825600", "-1", " 1704825600", "0x10", "99999999999999999999", "2024-01-09T18:40:00Z"} {
			h := signed(t, sec)
			h.Set(hdr, bad)
			if _, err := v.Verify(h, body); !errors.Is(err, signature.ErrInvalidTimestamp) {
				t.Errorf("%s=%q: err = %v, want ErrInvalidTimestamp", hdr, bad, err)
			}
		}
	}
}

// Header lookups must be case-insensitive: Sign writes canonical keys, and
// receivers behind proxies may see any casing.
func TestHeaderCanonicalization(t *testing.T) {
	sec := newSecret(t)
	h := signed(t, sec)
	for _, k := range []string{"X-Webhook-Id", "X-Webhook-Timestamp", "X-Webhook-Signature", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
		if _, ok := h[k]; !ok {
			t.Errorf("Sign did not set canonical key %q", k)
		}
	}
	if _, err := mustVerifier(t, []string{sec}, at0).Verify(h, body); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	sec := newSecret(t)
	s := mustSigner(t, sec)
	v := mustVerifier(t, []string{sec}, at0)
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 200 {
				b := []byte(strconv.Itoa(g*1000 + i))
				h := http.Header{}
				s.Sign(h, "evt_"+string(b), t0, b)
				if _, e := v.Verify(h, b); e != nil && err == nil {
					err = e
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
