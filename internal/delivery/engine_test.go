package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jetwebhooks/jetwebhooks/internal/delivery"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// A successful delivery: both signature schemes verify, the JetEmail HMAC
// recomputed independently matches, the body is the stored envelope, and the
// outcome is recorded.
func TestDeliverSuccessSignedBothSchemes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK, "thanks"))
	hook := e.addWebhook(rc.url())
	e.start(baseConfig())

	created := time.Unix(1704825600, 0)
	before := time.Now().Unix()
	res := e.publish(ingest.Event{ID: "evt_success1", Type: "outbound.delivered", User: "alice", CreatedAt: created,
		Data: map[string]any{"uid": "message-uid", "from": "a@example.com", "to": "b@example.net", "user": "alice"}})
	if res[0].Deliveries != 1 {
		t.Fatalf("publish queued %d deliveries, want 1", res[0].Deliveries)
	}
	rec := e.waitStatus("evt_success1", hook.UUID, store.StatusSuccess, 1)
	after := time.Now().Unix()

	wantBody := `{"id":"evt_success1","service":"outbound","type":"outbound.delivered","created_at":1704825600,` +
		`"data":{"from":"a@example.com","to":"b@example.net","uid":"message-uid","user":"alice"}}`
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost {
		t.Errorf("method %s, want POST", r.method)
	}
	if got := string(r.body); got != wantBody {
		t.Errorf("body\n got %s\nwant %s", got, wantBody)
	}
	if stored := e.storedBody("evt_success1"); string(stored) != string(r.body) {
		t.Errorf("body differs from the stored envelope\n got %s\nwant %s", r.body, stored)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if ua := r.header.Get("User-Agent"); ua != "jetwebhooks" {
		t.Errorf("User-Agent %q, want jetwebhooks", ua)
	}
	if id := r.header.Get(signature.HeaderID); id != "evt_success1" {
		t.Errorf("X-Webhook-ID %q, want the event id", id)
	}
	if id := r.header.Get(signature.StdHeaderID); id != "evt_success1" {
		t.Errorf("webhook-id %q, want the event id", id)
	}
	ts, err := strconv.ParseInt(r.header.Get(signature.HeaderTimestamp), 10, 64)
	if err != nil || ts < before || ts > after {
		t.Errorf("X-Webhook-Timestamp %q, want unix seconds in [%d, %d]", r.header.Get(signature.HeaderTimestamp), before, after)
	}
	if std := r.header.Get(signature.StdHeaderTimestamp); std != strconv.FormatInt(ts, 10) {
		t.Errorf("webhook-timestamp %q differs from X-Webhook-Timestamp %d", std, ts)
	}

	// Both schemes, through the public verifier.
	v, err := signature.NewVerifier([]string{hook.Secret})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := v.Verify(r.header, r.body)
	if err != nil {
		t.Fatalf("verifier rejected the delivery: %v", err)
	}
	if !vr.JetEmail || !vr.Standard || vr.ID != "evt_success1" {
		t.Errorf("verify result %+v, want both schemes and the event id", vr)
	}
	// JetEmail's HMAC, recomputed by hand: key = the secret string as issued.
	mac := hmac.New(sha256.New, []byte(hook.Secret))
	mac.Write(r.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.header.Get(signature.HeaderSignature) != want {
		t.Errorf("X-Webhook-Signature %q, want %q", r.header.Get(signature.HeaderSignature), want)
	}
	if !strings.HasPrefix(r.header.Get(signature.StdHeaderSignature), "v1,") {
		t.Errorf("webhook-signature %q, want v1,<base64>", r.header.Get(signature.StdHeaderSignature))
	}

	// The history.
	if rec.Attempts != 1 || code(rec) != "200" {
		t.Errorf("delivery: %d attempts, last code %s; want 1 and 200", rec.Attempts, code(rec))
	}
	if rec.WebhookURL != rc.url() {
		t.Errorf("delivery url %q, want %q", rec.WebhookURL, rc.url())
	}
	as := e.attempts(rec.DeliveryID)
	if len(as) != 1 {
		t.Fatalf("%d attempts recorded, want 1", len(as))
	}
	if a := as[0]; a.StatusCode != 200 || a.Error != "" || a.ResponseBody != "thanks" || a.At.Unix() < before || a.Duration < 0 {
		t.Errorf("attempt %+v, want code 200, no error, body %q, a time", a, "thanks")
	}
	if _, ok, err := e.st.NextDueAt(context.Background()); err != nil || ok {
		t.Errorf("NextDueAt: ok=%v err=%v; nothing should be left to deliver", ok, err)
	}
}

// The JetEmail test vector (reference §7.2), end to end: the envelope the
// publisher builds for that event is byte-identical to the vector's body, and
// the engine signs it exactly as the JetEmail SDKs expect.
func TestDeliverJetEmailVector(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	hook := e.addWebhook(rc.url(), withSecret("whsec_test123"))
	e.start(baseConfig())
	e.publish(ingest.Event{ID: "evt_abc123", Type: "outbound.delivered", User: "alice",
		CreatedAt: time.Unix(1704825600, 0), Data: map[string]any{"uid": "message-uid"}})
	e.waitStatus("evt_abc123", hook.UUID, store.StatusSuccess, 1)

	r := rc.requests()[0]
	const body = `{"id":"evt_abc123","service":"outbound","type":"outbound.delivered","created_at":1704825600,"data":{"uid":"message-uid"}}`
	if string(r.body) != body {
		t.Errorf("body %s, want %s", r.body, body)
	}
	const sig = "sha256=f649f8c86bfbffb445a8a5a5acdfbecb039e4a3b93675652902dca94f60a64ef"
	if got := r.header.Get(signature.HeaderSignature); got != sig {
		t.Errorf("X-Webhook-Signature %q, want %q", got, sig)
	}
}

// 500 then 200: the delivery is retried with the same X-Webhook-ID, and each
// attempt carries its own X-Webhook-Timestamp (the engine clock at that
// attempt).
func TestRetryAfter500ThenSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock := newManualClock(time.Now())
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			// The retry is due at once, 2 s "later" (well within the lease:
			// a jump past it would let the engine take its own claim over).
			clock.Advance(2 * time.Second)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "boom")
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	hook := e.addWebhook(rc.url())
	cfg := baseConfig()
	cfg.Now = clock.Now
	e.pub.Now = clock.Now // the delivery is due at the engine's "now"
	e.start(cfg)
	id := e.publishOne()
	rec := e.waitStatus(id, hook.UUID, store.StatusSuccess, 2)

	if rec.Attempts != 2 || code(rec) != "200" {
		t.Errorf("delivery: %d attempts, last code %s; want 2 and 200", rec.Attempts, code(rec))
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if got := r.header.Get(signature.HeaderID); got != id {
			t.Errorf("request %d: X-Webhook-ID %q, want %q", i+1, got, id)
		}
		if got := r.header.Get(signature.StdHeaderID); got != id {
			t.Errorf("request %d: webhook-id %q, want %q", i+1, got, id)
		}
	}
	as := e.attempts(rec.DeliveryID)
	if len(as) != 2 {
		t.Fatalf("%d attempts recorded, want 2", len(as))
	}
	if as[0].StatusCode != 500 || as[0].Error != "HTTP 500" || as[0].ResponseBody != "boom" {
		t.Errorf("attempt 1 %+v, want 500 / HTTP 500 / boom", as[0])
	}
	if as[1].StatusCode != 200 || as[1].Error != "" {
		t.Errorf("attempt 2 %+v, want 200 and no error", as[1])
	}
	ts1, _ := strconv.ParseInt(reqs[0].header.Get(signature.HeaderTimestamp), 10, 64)
	ts2, _ := strconv.ParseInt(reqs[1].header.Get(signature.HeaderTimestamp), 10, 64)
	if ts1 != as[0].At.Unix() || ts2 != as[1].At.Unix() {
		t.Errorf("timestamps %d, %d; want the attempts' times %d, %d", ts1, ts2, as[0].At.Unix(), as[1].At.Unix())
	}
	if ts2-ts1 < 2 {
		t.Errorf("X-Webhook-Timestamp did not move with the attempt: %d then %d", ts1, ts2)
	}
	// Each attempt's signatures verify against its own timestamp.
	v, _ := signature.NewVerifier([]string{hook.Secret}, signature.WithTolerance(0))
	for i, r := range reqs {
		if _, err := v.Verify(r.header, r.body); err != nil {
			t.Errorf("request %d does not verify: %v", i+1, err)
		}
	}
}

