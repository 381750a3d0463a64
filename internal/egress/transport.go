package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Control is a [net.Dialer] Control function that enforces the policy on
// the resolved address of every connection, just before connect(2). Because
// it sees the exact IP being dialled (after DNS), DNS rebinding and
// hostnames that resolve to private addresses cannot get past it. Only tcp4
// and tcp6 are permitted; any port is. Refusals wrap
// [ErrDestinationRefused] and, when the dial came from an [http.Client],
// can be found with errors.Is on the returned *url.Error.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return refuse("webhooks may only be delivered over TCP")
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// The dialer always passes a numeric ip:port; refuse (fail closed)
		// rather than dial something we could not check.
		return refuse("the webhook destination address could not be checked")
	}
	// The reason omits the IP, which the log line of the refusal may
	// carry beside the webhook's host; customers see only RefusedMessage.
	if what := p.verdict(ap.Addr()); what != "" {
		return refuse("the webhook destination is %s, which webhooks may not reach", what)
	}
	return nil
}

// Transport settings. Response-header and overall deadlines are left to the
// caller's http.Client timeout (see NewClient), which bounds the whole
// attempt, including a slow body.
const (
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	keepAlive           = 30 * time.Second
	idleConnTimeout     = 90 * time.Second
	// A busy delivery pool sends many concurrent requests to the same large
	// receivers; the net/http default of 2 idle connections per host would
	// make most of them open a new TCP+TLS connection.
	maxIdleConnsPerHost = 256
	maxIdleConns        = 1024
	// Receivers are untrusted; don't let one make us buffer the default
	// 10 MB of response headers.
	maxResponseHeaderBytes = 1 << 20
)

// NewTransport returns an [http.Transport] whose dialer runs
// [Policy.Control] on every connection. It never uses a proxy (not even
// from HTTP_PROXY/HTTPS_PROXY): the check runs on the address being dialled,
// and through a proxy that would be the proxy, not the webhook receiver. It
// uses a 5s dial timeout, a 5s TLS handshake timeout, TLS 1.2 or later,
// keep-alives, HTTP/2 when the server offers it, and up to 256 idle
// connections per host. Each call returns a new transport with its own
// connection pool, so create one and share it.
func (p *Policy) NewTransport() *http.Transport {
	dialer := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: keepAlive,
		Control:   p.Control,
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            guardDNS(dialer.DialContext),
		ForceAttemptHTTP2:      true, // needed because TLSClientConfig is set
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}

// guardDNS makes a failed name lookup a refusal like any other: whether a
// name resolves (to a forbidden address) or not at all must read the same to
// the customer who chose it, or the service tells him which internal names
// exist. Every lookup failure counts (not only "no such host"): a timeout
// or SERVFAIL from an internal zone says something about it too.
func guardDNS(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		var dnsErr *net.DNSError
		if err != nil && errors.As(err, &dnsErr) {
			return nil, &RefusedError{Reason: "the webhook host name could not be resolved: " + dnsErr.Error(), Err: err}
		}
		return conn, err
	}
}

// NewClient returns an [http.Client] for webhook delivery that uses
// [Policy.NewTransport] and the given overall timeout per request (0 means
// none, which delivery code should not use). It never follows redirects:
// a 3xx response is returned as-is, because for webhooks a redirect is a
// delivery failure, and following it would let a receiver steer the request
// (and its signed payload) elsewhere.
func (p *Policy) NewClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: p.NewTransport(),
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
