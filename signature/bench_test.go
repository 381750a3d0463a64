package signature_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// BenchmarkSign measures the delivery hot path. The header map is reused,
// as the allocation of a request's own header map is not Sign's cost.
func BenchmarkSign(b *testing.B) {
	for _, bc := range []struct {
		name    string
		secrets int
		body    []byte
	}{
		{"1secret/124B", 1, []byte(jetBody)},
		{"2secrets/124B", 2, []byte(jetBody)},
		{"1secret/4KiB", 1, bytes.Repeat([]byte("x"), 4<<10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			secrets := make([]string, bc.secrets)
			for i := range secrets {
				secrets[i] = newSecret(b)
			}
			s := mustSigner(b, secrets...)
			h := http.Header{}
			ts := time.Unix(1704825600, 0)
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Sign(h, "evt_abc123", ts, bc.body)
			}
		})
	}
}

// BenchmarkVerify is for comparison; the receiver side is not hot.
func BenchmarkVerify(b *testing.B) {
	sec := newSecret(b)
	h := signed(b, sec)
	v := mustVerifier(b, []string{sec}, at0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