// Retry-After on 429 and 503 moves the next attempt, within the schedule's
// bounds. The engine runs on a manual clock, so the scheduled time is exact
// (jitter is off) and the retry happens only once the clock reaches it.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	base := time.Now().Truncate(time.Second)
	schedule := []time.Duration{0, 10 * time.Millisecond, 5 * time.Second}
	cases := []struct {
		name       string
		code       int
		retryAfter func(now time.Time) string
		schedule   []time.Duration
		want       time.Duration
	}{
		{"429 seconds beyond the schedule entry", 429, func(time.Time) string { return "2" }, schedule, 2 * time.Second},
		{"429 capped at the schedule's longest delay", 429, func(time.Time) string { return "3600" }, schedule, 5 * time.Second},
		{"503 HTTP date", 503, func(now time.Time) string { return now.Add(3 * time.Second).UTC().Format(http.TimeFormat) }, schedule, 3 * time.Second},
		{"429 shorter than the schedule entry", 429, func(time.Time) string { return "1" }, []time.Duration{0, 4 * time.Second, 5 * time.Second}, 4 * time.Second},
		{"429 without Retry-After", 429, func(time.Time) string { return "" }, schedule, 10 * time.Millisecond},
		{"429 garbage Retry-After", 429, func(time.Time) string { return "soon" }, schedule, 10 * time.Millisecond},
		{"500 ignores Retry-After", 500, func(time.Time) string { return "2" }, schedule, 10 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			clock := newManualClock(base)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					if v := tc.retryAfter(clock.Now()); v != "" {
						w.Header().Set("Retry-After", v)
					}
					w.WriteHeader(tc.code)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			hook := e.addWebhook(rc.url())
			cfg := baseConfig()
			cfg.Schedule = tc.schedule
			cfg.Now = clock.Now
			e.pub.Now = clock.Now // the delivery is due at the engine's "now"
			eng := e.start(cfg)
			id := e.publishOne()
			rec := e.waitStatus(id, hook.UUID, store.StatusRetry, 1)
			first := e.attempts(rec.DeliveryID)[0]
			if first.StatusCode != tc.code {
				t.Fatalf("attempt 1 code %d, want %d", first.StatusCode, tc.code)
			}
			next, ok, err := e.st.NextDueAt(context.Background())
			if err != nil || !ok {
				t.Fatalf("NextDueAt: ok=%v err=%v", ok, err)
			}
			if got := next.Sub(first.At); got != tc.want {
				t.Errorf("next attempt scheduled %s after the first, want %s", got, tc.want)
			}
			if st, err := e.st.QueueStats(context.Background(), first.At.Add(tc.want-time.Millisecond)); err != nil || st.Due != 0 {
				t.Errorf("queue stats just before the retry time: %+v, %v; want nothing due", st, err)
			}
			// Move the clock to the scheduled time: the retry happens and succeeds.
			clock.Advance(next.Sub(clock.Now()))
			eng.Wake()
			rec = e.waitStatus(id, hook.UUID, store.StatusSuccess, 2)
			as := e.attempts(rec.DeliveryID)
			if len(as) != 2 || rc.count() != 2 {
				t.Fatalf("%d attempts recorded, %d requests; want 2", len(as), rc.count())
			}
			if gap := as[1].At.Sub(as[0].At); gap < tc.want {
				t.Errorf("second attempt %s after the first, want >= %s", gap, tc.want)
			}
		})
	}
}

