// Package egress decides where webhook deliveries may go.
//
// A webhook URL is chosen by a customer, but the request is sent from the
// operator's network. Without a guard, a customer could point a webhook at
// 127.0.0.1, 10.0.0.0/8 or the cloud metadata service on 169.254.169.254 and
// use the delivery worker to reach (and read responses from) systems that are
// meant to be private. This is server-side request forgery (SSRF).
//
// The guard is on by default and works in two places:
//
//   - [Policy.CheckURL] runs when a webhook URL is created or updated. It
//     rejects malformed URLs and URLs whose host is a literal forbidden IP
//     address (in any spelling that HTTP clients and resolvers accept), so the
//     customer gets a clear error early. It does no DNS lookups: an answer
//     obtained now says nothing about the answer at delivery time.
//   - [Policy.Control] runs inside the dialer, on the exact address the
//     connection is about to be made to, after DNS resolution. This is the
//     check that matters: it cannot be bypassed by DNS rebinding, by a
//     hostname that resolves to a private address, or by a redirect (and
//     redirects are not followed anyway). [Policy.NewClient] and
//     [Policy.NewTransport] install it.
//
// Operators can open specific ranges (for example 127.0.0.0/8 for local
// development and tests) with an allow list; it is checked before the deny
// rules. There is deliberately no switch that turns the guard off.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"code.dny.dev/ssrf"
)

// ErrDestinationRefused is the sentinel wrapped by every refusal from this
// package: from [Policy.CheckURL], [Policy.AllowAddr] and [Policy.Control],
// and, for requests made with [Policy.NewClient] or [Policy.NewTransport],
// from a host name that cannot be resolved. Test for it with [errors.Is]
// (it works through *url.Error and *net.OpError); the concrete error is a
// [*RefusedError].
var ErrDestinationRefused = errors.New("egress: webhook destination refused")

// ErrForbiddenDestination is the former name of [ErrDestinationRefused].
//
// Deprecated: use ErrDestinationRefused; the two are the same value.
var ErrForbiddenDestination = ErrDestinationRefused

// RefusedMessage is the one sentence an API client is shown for any refusal
// (and that the delivery history records). A forbidden address, a name that
// does not resolve, a bad scheme or port all read the same, so the service
// cannot be used to learn which internal names exist or where they point.
// The reason goes to the operator's log (see [RefusedError]).
const RefusedMessage = "The webhook URL's destination is not allowed or not reachable."

// RefusedError is the error behind every refusal. Its message (Reason) says
// exactly why, for the operator's log; it may name the address or the host,
// so never show it to an API client: show [RefusedMessage].
type RefusedError struct {
	// Reason is one sentence for the log.
	Reason string
	// Err is the underlying failure (a *net.DNSError for an unresolvable
	// name), or nil.
	Err error
}

func (e *RefusedError) Error() string { return e.Reason }

// Unwrap makes both [ErrDestinationRefused] and the underlying failure
// reachable with errors.Is and errors.As.
func (e *RefusedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrDestinationRefused}
	}
	return []error{ErrDestinationRefused, e.Err}
}

func refuse(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// Policy is an egress policy: the built-in deny rules plus an operator
// allow list. A Policy is immutable after construction and safe for
// concurrent use. The zero value (and a nil *Policy) applies the deny rules
// with an empty allow list.
type Policy struct {
	// allow holds masked prefixes. IPv4-mapped IPv6 prefixes are stored as
	// plain IPv4 prefixes, because addresses are unmapped before they are
	// matched: an allow of 127.0.0.0/8 must also cover ::ffff:127.0.0.1, and
	// an allow written as ::ffff:127.0.0.0/104 must cover 127.0.0.1.
	allow []netip.Prefix
}

// NewPolicy returns a policy that refuses every non-public destination
// except those inside allow. The allow list is checked before the deny rules,
// so it can open any range, including loopback (e.g. 127.0.0.0/8 and ::1/128
// for local development and tests). IPv4 prefixes also apply to the
// IPv4-mapped IPv6 form of their addresses. Invalid prefixes are ignored. The
// slice is copied; later changes to it do not affect the policy.
func NewPolicy(allow []netip.Prefix) *Policy {
	p := &Policy{}
	for _, pfx := range allow {
		if !pfx.IsValid() {
			continue
		}
		p.allow = append(p.allow, normalizePrefix(pfx))
	}
	return p
}

// normalizePrefix masks pfx and turns a prefix that lies inside
// ::ffff:0:0/96 into the equivalent IPv4 prefix.
func normalizePrefix(pfx netip.Prefix) netip.Prefix {
	pfx = pfx.Masked()
	if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx
}

// AllowAddr reports whether ip may be dialled: nil if it may, otherwise an
// error wrapping [ErrDestinationRefused] that names the kind of address.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry, and
// IPv6 zones are ignored.
func (p *Policy) AllowAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return refuse("the address is not a valid IP address, so webhooks may not reach it")
	}
	if what := p.verdict(ip); what != "" {
		return refuse("%s is %s, which webhooks may not reach", ip, what)
	}
	return nil
}

