package egress_test

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"code.dny.dev/ssrf"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
)

// assertRefused checks that err is a refusal: it wraps the sentinel and its
// message is a single line that mentions want.
func assertRefused(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want a refusal mentioning %q", want)
	}
	if !errors.Is(err, egress.ErrForbiddenDestination) {
		t.Fatalf("error %q does not wrap ErrForbiddenDestination", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q spans several lines", err)
	}
}

// forbiddenAddrs covers every range family the policy must refuse, with the
// words the refusal should use. It is shared by the AllowAddr and Control
// tests.
var forbiddenAddrs = []struct {
	addr string
	want string
}{
	// IPv4
	{"0.0.0.0", "unspecified"},
	{"0.1.2.3", "unspecified"},
	{"10.0.0.1", "private"},
	{"10.255.255.255", "private"},
	{"172.16.0.1", "private"},
	{"172.31.255.255", "private"},
	{"192.168.0.1", "private"},
	{"192.168.255.255", "private"},
	{"100.64.0.1", "carrier-grade NAT"},
	{"100.127.255.255", "carrier-grade NAT"},
	{"127.0.0.1", "loopback"},
	{"127.255.255.254", "loopback"},
	{"169.254.169.254", "link-local"}, // cloud metadata
	{"169.254.0.1", "link-local"},
	{"192.0.0.1", "special-purpose"},
	{"192.0.0.170", "special-purpose"},
	{"192.0.2.1", "documentation"},
	{"198.51.100.7", "documentation"},
	{"203.0.113.9", "documentation"},
	{"198.18.0.1", "benchmarking"},
	{"198.19.255.255", "benchmarking"},
	{"192.88.99.1", "special-purpose"},
	{"192.31.196.1", "special-purpose"},
	{"192.52.193.1", "special-purpose"},
	{"192.175.48.1", "special-purpose"},
	{"224.0.0.1", "multicast"},
	{"239.255.255.250", "multicast"},
	{"240.0.0.1", "reserved"},
	{"254.255.255.255", "reserved"},
	{"255.255.255.255", "broadcast"},

	// IPv6
	{"::", "unspecified"},
	{"::1", "loopback"},
	{"fe80::1", "link-local"},
	{"fe80::1%eth0", "link-local"}, // zones must not hide the address
	{"febf:ffff::1", "link-local"},
	{"fc00::1", "private"},
	{"fd12:3456:789a::1", "private"},
	{"fec0::1", "private"},
	{"ff02::1", "multicast"},
	{"ff05::1:3", "multicast"},
	{"2001:db8::1", "documentation"},
	{"3fff::1", "documentation"},
	{"2001::1", "Teredo"},
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
	{"2001:2::1", "benchmarking"},
	{"2001:20::1", "special-purpose"}, // ORCHIDv2
	{"2620:4f:8000::1", "special-purpose"},
	{"100::1", "reserved"},
	{"5f00::1", "reserved"},
	{"4000::1", "outside the global unicast range"},
	{"e000::1", "outside the global unicast range"},

	// IPv4-mapped IPv6: judged as the embedded IPv4 address.
	{"::ffff:127.0.0.1", "loopback"},
	{"::ffff:7f00:1", "loopback"},
	{"::ffff:10.0.0.1", "private"},
	{"::ffff:169.254.169.254", "link-local"},
	{"::ffff:0.0.0.0", "unspecified"},
	{"::ffff:100.64.0.1", "carrier-grade NAT"},

	// IPv4-compatible ::/96 (deprecated): refused, naming the embedded
	// address when it is itself forbidden.
	{"::127.0.0.1", "IPv4-compatible IPv6 address that embeds a loopback"},
	{"::10.0.0.1", "embeds a private"},
	{"::93.184.216.34", "IPv4-compatible"},
	// SIIT ::ffff:0:0:0/96 and the rest of ::/8.
	{"::ffff:0:7f00:1", "reserved"},
	{"::5efe:7f00:1", "reserved"},

	// NAT64 well-known prefix: the embedded IPv4 address decides.
	{"64:ff9b::127.0.0.1", "NAT64 address that embeds a loopback"},
	{"64:ff9b::7f00:1", "embeds a loopback"},
	{"64:ff9b::a00:1", "embeds a private"},
	{"64:ff9b::a9fe:a9fe", "embeds a link-local"},
	{"64:ff9b:1::1", "local-use NAT64"},
	{"64:ff9b:ffff::1", "reserved"},

	// 6to4 (deprecated): refused, naming the embedded address when forbidden.
	{"2002:7f00:1::1", "6to4 address that embeds a loopback"},
	{"2002:a00:1::", "embeds a private"},
	{"2002:a9fe:a9fe::1", "embeds a link-local"},
	{"2002:5db8:d822::1", "6to4"},
}