// Other 4xx answers fail permanently after one attempt.
func TestPermanentFailure4xx(t *testing.T) {
	t.Parallel()
	for _, c := range []int{400, 401, 404, 410, 413} {
		t.Run(strconv.Itoa(c), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			rc := newReceiver(t, status(c, "go away"))
			hook := e.addWebhook(rc.url(), withEvents("outbound.delivered"))
			probe := newReceiver(t, nil)
			probeHook := e.addWebhook(probe.url(), withEvents("outbound.bounced"))
			e.start(baseConfig())
			id := e.publishOne()
			rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 1)
			if rec.Attempts != 1 || code(rec) != strconv.Itoa(c) {
				t.Errorf("delivery: %d attempts, last code %s; want 1 and %d", rec.Attempts, code(rec), c)
			}
			as := e.attempts(rec.DeliveryID)
			if len(as) != 1 || as[0].StatusCode != c || as[0].Error != "HTTP "+strconv.Itoa(c) || as[0].ResponseBody != "go away" {
				t.Fatalf("attempts %+v, want one with code %d", as, c)
			}
			if _, ok, _ := e.st.NextDueAt(context.Background()); ok {
				t.Error("the delivery is still scheduled after a permanent failure")
			}
			// A later event to another receiver arrives: had the engine
			// retried the first, it would have done so by now (the retry
			// delay is 50 ms and the engine polls every 20 ms).
			second := e.publish(ingest.Event{Type: "outbound.bounced", User: "alice"})[0].EventID
			e.waitStatus(second, probeHook.UUID, store.StatusSuccess, 1)
			if n := rc.count(); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
			if rec := e.delivery(id, hook.UUID); rec.Status != store.StatusFailed || rec.Attempts != 1 {
				t.Errorf("delivery later: %s after %d attempts, want failed after 1", rec.Status, rec.Attempts)
			}
		})
	}
}

// A receiver slower than the timeout: the attempt fails with a timeout text
// and is retried.
func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done(): // the engine gave up
			case <-time.After(waitTimeout):
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	hook := e.addWebhook(rc.url())
	cfg := baseConfig()
	// Long enough that the second attempt's answer also arrives in time on
	// a loaded machine under -race (100ms was not, once).
	cfg.Timeout = time.Second
	cfg.Client = loopbackClient(cfg.Timeout)
	e.start(cfg)
	id := e.publishOne()
	rec := e.waitStatus(id, hook.UUID, store.StatusSuccess, 2)
	as := e.attempts(rec.DeliveryID)
	if len(as) != 2 {
		t.Fatalf("%d attempts, want 2", len(as))
	}
	if a := as[0]; a.StatusCode != 0 || !strings.Contains(a.Error, "timed out") || a.Duration < 900*time.Millisecond {
		t.Errorf("attempt 1 %+v, want no code, a timeout error and a duration of about 1s", a)
	}
	checkCleanError(t, as[0].Error, hook.Secret)
	if as[1].StatusCode != 200 {
		t.Errorf("attempt 2 code %d, want 200", as[1].StatusCode)
	}
}