// verdict returns "" if ip may be dialled, or a noun phrase ("a loopback
// address") describing why it may not. It is the single decision point
// shared by CheckURL, AllowAddr and Control.
func (p *Policy) verdict(ip netip.Addr) string {
	// A zoned address never matches a netip.Prefix, so leaving the zone on
	// would make fe80::1%eth0 slip past the link-local rule. Unmapping first
	// means ::ffff:10.0.0.1 is judged exactly like 10.0.0.1: that is what the
	// kernel will actually connect to.
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return "an invalid address" // fail closed
	}
	if p != nil {
		for _, pfx := range p.allow {
			if pfx.Contains(ip) {
				return ""
			}
		}
	}
	if ip.Is4() {
		return classify4(ip)
	}
	return classify6(ip)
}

// Noun phrases used in refusal reasons. They go to the operator's log;
// clients see RefusedMessage.
const (
	whatUnspecified = "an unspecified address"
	whatLoopback    = "a loopback address"
	whatPrivate     = "a private-network address"
	whatLinkLocal   = "a link-local address"
	whatCGNAT       = "a carrier-grade NAT (shared) address"
	whatMulticast   = "a multicast address"
	whatBroadcast   = "a broadcast address"
	whatDocs        = "a documentation-only address"
	whatBenchmark   = "a benchmarking address"
	whatReserved    = "a reserved address"
	whatSpecial     = "a special-purpose address"
	whatTeredo      = "a Teredo tunnel address"
	whatNAT64Local  = "a local-use NAT64 address"
	whatNonGlobal6  = "an IPv6 address outside the global unicast range"
)

// rule is one row of the deny tables.
type rule struct {
	prefix netip.Prefix
	what   string
}

func deny(prefix, what string) rule { return rule{netip.MustParsePrefix(prefix), what} }

// v4Rules are the IPv4 ranges no webhook may reach. They follow the IANA
// IPv4 Special-Purpose Address Registry (RFC 6890 and updates) plus
// multicast and the class E block. First match wins, so more specific rows
// come first. The ssrf.IPv4DeniedPrefixes table is also consulted afterwards
// (see classify4), so a range IANA adds later is refused once that module is
// updated, even before this table is.
var v4Rules = []rule{
	// On Linux, connecting to 0.0.0.0 reaches the local host, so "this
	// network" is as dangerous as loopback.
	deny("0.0.0.0/8", whatUnspecified),
	deny("10.0.0.0/8", whatPrivate),
	deny("100.64.0.0/10", whatCGNAT),
	deny("127.0.0.0/8", whatLoopback),
	// Includes 169.254.169.254, the metadata service of most clouds, which
	// hands out credentials to anything that asks.
	deny("169.254.0.0/16", whatLinkLocal),
	deny("172.16.0.0/12", whatPrivate),
	deny("192.0.0.0/24", whatSpecial), // IETF protocol assignments
	deny("192.0.2.0/24", whatDocs),    // TEST-NET-1
	deny("192.31.196.0/24", whatSpecial),
	deny("192.52.193.0/24", whatSpecial),
	deny("192.88.99.0/24", whatSpecial), // deprecated 6to4 relay anycast
	deny("192.168.0.0/16", whatPrivate),
	deny("192.175.48.0/24", whatSpecial),
	deny("198.18.0.0/15", whatBenchmark),
	deny("198.51.100.0/24", whatDocs), // TEST-NET-2
	deny("203.0.113.0/24", whatDocs),  // TEST-NET-3
	deny("224.0.0.0/4", whatMulticast),
	deny("255.255.255.255/32", whatBroadcast), // before 240/4 for a precise message
	deny("240.0.0.0/4", whatReserved),
}

// IPv6 prefixes whose addresses carry an IPv4 address; see classify6.
var (
	v6Unspecified = netip.IPv6Unspecified()
	v6Loopback    = netip.IPv6Loopback()
	v6Compat      = netip.MustParsePrefix("::/96")        // IPv4-compatible, deprecated (RFC 4291)
	v6NAT64       = netip.MustParsePrefix("64:ff9b::/96") // NAT64 well-known prefix (RFC 6052)
	v6SixToFour   = netip.MustParsePrefix("2002::/16")    // 6to4, deprecated (RFC 3056, RFC 7526)
	v6Global      = netip.MustParsePrefix("2000::/3")     // global unicast
)

