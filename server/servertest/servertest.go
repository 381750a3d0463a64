// Package servertest starts a real jetwebhooks server in process for other
// packages' tests: a fresh SQLite database, loopback egress allowed, no rate
// limit, logs discarded, and every API response checked against openapi.yaml
// (a response the spec does not describe fails the test that caused it). It
// is a regular (non-_test) package so any test can import it.
//
// Start it, then talk to it with the client and the key it created:
//
//	url, boot := servertest.Start(t, "ing_test")
//	c, err := client.New(url, boot.APIKey, client.WithIngestToken("ing_test"))
package servertest

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/server"
)

// Start serves a server on a loopback port until the test ends and returns
// its base URL and what its first start created (an account and its key).
// Producers authenticate with ingestToken.
func Start(t testing.TB, ingestToken string) (url string, boot *server.Bootstrap) {
	t.Helper()
	st, err := server.OpenStore(t.Context(), filepath.Join(t.TempDir(), "t.db"), "NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(t.Context(), server.Config{
		IngestToken: ingestToken, SecretKey: make([]byte, 32), RateLimit: -1, Logger: slog.New(slog.DiscardHandler),
		EgressAllow:         []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		OnContractViolation: func(v server.ContractViolation) { t.Errorf("contract violation: %s", v) },
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), srv.Bootstrap
}