// Connection refused and DNS failures are retried until the schedule runs
// out, with their class and short texts that reveal no addresses. Not parallel: the refused
// port must not be reused by another test's receiver meanwhile.
func TestNetworkErrorsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/hook"
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	cases := []struct{ name, url, class, want string }{
		{"connection refused", refused, store.ErrorClassConnectionRefused, "connection refused"},
		{"unresolvable host", "http://nonexistent.invalid/hook", store.ErrorClassDestinationRefused, egress.RefusedMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			hook := e.addWebhook(tc.url)
			cfg := baseConfig()
			cfg.Schedule = []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}
			e.start(cfg)
			id := e.publishOne()
			rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 3)
			if rec.Attempts != 3 || rec.LastResponseCode != nil {
				t.Errorf("delivery: %d attempts, last code %s; want 3 and none", rec.Attempts, code(rec))
			}
			as := e.attempts(rec.DeliveryID)
			if len(as) != 3 {
				t.Fatalf("%d attempts, want 3", len(as))
			}
			for i, a := range as {
				if a.StatusCode != 0 || !strings.HasPrefix(a.Error, tc.want) || a.ErrorClass != tc.class {
					t.Errorf("attempt %d: code %d, class %q, error %q; want no code, %s and %q", i+1, a.StatusCode, a.ErrorClass, a.Error, tc.class, tc.want)
				}
				checkCleanError(t, a.Error, hook.Secret, port, "nonexistent")
			}
			if !strings.Contains(as[2].Error, "dead-lettered") {
				t.Errorf("last attempt's error %q does not say the delivery was dead-lettered", as[2].Error)
			}
		})
	}
}

// A 302 is a failed attempt (retried), reported as a redirect with its
// target, and is never followed.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.url(), http.StatusFound)
	})
	hook := e.addWebhook(rc.url())
	cfg := baseConfig()
	cfg.Schedule = []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}
	e.start(cfg)
	id := e.publishOne()
	rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 3)
	if code(rec) != "302" || rec.Attempts != 3 {
		t.Errorf("delivery: %d attempts, last code %s; want 3 and 302", rec.Attempts, code(rec))
	}
	for i, a := range e.attempts(rec.DeliveryID) {
		if a.StatusCode != 302 || a.ErrorClass != store.ErrorClassRedirect || !strings.HasPrefix(a.Error, "HTTP 302 redirect not followed: Location "+target.url()) {
			t.Errorf("attempt %d: %+v, want code 302, class redirect and the target", i+1, a)
		}
	}
	if n := target.count(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
	if rc.count() != 3 {
		t.Errorf("receiver got %d requests, want 3", rc.count())
	}
}

// Always 500 on a 3-entry schedule: exactly 3 attempts, spaced by the
// schedule, then dead-lettered; a replay delivers it once the receiver works.
func TestDeadLetterThenReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var healthy atomic.Bool
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	hook := e.addWebhook(rc.url())
	eng := e.start(baseConfig())
	id := e.publishOne()
	rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 3)
	if rec.Attempts != 3 || code(rec) != "500" {
		t.Fatalf("delivery: %d attempts, last code %s; want 3 and 500", rec.Attempts, code(rec))
	}
	as := e.attempts(rec.DeliveryID)
	if len(as) != 3 || !strings.Contains(as[2].Error, "dead-lettered") {
		t.Fatalf("attempts %+v, want 3, the last one dead-lettered", as)
	}
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	// The schedule counts from the start of the previous attempt, which is
	// what the history records (the receiver's clock also sees connection
	// set-up, so its gaps can be shorter).
	for i := 1; i < 3; i++ {
		if gap := as[i].At.Sub(as[i-1].At); gap < fastSchedule[i] {
			t.Errorf("recorded attempt %d is %s after attempt %d, want >= %s", i+1, gap, i, fastSchedule[i])
		}
	}
	if _, ok, _ := e.st.NextDueAt(context.Background()); ok {
		t.Error("a dead-lettered delivery is still scheduled")
	}
	st, err := e.st.QueueStats(context.Background(), time.Now())
	if err != nil || st.Dead != 1 {
		t.Errorf("queue stats %+v, %v; want 1 dead", st, err)
	}

	healthy.Store(true)
	res, err := e.st.ReplayDeliveries(context.Background(), &store.ReplayParams{AccountID: e.acc.ID, EventID: id, Now: time.Now()})
	if err != nil || res.Deliveries != 1 {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	eng.Wake()
	rec = e.waitStatus(id, hook.UUID, store.StatusSuccess, 4)
	if rec.Attempts != 4 || code(rec) != "200" {
		t.Errorf("after replay: %d attempts, last code %s; want 4 and 200", rec.Attempts, code(rec))
	}
	if n := rc.ids()[id]; n != 4 {
		t.Errorf("receiver saw X-Webhook-ID %s %d times, want 4 (stable across retries and replays)", id, n)
	}
}

