package egress_test

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
)

func TestCheckURLRefusesForbiddenLiterals(t *testing.T) {
	p := egress.NewPolicy(nil)
	cases := []struct{ url, want string }{
		// Plain IPv4, one per range family.
		{"http://127.0.0.1/", "loopback"},
		{"https://127.0.0.1:8443/hook", "loopback"},
		{"http://10.0.0.1/", "private"},
		{"http://172.16.0.1/", "private"},
		{"http://192.168.1.1:8080/", "private"},
		{"http://100.64.0.1/", "carrier-grade NAT"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://0.0.0.0:8080/", "unspecified"},
		{"http://224.0.0.1/", "multicast"},
		{"http://255.255.255.255/", "broadcast"},
		{"http://240.0.0.1/", "reserved"},
		{"http://192.0.2.1/", "documentation"},
		{"http://198.18.0.1/", "benchmarking"},
		{"http://192.0.0.8/", "special-purpose"},

		// IPv6 literals.
		{"http://[::1]/", "loopback"},
		{"http://[::1]:8080/hook", "loopback"},
		{"http://[::]/", "unspecified"},
		{"http://[fe80::1%25eth0]:8080/", "link-local"},
		{"http://[FE80::1]/", "link-local"},
		{"http://[fd00::1]/", "private"},
		{"http://[ff02::1]/", "multicast"},
		{"http://[2001:db8::1]/", "documentation"},
		{"http://[2001::1]/", "Teredo"},
		{"http://[4000::1]/", "global unicast"},

		// IPv4-mapped, IPv4-compatible, NAT64, 6to4.
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[::ffff:7f00:1]/", "loopback"},
		{"http://[0:0:0:0:0:ffff:169.254.169.254]/", "link-local"},
		{"http://[::127.0.0.1]/", "IPv4-compatible"},
		{"http://[64:ff9b::127.0.0.1]/", "NAT64 address that embeds a loopback"},
		{"http://[64:ff9b::a9fe:a9fe]/", "embeds a link-local"},
		{"http://[2002:7f00:1::]/", "6to4"},

		// Legacy inet_aton spellings.
		{"http://2130706433/", "loopback"},       // 127.0.0.1 as one decimal
		{"http://0x7f000001/", "loopback"},       // ... as one hex number
		{"http://017700000001/", "loopback"},     // ... as one octal number
		{"http://0x7f.1/", "loopback"},           // two parts, hex
		{"http://0X7F.1/", "loopback"},           // upper-case hex prefix
		{"http://0177.0.0.1/", "loopback"},       // octal first byte
		{"http://0x7f.0x0.0x0.0x1/", "loopback"}, // four hex parts
		{"http://127.1/", "loopback"},            // two parts
		{"http://127.0.1/", "loopback"},          // three parts
		{"http://127.000.000.001/", "loopback"},  // zero-padded (octal zeros)
		{"http://0/", "unspecified"},             // 0.0.0.0
		{"http://0xa9fea9fe/", "link-local"},     // 169.254.169.254
		{"http://169.254.43518/", "link-local"},  // 169.254.169.254, three parts
		{"http://10.1/", "private"},              // 10.0.0.1
		{"http://3232235777:8080/", "private"},   // 192.168.1.1

		// Trailing dot and Unicode forms that net/http normalises.
		{"http://127.0.0.1./", "loopback"},
		{"http://2130706433./", "loopback"},
		{"http://１２７.０.０.１/", "loopback"}, // full-width digits
		{"http://127。0。0。1/", "loopback"}, // ideographic full stops

		// localhost names.
		{"http://localhost/", "loopback"},
		{"http://LOCALHOST:8080/", "loopback"},
		{"http://localhost./", "loopback"},
		{"http://api.localhost/", "loopback"},
		{"http://a.b.localhost:3000/x", "loopback"},
		{"http://localhost.localdomain/", "loopback"},
		{"http://ｌｏｃａｌｈｏｓｔ/", "loopback"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			assertRefused(t, p.CheckURL(tc.url), tc.want)
		})
	}
}