func TestAllowAddrRefusesSpecialRanges(t *testing.T) {
	p := egress.NewPolicy(nil)
	for _, tc := range forbiddenAddrs {
		t.Run(tc.addr, func(t *testing.T) {
			assertRefused(t, p.AllowAddr(netip.MustParseAddr(tc.addr)), tc.want)
		})
	}
}

// publicAddrs must be allowed. They are only checked against the policy;
// nothing in this package's tests connects to them.
var publicAddrs = []string{
	"93.184.216.34",
	"8.8.8.8",
	"1.1.1.1",
	"2606:4700::1111",
	"2001:4860:4860::8888",
	"::ffff:93.184.216.34", // mapped public
	"64:ff9b::5db8:d822",   // NAT64 of 93.184.216.34, as DNS64 synthesizes it
	// Neighbours of denied ranges, to catch off-by-one prefix lengths.
	"9.255.255.255", "11.0.0.0",
	"100.63.255.255", "100.128.0.0",
	"126.255.255.255", "128.0.0.0",
	"169.253.255.255", "169.255.0.0",
	"172.15.255.255", "172.32.0.0",
	"192.167.255.255", "192.169.0.0",
	"198.17.255.255", "198.20.0.0",
	"223.255.255.255",
	"2001:200::1", // just past 2001::/23
	"2003::1",     // just past 2002::/16
}

func TestAllowAddrPermitsPublicAddresses(t *testing.T) {
	p := egress.NewPolicy(nil)
	for _, a := range publicAddrs {
		if err := p.AllowAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("AllowAddr(%s) = %v, want nil", a, err)
		}
	}
}

// TestDenyTablesCoverIANARegistries checks that every range in the
// IANA-derived tables of code.dny.dev/ssrf is refused at both ends.
func TestDenyTablesCoverIANARegistries(t *testing.T) {
	p := egress.NewPolicy(nil)
	prefixes := append(append([]netip.Prefix{}, ssrf.IPv4DeniedPrefixes...), ssrf.IPv6DeniedPrefixes...)
	for _, pfx := range prefixes {
		for _, a := range []netip.Addr{pfx.Masked().Addr(), lastAddr(pfx)} {
			if err := p.AllowAddr(a); !errors.Is(err, egress.ErrForbiddenDestination) {
				t.Errorf("AllowAddr(%s) (in %s) = %v, want refusal", a, pfx, err)
			}
		}
	}
}

func lastAddr(pfx netip.Prefix) netip.Addr {
	b := pfx.Masked().Addr().AsSlice()
	for i := pfx.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestAllowListOpensRanges(t *testing.T) {
	p := egress.NewPolicy([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	})
	for _, a := range []string{"127.0.0.1", "127.1.2.3", "::ffff:127.0.0.1", "::ffff:7f00:2", "::1"} {
		if err := p.AllowAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("AllowAddr(%s) = %v, want nil (allow-listed)", a, err)
		}
	}
	// Opening loopback opens nothing else, and not other spellings that
	// route elsewhere (NAT64 and IPv4-compatible go through a gateway or
	// nowhere, not to the local host).
	for _, tc := range []struct{ addr, want string }{
		{"10.0.0.1", "private"},
		{"169.254.169.254", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"64:ff9b::7f00:1", "NAT64"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"2002:7f00:1::", "6to4"},
	} {
		assertRefused(t, p.AllowAddr(netip.MustParseAddr(tc.addr)), tc.want)
	}
}