// A policy without a loopback allowance refuses the receiver: nothing is
// sent, and the failure looks exactly like an unresolvable name (class
// destination_refused, the same text, retried on the same schedule), so the
// history tells a customer nothing about which names resolve internally.
func TestEgressRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	hook := e.addWebhook(rc.url())
	cfg := baseConfig()
	cfg.Schedule = []time.Duration{0, 10 * time.Millisecond}
	cfg.Client = egress.NewPolicy(nil).NewClient(cfg.Timeout)
	var logs strings.Builder
	var mu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	e.start(cfg)
	id := e.publishOne()
	rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 2)
	as := e.attempts(rec.DeliveryID)
	if len(as) != 2 || rec.Attempts != 2 {
		t.Fatalf("%d attempts, want 2 (retried like an unresolvable name)", len(as))
	}
	for _, a := range as {
		if a.StatusCode != 0 || a.ErrorClass != store.ErrorClassDestinationRefused ||
			!strings.HasPrefix(a.Error, egress.RefusedMessage) {
			t.Errorf("attempt %+v, want the destination_refused class and text", a)
		}
		checkCleanError(t, a.Error, hook.Secret)
	}
	if rc.count() != 0 {
		t.Errorf("receiver got %d requests, want 0", rc.count())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "a loopback address") || !strings.Contains(logs.String(), hook.UUID) {
		t.Errorf("the log does not carry the reason:\n%s", logs.String())
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Fan-out: an event reaches exactly the enabled webhooks whose types and
// filters match it.
func TestFanOutFiltersAndDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all := newReceiver(t, nil)
	aliceOnly := newReceiver(t, nil)
	comOnly := newReceiver(t, nil)
	off := newReceiver(t, nil)
	bounces := newReceiver(t, nil)
	hAll := e.addWebhook(all.url(), withEvents("outbound.delivered"))
	hAlice := e.addWebhook(aliceOnly.url(), withEvents("outbound.delivered", "outbound.bounced"), withUsers("alice"))
	hCom := e.addWebhook(comOnly.url(), withEvents("inbound.received"), withDomains("example.com"))
	e.addWebhook(off.url(), disabled())
	hBounce := e.addWebhook(bounces.url(), withEvents("outbound.bounced"))
	e.start(baseConfig())

	res := e.publish(
		ingest.Event{ID: "evt_alice_delivered", Type: "outbound.delivered", User: "alice"},
		ingest.Event{ID: "evt_bob_delivered", Type: "outbound.delivered", User: "bob"},
		ingest.Event{ID: "evt_alice_bounced", Type: "outbound.bounced", User: "alice"},
		ingest.Event{ID: "evt_com_received", Type: "inbound.received", Domain: "EXAMPLE.com"},
		ingest.Event{ID: "evt_org_received", Type: "inbound.received", Domain: "example.org"},
	)
	wantQueued := []int{2, 1, 2, 1, 0}
	for i, r := range res {
		if r.Deliveries != wantQueued[i] {
			t.Errorf("event %s queued %d deliveries, want %d", r.EventID, r.Deliveries, wantQueued[i])
		}
	}
	want := map[*receiver][]string{
		all:       {"evt_alice_delivered", "evt_bob_delivered"},
		aliceOnly: {"evt_alice_bounced", "evt_alice_delivered"},
		comOnly:   {"evt_com_received"},
		off:       nil,
		bounces:   {"evt_alice_bounced"},
	}
	hooks := map[*receiver]*store.Webhook{all: hAll, aliceOnly: hAlice, comOnly: hCom, bounces: hBounce}
	for rc, ids := range want {
		for _, id := range ids {
			e.waitStatus(id, hooks[rc].UUID, store.StatusSuccess, 1)
		}
	}
	for rc, ids := range want {
		got := rc.ids()
		keys := make([]string, 0, len(got))
		for id, n := range got {
			keys = append(keys, id)
			if n != 1 {
				t.Errorf("%s: event %s received %d times", rc.url(), id, n)
			}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, ids) && !(len(keys) == 0 && len(ids) == 0) {
			t.Errorf("%s received %v, want %v", rc.url(), keys, ids)
		}
	}
	if _, total, err := e.st.QueryDeliveries(context.Background(), &store.QueryParams{AccountID: e.acc.ID, Limit: 100}); err != nil || total != 6 {
		t.Errorf("%d deliveries stored (%v), want 6", total, err)
	}
}

// A delivery queued while its webhook was enabled is not sent once the
// webhook is disabled, and no attempt is recorded.
func TestDisabledAfterPublishNotSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	hook := e.addWebhook(rc.url())
	id := e.publishOne() // no engine yet: the delivery waits in the queue
	if rec := e.delivery(id, hook.UUID); rec == nil || rec.Status != store.StatusPending {
		t.Fatalf("delivery %+v, want pending", rec)
	}
	off := false
	if _, err := e.st.UpdateWebhook(context.Background(), &store.UpdateWebhookParams{
		AccountID: e.acc.ID, UUID: hook.UUID, Enabled: &off, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.start(baseConfig())
	rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 0)
	if rec.Attempts != 0 || rec.LastResponseCode != nil {
		t.Errorf("delivery: %d attempts, last code %s; want none", rec.Attempts, code(rec))
	}
	if as := e.attempts(rec.DeliveryID); len(as) != 0 {
		t.Errorf("%d attempts recorded, want 0", len(as))
	}
	if rc.count() != 0 {
		t.Errorf("receiver got %d requests, want 0", rc.count())
	}
}

