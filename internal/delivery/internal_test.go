package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func newTestEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	if cfg.Client == nil {
		cfg.Client = egress.NewPolicy([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).NewClient(time.Second)
	}
	e, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNextDelay(t *testing.T) {
	sched := []time.Duration{0, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}
	cases := []struct {
		name       string
		jitter     float64
		rand       float64
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{"after attempt 1", -1, 0, 1, 0, 30 * time.Second, true},
		{"after attempt 2", -1, 0, 2, 0, 2 * time.Minute, true},
		{"after attempt 3", -1, 0, 3, 0, 10 * time.Minute, true},
		{"after the last attempt", -1, 0, 4, 0, 0, false},
		{"beyond the schedule", -1, 0, 9, 0, 0, false},
		{"retry-after shorter than the entry", -1, 0, 1, 10 * time.Second, 30 * time.Second, true},
		{"retry-after longer than the entry", -1, 0, 1, 90 * time.Second, 90 * time.Second, true},
		{"retry-after capped at the longest delay", -1, 0, 1, 24 * time.Hour, 10 * time.Minute, true},
		{"retry-after ignored after the last attempt", -1, 0, 4, time.Minute, 0, false},
		{"jitter adds up to the fraction", 0.1, 0.5, 1, 0, 31500 * time.Millisecond, true},
		{"jitter at its largest", 0.1, 1, 2, 0, 132 * time.Second, true},
		{"jitter applies to retry-after too", 0.1, 0.5, 1, 100 * time.Second, 105 * time.Second, true},
		{"no jitter on a zero delay", 0.1, 1, 0, 0, 0, true},
		{"default jitter is 0.1", 0, 1, 1, 0, 33 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rand
			e := newTestEngine(t, Config{Schedule: sched, Jitter: tc.jitter, Rand: func() float64 { return r }})
			got, ok := e.nextDelay(tc.attempt, tc.retryAfter)
			if got != tc.want || ok != tc.ok {
				t.Errorf("nextDelay(%d, %s) = %s, %v; want %s, %v", tc.attempt, tc.retryAfter, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// A zero-delay schedule entry (an immediate retry) stays immediate.
func TestNextDelayZeroEntry(t *testing.T) {
	e := newTestEngine(t, Config{Schedule: []time.Duration{0, 0, time.Second}, Rand: func() float64 { return 1 }})
	if d, ok := e.nextDelay(1, 0); d != 0 || !ok {
		t.Errorf("nextDelay(1) = %s, %v; want 0, true", d, ok)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 9, 18, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":            0,
		"0":           0,
		"-5":          0,
		" 120 ":       2 * time.Minute,
		"1.5":         0,
		"soon":        0,
		"99999999999": 7 * 24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"Tue, 09 Jan 2024 18:00:30 GMT":                   30 * time.Second,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestClassifyError(t *testing.T) {
	opErr := func(err error) error {
		return &url.Error{Op: "Post", URL: "http://10.1.2.3:8080/x", Err: &net.OpError{Op: "dial", Net: "tcp",
			Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8080}, Err: err}}
	}
	refusal := egress.NewPolicy(nil).Control("tcp4", "10.1.2.3:80", nil)
	cases := []struct {
		name  string
		err   error
		class string
		text  string
	}{
		// An egress refusal and an unresolvable name look exactly alike.
		{"egress refusal", opErr(refusal), store.ErrorClassDestinationRefused, destinationRefusedMessage},
		{"dns not found", opErr(&net.DNSError{Err: "no such host", Name: "nonexistent.invalid", Server: "10.255.255.53:53", IsNotFound: true}),
			store.ErrorClassDestinationRefused, destinationRefusedMessage},
		{"dns server failure", opErr(&net.DNSError{Err: "server misbehaving", Name: "nonexistent.invalid", Server: "10.255.255.53:53"}),
			store.ErrorClassDestinationRefused, destinationRefusedMessage},
		{"deadline", &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, store.ErrorClassTimeout, "timed out after 3s"},
		{"net timeout", opErr(os.ErrDeadlineExceeded), store.ErrorClassTimeout, "timed out after 3s"},
		{"dns timeout", opErr(&net.DNSError{Err: "i/o timeout", Name: "nonexistent.invalid", Server: "10.255.255.53:53", IsTimeout: true}),
			store.ErrorClassTimeout, "timed out after 3s"},
		{"refused", opErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), store.ErrorClassConnectionRefused, "connection refused"},
		{"unknown authority", &url.Error{Op: "Post", URL: "https://x", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}},
			store.ErrorClassTLS, "TLS handshake failed"},
		{"hostname mismatch", &url.Error{Op: "Post", URL: "https://x", Err: x509.HostnameError{Host: "10.1.2.3", Certificate: &x509.Certificate{}}},
			store.ErrorClassTLS, "TLS handshake failed"},
		{"tls alert", opErr(tls.AlertError(40)), store.ErrorClassTLS, "TLS handshake failed"},
		{"reset", opErr(os.NewSyscallError("read", syscall.ECONNRESET)), store.ErrorClassConnectionFailed, "connection closed by the receiver"},
		{"unreachable", opErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), store.ErrorClassConnectionFailed, "host unreachable"},
		{"other", opErr(errors.New("something odd at 10.1.2.3")), store.ErrorClassConnectionFailed, "request failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := classifyError(tc.err, 3*time.Second)
			if r.outcome != outcomeRetry {
				t.Errorf("outcome %v, want a retry", r.outcome)
			}
			if r.class != tc.class {
				t.Errorf("class %q, want %q", r.class, tc.class)
			}
			if !strings.HasPrefix(r.err, tc.text) {
				t.Errorf("text %q, want %q", r.err, tc.text)
			}
			for _, leak := range []string{"10.1.2.3", "8080", "10.255", "nonexistent"} {
				if strings.Contains(r.err, leak) {
					t.Errorf("text %q leaks %q", r.err, leak)
				}
			}
		})
	}
}

// The Standard Webhooks canonical vector (anchors §3), through a real
// attempt: with the engine clock at the vector's timestamp, the headers the
// receiver gets are exactly the vector's.
func TestAttemptStandardWebhooksVector(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	e := newTestEngine(t, Config{Now: func() time.Time { return time.Unix(1614265330, 0) }})
	o := e.attempt(&store.Claim{DeliveryID: 7, ClaimSeq: 3, EventID: "msg_p5jXN8AQM9LWM0D4loKWxJek", URL: srv.URL,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, Body: []byte(`{"test": 2432232314}`), Attempt: 1})
	if o.Status != store.StatusSuccess || o.StatusCode != 200 || !o.Attempted || o.DeliveryID != 7 || o.ClaimSeq != 3 {
		t.Fatalf("outcome %+v", o)
	}
	h := <-got
	want := map[string]string{
		"webhook-id":          "msg_p5jXN8AQM9LWM0D4loKWxJek",
		"webhook-timestamp":   "1614265330",
		"webhook-signature":   "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"X-Webhook-ID":        "msg_p5jXN8AQM9LWM0D4loKWxJek",
		"X-Webhook-Timestamp": "1614265330",
		"Content-Type":        "application/json",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
}

// Disabled and deleted webhooks: no request, no attempt recorded, failed.
func TestAttemptSkipsDisabledAndDeleted(t *testing.T) {
	e := newTestEngine(t, Config{})
	for name, c := range map[string]*store.Claim{
		"disabled": {URL: "http://127.0.0.1:1/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: false, Attempt: 1},
		"deleted":  {URL: "", Attempt: 1},
	} {
		o := e.attempt(c)
		if o.Attempted || o.Status != store.StatusFailed || o.URL != "" {
			t.Errorf("%s: outcome %+v, want failed and not attempted", name, o)
		}
	}
}

func TestSanitizeBody(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 16, "hello"},
		{"hello", 3, "hel"},
		{"a\x00b", 16, "a\uFFFDb"},
		{"\xff", 16, "\uFFFD"},
		{"ab€", 4, "ab"},
		{"ab\xff\xffcd", 16, "ab\uFFFDcd"},
		{"a\x00", 3, "a"},
		{"", 4, ""},
	}
	for _, tc := range cases {
		if got := sanitizeBody([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("sanitizeBody(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
