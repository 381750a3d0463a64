package egress_test

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
)

// TestUnresolvableIsRefused: through the guarded client, a name that does
// not resolve is a refusal like a forbidden address (errors.Is finds
// ErrDestinationRefused through *url.Error), and the DNS error stays
// reachable for the log; the old sentinel name still matches.
func TestUnresolvableIsRefused(t *testing.T) {
	t.Parallel()
	hc := egress.NewPolicy(nil).NewClient(5 * time.Second)
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://nothing-here.invalid/hook", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a request to a name under .invalid succeeded")
	}
	if !errors.Is(err, egress.ErrDestinationRefused) || !errors.Is(err, egress.ErrForbiddenDestination) {
		t.Fatalf("error %q does not unwrap to ErrDestinationRefused", err)
	}
	var dnsErr *net.DNSError
	var refused *egress.RefusedError
	if !errors.As(err, &dnsErr) || !errors.As(err, &refused) {
		t.Fatalf("error %q: the DNS error or the RefusedError is not reachable", err)
	}
	if !strings.Contains(refused.Reason, "could not be resolved") || !strings.Contains(refused.Reason, "nothing-here.invalid") {
		t.Errorf("reason %q does not say what failed", refused.Reason)
	}
}

// TestRefusalsShareOneMessage: whatever the reason, a refusal is a
// *RefusedError whose reason differs, while RefusedMessage, the text for
// clients, names none of them.
func TestRefusalsShareOneMessage(t *testing.T) {
	t.Parallel()
	p := egress.NewPolicy(nil)
	errs := []error{
		p.CheckURL("http://10.0.0.1/"),
		p.CheckURL("http://intranet.invalid/"),
		p.CheckURL("http://INVALID./"),
		p.CheckURL("gopher://example.com/"),
		p.CheckURL("http://example.com:0/"),
		p.AllowAddr(netip.MustParseAddr("127.0.0.1")),
		p.Control("tcp4", "192.168.0.1:443", nil),
	}
	for i, err := range errs {
		var refused *egress.RefusedError
		if !errors.As(err, &refused) || !errors.Is(err, egress.ErrDestinationRefused) || refused.Reason == "" {
			t.Errorf("refusal %d: %v is not a RefusedError with a reason", i, err)
		}
	}
	for _, word := range []string{"private", "loopback", "resolve", "port", "scheme", "invalid"} {
		if strings.Contains(strings.ToLower(egress.RefusedMessage), word) {
			t.Errorf("RefusedMessage %q tells the reasons apart (%q)", egress.RefusedMessage, word)
		}
	}
	if err := p.CheckURL("https://invalid-example.com/hook"); err != nil {
		t.Errorf("a name merely containing 'invalid' is refused: %v", err)
	}
}