// Response bodies are cut to MaxResponseBody bytes and stored as valid UTF-8
// without NUL bytes (PostgreSQL text cannot hold them).
func TestResponseBodyTruncatedAndSanitised(t *testing.T) {
	t.Parallel()
	const limit = 16
	cases := []struct {
		name, body string
		check      func(t *testing.T, stored string)
	}{
		{"long ascii", strings.Repeat("0123456789abcdef", 100), func(t *testing.T, s string) {
			if s != "0123456789abcdef" {
				t.Errorf("stored %q, want the first %d bytes", s, limit)
			}
		}},
		{"invalid utf-8", "ok\xff\xfe\xc3(bad", func(t *testing.T, s string) {
			if !strings.HasPrefix(s, "ok") || !strings.HasSuffix(s, "(bad") || !strings.Contains(s, "\uFFFD") {
				t.Errorf("stored %q, want the valid parts kept and the invalid bytes replaced", s)
			}
		}},
		{"multi-byte rune cut by the limit", strings.Repeat("a", limit-1) + "€€€", func(t *testing.T, s string) {
			if s != strings.Repeat("a", limit-1) {
				t.Errorf("stored %q, want the complete runes before the limit", s)
			}
		}},
		{"nul bytes", "a\x00b\x00c", func(t *testing.T, s string) {
			if strings.ContainsRune(s, 0) || !strings.HasPrefix(s, "a") || !strings.HasSuffix(s, "c") {
				t.Errorf("stored %q, want no NUL bytes", s)
			}
		}},
	}
	e := newEnv(t)
	hooks := make([]*store.Webhook, len(cases))
	for i, tc := range cases {
		rc := newReceiver(t, status(http.StatusBadRequest, tc.body))
		hooks[i] = e.addWebhook(rc.url())
	}
	cfg := baseConfig()
	cfg.MaxResponseBody = limit
	e.start(cfg)
	id := e.publishOne()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.waitStatus(id, hooks[i].UUID, store.StatusFailed, 1)
			as := e.attempts(rec.DeliveryID)
			if len(as) != 1 {
				t.Fatalf("%d attempts, want 1", len(as))
			}
			s := as[0].ResponseBody
			if len(s) > limit || !utf8.ValidString(s) {
				t.Errorf("stored body %q: %d bytes, valid UTF-8 %v; want <= %d bytes of valid UTF-8", s, len(s), utf8.ValidString(s), limit)
			}
			tc.check(t, s)
		})
	}
}

