package egress

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// CheckURL vets a webhook URL when it is created or updated. It requires an
// absolute http or https URL with a non-empty host, no userinfo and, if a
// port is given, a port from 1 to 65535. If the host is a literal IP address
// it must pass [Policy.AllowAddr]; that includes IPv6 literals (with or
// without a zone), IPv4-mapped IPv6, and the legacy inet_aton spellings
// such as "2130706433", "0x7f.1", "0177.0.0.1" and "127.1" that many HTTP
// clients and resolvers still turn into 127.0.0.1. The names "localhost"
// and "*.localhost" count as loopback.
//
// CheckURL does no DNS lookups: a hostname that resolves to a forbidden
// address today (or only at delivery time) is refused by [Policy.Control]
// when the connection is made. Names under .invalid, which never resolve
// (RFC 6761), are refused at once. Every error is a [*RefusedError] wrapping
// [ErrDestinationRefused]; its reason is for the log, and the API client is
// shown [RefusedMessage] whatever the reason.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's own message echoes the input and Go internals; a
		// fixed sentence is clearer for the API client.
		return refuse("url is not a valid URL")
	}
	if u.Scheme == "" {
		return refuse("url must be absolute and start with http:// or https://")
	}
	if u.Scheme != "http" && u.Scheme != "https" { // url.Parse lowercases the scheme
		return refuse("url must use http or https")
	}
	if u.Opaque != "" || u.Host == "" {
		return refuse("url must include a host")
	}
	if u.User != nil {
		// Credentials in the URL would be stored and shown in plain text,
		// and "http://trusted.example@evil/" style URLs are a classic way to
		// disguise the real host.
		return refuse("url must not contain a username or password")
	}
	host := u.Hostname()
	if host == "" {
		return refuse("url must include a host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return refuse("url port must be a number from 1 to 65535")
		}
	}
	return p.checkHost(host, strings.HasPrefix(u.Host, "["))
}

// checkHost applies the literal-address and localhost rules to a URL host
// (already stripped of brackets and port).
func (p *Policy) checkHost(host string, bracketed bool) error {
	if bracketed {
		// url.Parse has already insisted this is an IPv6 literal; zones are
		// allowed ("[fe80::1%25eth0]") and verdict ignores them.
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return refuse("url host is not a valid IP address")
		}
		return p.refuseURLAddr(addr)
	}

	// Normalise the way net/http does before it dials: it maps non-ASCII
	// hosts through IDNA lookup rules, which turn full-width digits and
	// ideographic full stops ("１２７。０。０。１") into "127.0.0.1".
	if !isASCII(host) {
		h, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return refuse("url host is not a valid hostname")
		}
		host = h
	}
	host = strings.ToLower(host)
	// A single trailing dot marks a fully qualified name and does not
	// change what "localhost." or "127.0.0.1." refer to.
	host = strings.TrimSuffix(host, ".")

	if addr, err := netip.ParseAddr(host); err == nil {
		return p.refuseURLAddr(addr)
	}
	if host == "invalid" || strings.HasSuffix(host, ".invalid") {
		return refuse("url host is under .invalid, which never resolves")
	}
	if isLocalhostName(host) {
		// localhost resolves to 127.0.0.1 and/or ::1 depending on the
		// host's configuration; accept it only if the operator opened at
		// least one of them. Control still checks every dial.
		if p.verdict(netip.AddrFrom4([4]byte{127, 0, 0, 1})) != "" && p.verdict(v6Loopback) != "" {
			return refuse("url points to %s, which webhooks may not reach", whatLoopback)
		}
		return nil
	}
	// As in the WHATWG URL standard, a host whose last label is a number is
	// an IPv4 address or nothing: no public DNS name ends in a numeric label,
	// and resolvers (getaddrinfo, inet_aton) read such hosts as addresses.
	labels := strings.Split(host, ".")
	if slices.Contains(labels, "") {
		// "a..b", ".a" or "127.0.0.1..": not a valid name, and resolvers
		// disagree on what (if anything) such a host means.
		return refuse("url host is not a valid hostname or IP address")
	}
	if isNumericLabel(labels[len(labels)-1]) {
		addr, ok := parseLegacyIPv4(labels)
		if !ok {
			return refuse("url host is not a valid hostname or IP address")
		}
		return p.refuseURLAddr(addr)
	}
	// An ordinary hostname: it is resolved and checked at dial time.
	return nil
}

func (p *Policy) refuseURLAddr(addr netip.Addr) error {
	if what := p.verdict(addr); what != "" {
		return refuse("url points to %s, which webhooks may not reach", what)
	}
	return nil
}

// isLocalhostName reports whether host (lowercase, no trailing dot) is a
// name reserved for the local host: "localhost" and "*.localhost" (RFC
// 6761), plus the loopback aliases that common Linux /etc/hosts files ship.
func isLocalhostName(host string) bool {
	switch host {
	case "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback":
		return true
	}
	return strings.HasSuffix(host, ".localhost")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isNumericLabel reports whether label is a decimal number or a 0x-prefixed
// hexadecimal number (octal numbers are decimal-looking).
func isNumericLabel(label string) bool {
	if label == "" {
		return false
	}
	digits, base := label, 10
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		digits, base = label[2:], 16
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		switch {
		case '0' <= c && c <= '9':
		case base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
		default:
			return false
		}
	}
	return true
}

// parseLegacyIPv4 parses the inet_aton forms of an IPv4 address: one to
// four parts separated by dots, each decimal, octal (leading 0) or
// hexadecimal (leading 0x), where the last part fills all remaining bytes.
// So "127.1" is 127.0.0.1, "0x7f.1" is 127.0.0.1 and "2130706433" is
// 127.0.0.1. glibc's getaddrinfo accepts these, and so do curl, browsers
// (via WHATWG URL parsing) and many HTTP client libraries.
func parseLegacyIPv4(parts []string) (netip.Addr, bool) {
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums [4]uint64
	for i, part := range parts {
		n, ok := parseLegacyNumber(part)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := len(parts) - 1
	var v uint64
	for i := 0; i < last; i++ {
		if nums[i] > 0xff {
			return netip.Addr{}, false
		}
		v = v<<8 | nums[i]
	}
	// The last part covers the remaining 4-last bytes.
	lastBits := uint(8 * (4 - last))
	if nums[last] >= 1<<lastBits {
		return netip.Addr{}, false
	}
	v = v<<lastBits | nums[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseLegacyNumber parses one inet_aton part, rejecting anything above
// 32 bits.
func parseLegacyNumber(s string) (uint64, bool) {
	base := 10
	switch {
	case s == "":
		return 0, false
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		s, base = s[2:], 16
		if s == "" {
			return 0, true // "0x" alone is zero, as in WHATWG URL parsing
		}
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseUint(s, base, 32)
	return n, err == nil
}
