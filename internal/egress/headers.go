package egress

import (
	"sort"
	"strings"
)

// Custom headers: what a webhook may add to its deliveries. The API refuses
// anything else with a 400 naming the header ([CheckHeaders]); the delivery
// engine applies the same rules again ([HeaderAllowed]) and leaves out what
// they refuse, so a header stored some other way cannot get through either.
//
// The limits keep a webhook's request small (most servers refuse header
// blocks of 8 to 16 KiB, and the signature headers need room too) and the
// stored row bounded.
const (
	// MaxHeaders is how many custom headers one webhook may have.
	MaxHeaders = 20
	// MaxHeaderBytes bounds the names and values of one webhook's custom
	// headers, all added together.
	MaxHeaderBytes = 4096
	// MaxHeaderNameLen bounds one header name.
	MaxHeaderNameLen = 256
)

// HeaderProblem is why one custom header (or, with All, the set as a
// whole) is refused. Reason is a sentence fragment for an API error's
// details; it never quotes the value, which may be a credential.
type HeaderProblem struct {
	Name   string
	Reason string
	// All is set for a problem of the whole set (too many, too large).
	All bool
}

// Reasons, worded for the API's error details.
const (
	reasonHeaderEmptyName  = "is an empty header name"
	reasonHeaderNameToken  = "is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~ only (RFC 9110 token)"
	reasonHeaderNameLong   = "is longer than 256 characters"
	reasonHeaderDuplicate  = "is given twice: header names are compared without regard to case"
	reasonHeaderValueCtl   = "has a value with a control character: only tab is allowed (no CR, LF or NUL)"
	reasonHeaderValueSpace = "has a value that begins or ends with a space or tab, which HTTP would strip"
	reasonHeaderTooMany    = "has more than 20 headers"
	reasonHeaderTooLarge   = "is larger than 4096 bytes in all (names and values)"

	reasonReservedHop       = "is reserved: connection and hop-by-hop headers are managed by the service's HTTP client"
	reasonReservedHost      = "is reserved: the service sends the host of the webhook URL"
	reasonReservedBody      = "is reserved: the service describes the body it signs (Content-* headers)"
	reasonReservedAgent     = "is reserved: the service identifies itself with it"
	reasonReservedEncoding  = "is reserved: the service negotiates the encoding of the answer itself"
	reasonReservedExpect    = "is reserved: the service does not wait for 100 Continue"
	reasonReservedSignature = "is reserved: Webhook-* and X-Webhook-* headers carry the service's signatures"
)

// reservedHeaders are refused by exact (lower-case) name: why each would
// break the delivery or its guarantees.
var reservedHeaders = map[string]string{
	// Hop-by-hop and connection control (RFC 9110 7.6.1): they describe the
	// connection, which is the service's, not the message. HTTP/2 forbids
	// them outright.
	"connection":        reasonReservedHop,
	"keep-alive":        reasonReservedHop,
	"te":                reasonReservedHop,
	"trailer":           reasonReservedHop,
	"transfer-encoding": reasonReservedHop,
	"upgrade":           reasonReservedHop,
	// Host would send the request to another virtual host than the URL
	// names, after the egress policy vetted the URL.
	"host": reasonReservedHost,
	// The receiver identifies (and may allow-list) the service by it.
	"user-agent": reasonReservedAgent,
	// Go's client asks for gzip and decompresses; a caller's own value
	// would leave the answer compressed, and the history unreadable.
	"accept-encoding": reasonReservedEncoding,
	// Expect: 100-continue would change how the body is sent.
	"expect": reasonReservedExpect,
}

// reservedPrefixes are refused by (lower-case) prefix.
var reservedPrefixes = []struct{ prefix, reason string }{
	// Content-Type, Content-Length, Content-Encoding…: the body is the
	// signed envelope, exactly as the service sends it.
	{"content-", reasonReservedBody},
	// Proxy-Authorization and the like are for proxies; deliveries use none.
	{"proxy-", reasonReservedHop},
	// The signature headers: webhook-id, webhook-timestamp,
	// webhook-signature, X-Webhook-ID, X-Webhook-Timestamp,
	// X-Webhook-Signature, and every name a later scheme may use.
	{"webhook-", reasonReservedSignature},
	{"x-webhook-", reasonReservedSignature},
}

// HeaderNameProblem returns why name may not be a custom header, or "".
func HeaderNameProblem(name string) string {
	switch {
	case name == "":
		return reasonHeaderEmptyName
	case len(name) > MaxHeaderNameLen:
		return reasonHeaderNameLong
	case !isToken(name):
		return reasonHeaderNameToken
	}
	lower := strings.ToLower(name)
	if r, ok := reservedHeaders[lower]; ok {
		return r
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(lower, p.prefix) {
			return p.reason
		}
	}
	return ""
}

// HeaderValueProblem returns why v may not be a custom header's value, or
// "". A value is a field value of RFC 9110 without obsolete line folding:
// any text but control characters (tab aside), without space or tab at
// either end, which HTTP would strip.
func HeaderValueProblem(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return reasonHeaderValueCtl
		}
	}
	if v != "" && (isSpaceOrTab(v[0]) || isSpaceOrTab(v[len(v)-1])) {
		return reasonHeaderValueSpace
	}
	return ""
}

// HeaderAllowed reports whether the engine may send the header: name and
// value pass the rules above.
func HeaderAllowed(name, value string) bool {
	return HeaderNameProblem(name) == "" && HeaderValueProblem(value) == ""
}

// CheckHeaders checks a webhook's custom headers and returns every problem,
// those of the set as a whole (All) first, then by header name
// without regard to case. Nil means the set is acceptable.
func CheckHeaders(h map[string]string) []HeaderProblem {
	var out []HeaderProblem
	if len(h) > MaxHeaders {
		out = append(out, HeaderProblem{Reason: reasonHeaderTooMany, All: true})
	}
	total := 0
	for name, v := range h {
		total += len(name) + len(v)
	}
	if total > MaxHeaderBytes {
		out = append(out, HeaderProblem{Reason: reasonHeaderTooLarge, All: true})
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i]), strings.ToLower(names[j])
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	for i, name := range names {
		if i > 0 && strings.EqualFold(names[i-1], name) {
			out = append(out, HeaderProblem{Name: name, Reason: reasonHeaderDuplicate})
			continue
		}
		if r := HeaderNameProblem(name); r != "" {
			out = append(out, HeaderProblem{Name: name, Reason: r})
			continue
		}
		if r := HeaderValueProblem(h[name]); r != "" {
			out = append(out, HeaderProblem{Name: name, Reason: r})
		}
	}
	return out
}

func isSpaceOrTab(c byte) bool { return c == ' ' || c == '\t' }

// isToken reports whether s is an RFC 9110 token: one or more of
// ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~".
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