// Cancelling Run while an attempt is in flight: Run waits for the attempt,
// stores its outcome, and only then returns; the delivery is not repeated.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			started <- struct{}{}
			select {
			case <-release:
			case <-time.After(waitTimeout):
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	hook := e.addWebhook(rc.url())
	eng := e.start(baseConfig()) // 5 s timeout: the slow answer is within it
	id := e.publishOne()
	select {
	case <-started:
	case <-time.After(waitTimeout):
		t.Fatal("the receiver never got the delivery")
	}
	eng.cancel()
	select {
	case <-eng.done:
		t.Fatal("Run returned while an attempt was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-eng.done:
		if eng.err != nil {
			t.Fatalf("Run: %v", eng.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after the in-flight attempt finished")
	}
	// No polling: the outcome must be stored by the time Run returns.
	rec := e.delivery(id, hook.UUID)
	if rec == nil || rec.Status != store.StatusSuccess || rec.Attempts != 1 || code(rec) != "200" {
		t.Fatalf("delivery after Run returned: %+v, want success after 1 attempt with 200", rec)
	}
	// A new engine on the same store delivers a later event but does not
	// repeat the first.
	e.start(baseConfig())
	second := e.publishOne()
	e.waitStatus(second, hook.UUID, store.StatusSuccess, 1)
	if ids := rc.ids(); ids[id] != 1 || ids[second] != 1 || rc.count() != 2 {
		t.Errorf("receiver saw %v (%d requests), want each event once", ids, rc.count())
	}
}

// A delivery claimed by a worker that then died is taken over once its lease
// expires, delivered once, and the dead worker's late outcome is ignored.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	other := newReceiver(t, nil)
	hook := e.addWebhook(rc.url(), withEvents("outbound.delivered"))
	otherHook := e.addWebhook(other.url(), withEvents("outbound.bounced"))
	id := e.publishOne()
	claims, err := e.st.ClaimDeliveries(context.Background(), &store.ClaimParams{Owner: "dead", Limit: 10, Now: time.Now(), Lease: 30 * time.Second})
	if err != nil || len(claims) != 1 {
		t.Fatalf("dead worker's claim: %d claims, %v", len(claims), err)
	}
	dead := claims[0]

	// While the lease holds, a live engine leaves the delivery alone: it
	// delivers a later event but not the leased one.
	obs := &observer{}
	cfg := baseConfig()
	cfg.Observer = obs
	live := e.start(cfg)
	probe := e.publish(ingest.Event{Type: "outbound.bounced", User: "alice"})[0].EventID
	e.waitStatus(probe, otherHook.UUID, store.StatusSuccess, 1)
	if rc.count() != 0 {
		t.Fatalf("the leased delivery was attempted while its lease held")
	}
	live.stop(t)

	// Past the lease, an engine takes it over.
	obs = &observer{}
	cfg.Observer = obs
	cfg.Now = func() time.Time { return time.Now().Add(time.Minute) }
	e.start(cfg)
	rec := e.waitStatus(id, hook.UUID, store.StatusSuccess, 1)
	if rec.Attempts != 1 || rc.count() != 1 {
		t.Errorf("%d attempts, %d requests; want 1", rec.Attempts, rc.count())
	}
	if obs.takenOver.Load() != 1 {
		t.Errorf("observer saw %d take-overs, want 1", obs.takenOver.Load())
	}

	// The dead worker wakes up and reports a failure: it is ignored.
	n, err := e.st.CompleteDeliveries(context.Background(), []*store.Outcome{{
		DeliveryID: dead.DeliveryID, ClaimSeq: dead.ClaimSeq, Status: store.StatusFailed,
		Attempted: true, URL: dead.URL, At: time.Now(), StatusCode: 500, Error: "HTTP 500"}})
	if err != nil || n != 0 {
		t.Errorf("stale completion applied %d outcomes (%v), want 0", n, err)
	}
	if rec := e.delivery(id, hook.UUID); rec.Status != store.StatusSuccess || rec.Attempts != 1 {
		t.Errorf("after the stale completion: %+v, want success after 1 attempt", rec)
	}
}

// Throughput sanity (not timed): 2000 events with the default concurrency
// all arrive, each exactly once.
// Not parallel: on a small machine under -race, sharing the CPU with the
// other tests would only make it slow.
func TestThroughputExactlyOnce(t *testing.T) {
	const n = 2000
	e := newEnv(t)
	rc := newReceiver(t, nil)
	hook := e.addWebhook(rc.url())
	cfg := baseConfig()
	cfg.Schedule = nil   // default schedule: a failure here would not be retried in time
	cfg.PollInterval = 0 // default
	cfg.Concurrency = 0  // default
	e.start(cfg)
	want := map[string]bool{}
	t0 := time.Now()
	for b := 0; b < n/ingest.MaxBatch; b++ {
		batch := make([]ingest.Event, ingest.MaxBatch)
		for i := range batch {
			batch[i] = ingest.Event{Type: "outbound.delivered", User: "bob", Data: map[string]any{"i": b*ingest.MaxBatch + i}}
		}
		for _, r := range e.publish(batch...) {
			want[r.EventID] = true
		}
	}
	t.Logf("published %d events in %s", n, time.Since(t0))
	// Watch the receiver (cheap) rather than count in the store every 10 ms,
	// which would steal the CPU the engine needs; then check the store.
	// The bound is generous: this is a sanity check, not a benchmark, and a
	// shared machine under -race can be slow.
	waitForWithin(t, time.Minute, fmt.Sprintf("%d requests", n), func() (bool, string) {
		c := rc.count()
		return c >= n, fmt.Sprintf("%d requests", c)
	})
	waitFor(t, fmt.Sprintf("%d successful deliveries", n), func() (bool, string) {
		_, total, err := e.st.QueryDeliveries(context.Background(), &store.QueryParams{AccountID: e.acc.ID, WebhookUUID: hook.UUID, Status: store.StatusSuccess, Limit: 1})
		if err != nil {
			return false, err.Error()
		}
		return total == n, fmt.Sprintf("%d successful", total)
	})
	t.Logf("published and delivered %d events in %s", n, time.Since(t0))
	got := rc.ids()
	if rc.count() != n || len(got) != n {
		t.Errorf("receiver got %d requests for %d distinct events, want %d of each", rc.count(), len(got), n)
	}
	for id, c := range got {
		if c != 1 || !want[id] {
			t.Errorf("event %s received %d times (published: %v)", id, c, want[id])
		}
	}
}

// New validates its configuration.
func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := loopbackClient(time.Second)
	for name, cfg := range map[string]delivery.Config{
		"no client":        {},
		"negative delay":   {Client: client, Schedule: []time.Duration{0, -time.Second}},
		"lease <= timeout": {Client: client, Timeout: 10 * time.Second, Lease: 10 * time.Second},
	} {
		if _, err := delivery.New(e.st, cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	if _, err := delivery.New(e.st, delivery.Config{Client: client}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// Receivers that break the connection: an untrusted TLS certificate and a
// hang-up without an answer are retried, with short texts.
func TestBrokenConnectionsRetried(t *testing.T) {
	t.Parallel()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	hangUp := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	cases := []struct{ name, url, want string }{
		{"untrusted certificate", tlsSrv.URL + "/hook", "TLS handshake failed"},
		{"hang-up", hangUp.url(), "connection closed by the receiver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			hook := e.addWebhook(tc.url)
			cfg := baseConfig()
			cfg.Schedule = []time.Duration{0, 10 * time.Millisecond}
			e.start(cfg)
			id := e.publishOne()
			rec := e.waitStatus(id, hook.UUID, store.StatusFailed, 2)
			as := e.attempts(rec.DeliveryID)
			if len(as) != 2 {
				t.Fatalf("%d attempts, want 2 (retried)", len(as))
			}
			for i, a := range as {
				if a.StatusCode != 0 || !strings.HasPrefix(a.Error, tc.want) {
					t.Errorf("attempt %d: code %d, error %q; want %q", i+1, a.StatusCode, a.Error, tc.want)
				}
				checkCleanError(t, a.Error, hook.Secret)
			}
		})
	}
}

// The engine never holds more claims than it has workers: with every worker
// stuck on a slow receiver, the rest of the backlog stays unclaimed in the
// store (memory is bounded by in-flight work, not by the backlog).
func TestClaimsBoundedByConcurrency(t *testing.T) {
	t.Parallel()
	const workers, events = 4, 20
	e := newEnv(t)
	gate := make(chan struct{})
	var inFlight, maxInFlight atomic.Int64
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-gate:
		case <-time.After(waitTimeout):
		}
		inFlight.Add(-1)
	})
	hook := e.addWebhook(rc.url())
	batch := make([]ingest.Event, events)
	for i := range batch {
		batch[i] = ingest.Event{User: "bob"}
	}
	res := e.publish(batch...)
	cfg := baseConfig()
	cfg.Concurrency = workers
	cfg.PerWebhookConcurrency = -1 // this test is about the global bound
	cfg.BatchSize = 128
	e.start(cfg)
	waitFor(t, fmt.Sprintf("%d requests in flight", workers), func() (bool, string) {
		n := inFlight.Load()
		return n == workers, fmt.Sprintf("%d in flight", n)
	})
	// Every slot is taken, so the claim loop is parked: the store shows
	// exactly `workers` leased deliveries and the rest still due.
	st, err := e.st.QueueStats(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Scheduled != workers || st.Due != events-workers {
		t.Errorf("queue with every worker busy: %d leased, %d due; want %d and %d", st.Scheduled, st.Due, workers, events-workers)
	}
	close(gate)
	for _, r := range res {
		e.waitStatus(r.EventID, hook.UUID, store.StatusSuccess, 1)
	}
	if m := maxInFlight.Load(); m > workers {
		t.Errorf("%d requests were in flight at once, want at most %d", m, workers)
	}
	if rc.count() != events {
		t.Errorf("receiver got %d requests, want %d", rc.count(), events)
	}
}

// TestSlowWebhookCannotStarveOthers: with a per-webhook cap, a webhook whose
// endpoint hangs holds at most its cap of workers; another webhook's
// deliveries flow meanwhile.
func TestSlowWebhookCannotStarveOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	defer close(gate)
	var slowInFlight, slowMax atomic.Int64
	slow := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		n := slowInFlight.Add(1)
		for {
			m := slowMax.Load()
			if n <= m || slowMax.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-gate:
		case <-time.After(waitTimeout):
		}
		slowInFlight.Add(-1)
	})
	fast := newReceiver(t, nil)
	slowHook := e.addWebhook(slow.url(), func(w *store.Webhook) { w.FilterUsers = []string{"slow"} })
	fastHook := e.addWebhook(fast.url(), func(w *store.Webhook) { w.FilterUsers = []string{"fast"} })
	_ = slowHook
	var slowEvents []ingest.Event
	for range 30 {
		slowEvents = append(slowEvents, ingest.Event{User: "slow"})
	}
	e.publish(slowEvents...)
	cfg := baseConfig()
	cfg.Concurrency = 4
	cfg.PerWebhookConcurrency = 2
	e.start(cfg)
	waitFor(t, "the slow endpoint to hold its cap", func() (bool, string) {
		n := slowInFlight.Load()
		return n == 2, fmt.Sprintf("%d in flight", n)
	})
	res := e.publish(ingest.Event{User: "fast"}, ingest.Event{User: "fast"}, ingest.Event{User: "fast"})
	for _, r := range res {
		e.waitStatus(r.EventID, fastHook.UUID, store.StatusSuccess, 1)
	}
	if m := slowMax.Load(); m > 2 {
		t.Fatalf("%d attempts to the slow webhook at once, want at most its cap of 2", m)
	}
}