// v6Rules are the IPv6 ranges no webhook may reach, after the
// IPv4-carrying forms have been handled. They follow the IANA IPv6
// Special-Purpose Address Registry; anything outside 2000::/3 that no row
// names is refused as well.
var v6Rules = []rule{
	// Local-use NAT64 prefixes (RFC 8215) put the IPv4 address at an
	// operator-chosen position, so it can't be decoded reliably: refuse.
	deny("64:ff9b:1::/48", whatNAT64Local),
	// ::/8 holds every other API-level spelling of an IPv4 address in IPv6
	// (SIIT ::ffff:0:a.b.c.d, and so on). Nothing routable lives here.
	deny("::/8", whatReserved),
	deny("100::/64", whatReserved), // discard-only
	// Teredo tunnels to the obfuscated IPv4 address in the low 32 bits; we
	// can't vouch for where the traffic ends up, and no real webhook
	// receiver needs it. Must come before 2001::/23.
	deny("2001::/32", whatTeredo),
	deny("2001:2::/48", whatBenchmark),
	deny("2001:db8::/32", whatDocs),
	deny("2001::/23", whatSpecial), // IETF protocol assignments
	deny("2620:4f:8000::/48", whatSpecial),
	deny("3fff::/20", whatDocs),
	deny("5f00::/16", whatReserved), // SRv6 SIDs
	deny("fc00::/7", whatPrivate),   // unique local addresses
	deny("fe80::/10", whatLinkLocal),
	deny("fec0::/10", whatPrivate), // deprecated site-local
	deny("ff00::/8", whatMulticast),
}

// backstop is the IANA-registry-derived guard from code.dny.dev/ssrf. It is
// consulted after our own tables, so that our tables give precise messages
// while the generated registry catches anything they might miss after an
// update. Only SafeAddr is used: the port and network checks of the
// Guardian do not apply (webhooks may use any port).
var backstop = ssrf.New(ssrf.WithAnyPort())

func match(rules []rule, ip netip.Addr) string {
	for _, rl := range rules {
		if rl.prefix.Contains(ip) {
			return rl.what
		}
	}
	return ""
}

// classify4 returns why the IPv4 address ip is forbidden, or "".
func classify4(ip netip.Addr) string {
	if what := match(v4Rules, ip); what != "" {
		return what
	}
	if backstop.SafeAddr(ip) != nil {
		return whatSpecial
	}
	return ""
}

// classify6 returns why the (unmapped) IPv6 address ip is forbidden, or "".
//
// Several IPv6 forms carry an IPv4 address that decides where the packet
// really goes. Their embedded address is checked with the IPv4 rules so the
// refusal can say "embeds a loopback address". Only the NAT64 well-known
// prefix is then allowed for a public embedded address: with DNS64, every
// IPv4-only receiver resolves to 64:ff9b::/96 on an IPv6-only host, so
// refusing the prefix wholesale would break all delivery there. The
// deprecated IPv4-compatible and 6to4 forms are refused whatever they carry.
func classify6(ip netip.Addr) string {
	b := ip.As16()
	switch {
	case ip == v6Unspecified:
		return whatUnspecified
	case ip == v6Loopback:
		return whatLoopback
	case v6NAT64.Contains(ip):
		if what := classify4(netip.AddrFrom4([4]byte(b[12:16]))); what != "" {
			return "a NAT64 address that embeds " + what
		}
		return ""
	case v6Compat.Contains(ip):
		if what := classify4(netip.AddrFrom4([4]byte(b[12:16]))); what != "" {
			return "an IPv4-compatible IPv6 address that embeds " + what
		}
		return "an IPv4-compatible IPv6 address"
	case v6SixToFour.Contains(ip):
		if what := classify4(netip.AddrFrom4([4]byte(b[2:6]))); what != "" {
			return "a 6to4 address that embeds " + what
		}
		return "a 6to4 tunnel address"
	}
	if what := match(v6Rules, ip); what != "" {
		return what
	}
	if !v6Global.Contains(ip) {
		return whatNonGlobal6
	}
	if backstop.SafeAddr(ip) != nil {
		return whatSpecial
	}
	return ""
}

// ParsePrefixes parses an operator list of address ranges (the egress allow
// list, the trusted proxies) such as
// "127.0.0.0/8, ::1/128". Entries are separated by commas and surrounding
// spaces are trimmed; empty entries are skipped, so "" yields nil. A bare IP
// address means that single address (/32 or /128). A prefix with host bits
// set (e.g. "10.1.2.3/8") is rejected rather than silently widened, because
// in an allow list a typo opens more of the network than intended. Errors
// name the entry; callers prefix the flag.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if !strings.Contains(entry, "/") {
			addr, err := netip.ParseAddr(entry)
			if err != nil || addr.Zone() != "" {
				return nil, fmt.Errorf("entry %q is not an IP address or CIDR prefix (e.g. 127.0.0.0/8 or ::1)", entry)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("entry %q is not a valid CIDR prefix (e.g. 127.0.0.0/8 or ::1/128)", entry)
		}
		if m := pfx.Masked(); m != pfx {
			return nil, fmt.Errorf("entry %q has host bits set; did you mean %q?", entry, m.String())
		}
		out = append(out, pfx)
	}
	return out, nil
}