func TestAllowListNormalisesPrefixes(t *testing.T) {
	allow := []netip.Prefix{
		netip.MustParsePrefix("::ffff:10.0.0.0/104"), // mapped spelling of 10.0.0.0/8
		netip.MustParsePrefix("192.168.1.77/24"),     // host bits are masked
		{},                                           // invalid: ignored
	}
	p := egress.NewPolicy(allow)
	for _, a := range []string{"10.1.2.3", "::ffff:10.1.2.3", "192.168.1.1"} {
		if err := p.AllowAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("AllowAddr(%s) = %v, want nil", a, err)
		}
	}
	assertRefused(t, p.AllowAddr(netip.MustParseAddr("192.168.2.1")), "private")

	// The policy must not alias the caller's slice.
	allow[0] = netip.MustParsePrefix("0.0.0.0/0")
	assertRefused(t, p.AllowAddr(netip.MustParseAddr("127.0.0.1")), "loopback")
}

func TestZeroPolicyIsDefaultDeny(t *testing.T) {
	var nilPolicy *egress.Policy
	for name, p := range map[string]*egress.Policy{"nil": nilPolicy, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			assertRefused(t, p.AllowAddr(netip.MustParseAddr("127.0.0.1")), "loopback")
			assertRefused(t, p.CheckURL("http://10.0.0.1/"), "private")
			if err := p.AllowAddr(netip.MustParseAddr("93.184.216.34")); err != nil {
				t.Errorf("AllowAddr(public) = %v", err)
			}
		})
	}
}

func TestAllowAddrRefusesInvalidAddr(t *testing.T) {
	assertRefused(t, egress.NewPolicy(nil).AllowAddr(netip.Addr{}), "not a valid IP address")
}

func TestAllowAddrMessage(t *testing.T) {
	err := egress.NewPolicy(nil).AllowAddr(netip.MustParseAddr("169.254.169.254"))
	want := "169.254.169.254 is a link-local address, which webhooks may not reach"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestParsePrefixes(t *testing.T) {
	good := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"127.0.0.0/8,::1/128", []string{"127.0.0.0/8", "::1/128"}},
		{" 127.0.0.0/8 ,  ::1/128 ", []string{"127.0.0.0/8", "::1/128"}},
		{"127.0.0.0/8,", []string{"127.0.0.0/8"}},
		{"10.0.0.1", []string{"10.0.0.1/32"}},
		{"::1", []string{"::1/128"}},
		{"fd00::/8, 192.168.0.0/16", []string{"fd00::/8", "192.168.0.0/16"}},
	}
	for _, tc := range good {
		got, err := egress.ParsePrefixes(tc.in)
		if err != nil {
			t.Errorf("ParsePrefixes(%q) error: %v", tc.in, err)
			continue
		}
		var gotS []string
		for _, p := range got {
			gotS = append(gotS, p.String())
		}
		if strings.Join(gotS, ",") != strings.Join(tc.want, ",") || (tc.want == nil) != (got == nil) {
			t.Errorf("ParsePrefixes(%q) = %v, want %v", tc.in, gotS, tc.want)
		}
	}

	bad := []struct{ in, mention string }{
		{"localhost", `"localhost"`},
		{"127.0.0.0/8,bogus", `"bogus"`},
		{"127.0.0.0/33", `"127.0.0.0/33"`},
		{"::1/129", `"::1/129"`},
		{"10.1.2.3/8", `did you mean "10.0.0.0/8"`},
		{"fe80::1%eth0", `"fe80::1%eth0"`},
		{"127.0.0.0 /8", `"127.0.0.0 /8"`},
		{"1.2.3", `"1.2.3"`},
	}
	for _, tc := range bad {
		got, err := egress.ParsePrefixes(tc.in)
		if err == nil {
			t.Errorf("ParsePrefixes(%q) = %v, want error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParsePrefixes(%q) error %q does not mention %s", tc.in, err, tc.mention)
		}
	}
}

// TestPolicyConcurrentUse exercises a shared Policy from many goroutines;
// run with -race to make it meaningful.
func TestPolicyConcurrentUse(t *testing.T) {
	p := egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 200 {
				_ = p.AllowAddr(netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)}))
				_ = p.CheckURL("http://127.0.0.1:8080/")
				_ = p.Control("tcp4", "127.0.0.1:80", nil)
			}
		})
	}
	wg.Wait()
}