// TestFallbackPickupsCounted: a delivery published with a wake-up is picked
// up by it; one stored without the publisher's (another process that cannot
// reach the engine) waits for the fallback poll on SQLite, and the observer
// counts it, while PostgreSQL's own notification wakes the engine.
func TestFallbackPickupsCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, nil)
	hook := e.addWebhook(rc.url(), withEvents("outbound.delivered"))
	obs := &observer{}
	cfg := baseConfig()
	cfg.PollInterval = 200 * time.Millisecond
	cfg.Observer = obs
	e.start(cfg)

	woken := e.publishOne()
	e.waitStatus(woken, hook.UUID, store.StatusSuccess, 1)
	before := obs.polledUp.Load()

	// Published straight into the store: no wake-up reaches the engine.
	// PostgreSQL announces every publish to every node itself (NOTIFY), so
	// there a wake-up does reach the engine and nothing is counted. On
	// SQLite the engine finds it on its fallback poll and counts it — unless
	// the publish landed while the claimer was still between its last claim
	// and its look at the next due time (it then finds it at once, without
	// sleeping): a race of the test's, so up to three tries, one of which
	// must be counted.
	_, notifies := e.st.(store.Waker)
	silent := &ingest.Publisher{Store: e.st}
	for try := 1; ; try++ {
		res, err := silent.Publish(context.Background(), []ingest.Event{{AccountID: e.acc.ID, Type: "outbound.delivered", User: "alice"}})
		if err != nil {
			t.Fatal(err)
		}
		e.waitStatus(res[0].EventID, hook.UUID, store.StatusSuccess, 1)
		n := obs.polledUp.Load() - before
		if notifies {
			if n != 0 {
				t.Fatalf("PostgreSQL: %d fallback pickups counted, want 0 (NOTIFY wakes the engine)", n)
			}
			if try == 3 {
				return
			}
			continue
		}
		if n > 1 {
			t.Fatalf("%d fallback pickups counted for one delivery", n)
		}
		if n == 1 {
			return
		}
		if try == 3 {
			t.Fatalf("the delivery the publisher did not announce: no fallback pickup counted in %d tries", try)
		}
	}
}
