package egress_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
)

func TestHeaderNames(t *testing.T) {
	allowed := []string{
		"Authorization", "X-Tenant", "x-api-key", "Cookie", "X-Forwarded-For", "Idempotency-Key",
		"X-Custom!#$%&'*+-.^_`|~1", "A", strings.Repeat("a", egress.MaxHeaderNameLen),
		"X-Webhook", "Webhooks-Id", "Contents", "Hostname", "X-Content-Type", "Proxy", "X-Proxy-Authorization",
	}
	for _, n := range allowed {
		if r := egress.HeaderNameProblem(n); r != "" {
			t.Errorf("%q refused: %s", n, r)
		}
	}
	refused := map[string]string{
		"": "empty",
		strings.Repeat("a", egress.MaxHeaderNameLen+1): "longer",
		"X Tenant": "token", "X-Tenant:": "token", "X-Ténant": "token", "X-A\r\nHost": "token", ":authority": "token",
		"X/A": "token", "(x)": "token", `"X"`: "token", "X\x00": "token", "X\t": "token", "X@A": "token",
		"Host": "host", "HOST": "host",
		"Connection": "hop-by-hop", "keep-alive": "hop-by-hop", "TE": "hop-by-hop", "Trailer": "hop-by-hop",
		"Transfer-Encoding": "hop-by-hop", "Upgrade": "hop-by-hop", "Proxy-Authorization": "hop-by-hop",
		"proxy-connection": "hop-by-hop",
		"Content-Type":     "Content-*", "content-length": "Content-*", "Content-Encoding": "Content-*", "Content-MD5": "Content-*",
		"User-Agent": "identifies", "Accept-Encoding": "encoding", "Expect": "100 Continue",
		"webhook-id": "signatures", "Webhook-Signature": "signatures", "webhook-timestamp": "signatures", "webhook-anything": "signatures",
		"X-Webhook-ID": "signatures", "x-webhook-signature": "signatures", "X-WEBHOOK-TIMESTAMP": "signatures", "X-Webhook-Other": "signatures",
	}
	for n, want := range refused {
		r := egress.HeaderNameProblem(n)
		if r == "" || !strings.Contains(r, want) {
			t.Errorf("%q: reason %q, want one mentioning %q", n, r, want)
		}
		if egress.HeaderAllowed(n, "v") {
			t.Errorf("%q allowed for sending", n)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	for _, v := range []string{"", "a", "Bearer abc.def", "a\tb", "ünïcödé ✓", "x=1; y=2", `"quoted"`, strings.Repeat("v", 4000)} {
		if r := egress.HeaderValueProblem(v); r != "" {
			t.Errorf("%q refused: %s", v, r)
		}
	}
	for _, v := range []string{"a\rb", "a\nb", "a\r\nX-Injected: 1", "a\x00b", "\x01", "a\x1fb", "a\x7fb", "a\vb", "a\fb"} {
		if r := egress.HeaderValueProblem(v); !strings.Contains(r, "control character") {
			t.Errorf("%q: %q", v, r)
		}
	}
	for _, v := range []string{" a", "a ", "\ta", "a\t", " "} {
		if r := egress.HeaderValueProblem(v); !strings.Contains(r, "begins or ends") {
			t.Errorf("%q: %q", v, r)
		}
	}
}

func TestCheckHeaders(t *testing.T) {
	if p := egress.CheckHeaders(nil); p != nil {
		t.Fatalf("nil: %v", p)
	}
	if p := egress.CheckHeaders(map[string]string{"Authorization": "Bearer x", "X-Tenant": "acme"}); p != nil {
		t.Fatalf("valid set: %v", p)
	}
	// Case-variant duplicates, refused names and bad values, all reported,
	// in name order, never with a value.
	p := egress.CheckHeaders(map[string]string{"x-a": "1", "X-A": "2", "Host": "h", "X-B": "SECRET\r\n", "Z": "ok"})
	got := fmt.Sprint(p)
	if len(p) != 3 || p[0].Name != "Host" || p[1].Name != "x-a" || !strings.Contains(p[1].Reason, "twice") || p[2].Name != "X-B" {
		t.Fatalf("problems = %v", got)
	}
	if strings.Contains(got, "SECRET") {
		t.Fatalf("a problem quotes a value: %s", got)
	}
	// The caps: 20 headers, 4096 bytes of names and values.
	many := map[string]string{}
	for i := range egress.MaxHeaders {
		many[fmt.Sprintf("X-H%d", i)] = "v"
	}
	if p := egress.CheckHeaders(many); p != nil {
		t.Fatalf("%d headers refused: %v", len(many), p)
	}
	many["X-One-More"] = "v"
	if p := egress.CheckHeaders(many); len(p) != 1 || !p[0].All || !strings.Contains(p[0].Reason, "more than 20") {
		t.Fatalf("21 headers: %v", p)
	}
	exact := map[string]string{"X-Big": strings.Repeat("v", egress.MaxHeaderBytes-len("X-Big"))}
	if p := egress.CheckHeaders(exact); p != nil {
		t.Fatalf("exactly %d bytes refused: %v", egress.MaxHeaderBytes, p)
	}
	exact["X-Big"] += "v"
	if p := egress.CheckHeaders(exact); len(p) != 1 || !p[0].All || !strings.Contains(p[0].Reason, "4096 bytes") {
		t.Fatalf("%d bytes: %v", egress.MaxHeaderBytes+1, p)
	}
}