func TestCheckURLRejectsMalformed(t *testing.T) {
	p := egress.NewPolicy(nil)
	const (
		notURL      = "url is not a valid URL"
		notAbsolute = "url must be absolute and start with http:// or https://"
		badScheme   = "url must use http or https"
		noHost      = "url must include a host"
		userinfo    = "url must not contain a username or password"
		badPort     = "url port must be a number from 1 to 65535"
		badHost     = "url host is not a valid hostname or IP address"
	)
	cases := []struct{ url, want string }{
		{"", notAbsolute},
		{"ftp://example.com/hook", badScheme},
		{"file:///etc/passwd", badScheme},
		{"gopher://example.com/", badScheme},
		{"ws://example.com/", badScheme},
		{"javascript:alert(1)", badScheme},
		{"/relative/path", notAbsolute},
		{"example.com/hook", notAbsolute},
		{"//example.com/hook", notAbsolute},
		{"http://", noHost},
		{"https:///path", noHost},
		{"http:example.com", noHost},
		{"http://:8080/", noHost},
		{"http://user:pass@example.com/", userinfo},
		{"https://user@example.com/", userinfo},
		{"http://example.com@127.0.0.1/", userinfo},
		{"http://example.com:0/", badPort},
		{"http://example.com:65536/", badPort},
		{"http://example.com:99999/", badPort},
		{"http://example.com:abc/", notURL},
		{"http://exa mple.com/", notURL},
		{"http://[::1/", notURL},
		{"http://::1/", notURL},
		{"http://%31%32%37.0.0.1/", notURL},
		{"http://256.0.0.1/", badHost},
		{"http://1.2.3.4.5/", badHost},
		{"http://4294967296/", badHost},
		{"http://08.0.0.1/", badHost},
		{"http://127.0.0.1../", badHost},
		{"http://example.123/", badHost},
		{"http://example.0x10/", badHost},
		{"http://a..example.com/", badHost},
		{"http://.example.com/", badHost},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			err := p.CheckURL(tc.url)
			if err == nil {
				t.Fatalf("CheckURL(%q) = nil, want %q", tc.url, tc.want)
			}
			if !errors.Is(err, egress.ErrForbiddenDestination) {
				t.Errorf("error %q does not wrap ErrForbiddenDestination", err)
			}
			if err.Error() != tc.want {
				t.Errorf("CheckURL(%q) = %q, want %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestCheckURLMessage(t *testing.T) {
	err := egress.NewPolicy(nil).CheckURL("http://127.0.0.1:9000/hook")
	const want = "url points to a loopback address, which webhooks may not reach"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestCheckURLAcceptsPublic(t *testing.T) {
	p := egress.NewPolicy(nil)
	for _, u := range []string{
		"https://example.com/hook",
		"http://example.com:8080/x?y=1#frag",
		"HTTPS://EXAMPLE.COM/",
		"http://example.com:/", // empty port means the default
		"https://hooks.example.com:65535/",
		"https://hooks.example.com:1/",
		"https://93.184.216.34/hook",
		"http://1.1.1.1:8443/",
		"http://[2606:4700::1111]:8443/",
		"http://[::ffff:93.184.216.34]/",
		"http://[64:ff9b::5db8:d822]/",
		"http://0x5db8d822/", // legacy spelling of a public address
		"https://münchen.de/hook",
		"https://xn--mnchen-3ya.de/hook",
		"http://localhost.example.com/", // not a *.localhost name
		"http://my-localhost/",
		"https://example.com./",
		"http://10.0.0.1.nip.io/", // a DNS name: checked at dial time
		"http://1e100.net/",
	} {
		if err := p.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
}

func TestCheckURLAllowList(t *testing.T) {
	v4 := egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	v6 := egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("::1/128")})
	cases := []struct {
		policy *egress.Policy
		url    string
		ok     bool
	}{
		{v4, "http://127.0.0.1:8080/hook", true},
		{v4, "http://127.0.0.2/", true},
		{v4, "http://2130706433/", true},
		{v4, "http://127.1/", true},
		{v4, "http://[::ffff:127.0.0.1]:8080/", true},
		{v4, "http://localhost:8080/", true},
		{v4, "http://[::1]/", false},
		{v4, "http://10.0.0.1/", false},
		{v4, "http://169.254.169.254/", false},
		{v6, "http://[::1]:8080/", true},
		{v6, "http://localhost/", true},
		{v6, "http://127.0.0.1/", false},
	}
	for _, tc := range cases {
		err := tc.policy.CheckURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && !errors.Is(err, egress.ErrForbiddenDestination) {
			t.Errorf("CheckURL(%q) error %q does not wrap the sentinel", tc.url, err)
		}
	}
}

// FuzzCheckURL checks that CheckURL never panics and never accepts a URL
// whose host Go's own parsers read as a forbidden IP address.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://2130706433/",
		"http://0x7f.1/", "https://example.com/", "http://[fe80::1%25eth0]/",
		"http://localhost/", "http://１２７.０.０.１/", "http://127.0.0.1./",
	} {
		f.Add(s)
	}
	p := egress.NewPolicy(nil)
	f.Fuzz(func(t *testing.T, raw string) {
		if p.CheckURL(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("CheckURL accepted %q, which url.Parse rejects: %v", raw, err)
		}
		host := u.Hostname()
		if a, err := netip.ParseAddr(host); err == nil && p.AllowAddr(a) != nil {
			t.Fatalf("CheckURL accepted %q whose host %s is forbidden", raw, a)
		}
		if ip := net.ParseIP(host); ip != nil {
			if a, ok := netip.AddrFromSlice(ip); ok && p.AllowAddr(a) != nil {
				t.Fatalf("CheckURL accepted %q whose host %s is forbidden", raw, a)
			}
		}
	})
}
