package portal_test

// End-to-end tests in a real browser: Debian's Chromium, headless, driven
// through the DevTools protocol by chromedp. They skip when Chromium is not
// installed, unless JETWEBHOOKS_TEST_BROWSER=required (CI sets it). With
// JETWEBHOOKS_PORTAL_SCREENSHOTS=<dir> (make screenshots) they also save
// PNGs of the main pages there, for the README.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// chrome starts a headless Chromium for the test and returns a tab. Any
// JavaScript dialog (alert, confirm, prompt) fails the test: no page of the
// portal opens one, so one means injected script ran.
func chrome(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("JETWEBHOOKS_TEST_BROWSER") == "required" {
			t.Fatal("chromium is required (JETWEBHOOKS_TEST_BROWSER=required) but not installed")
		}
		t.Skip("chromium not installed; .ci/run installs it (apt-get install chromium)")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("a JavaScript dialog opened (script ran): %q", ev.Message)
			_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// tab wraps a browser tab with the steps the tests take.
type tab struct {
	t    *testing.T
	ctx  context.Context
	shot string // screenshot directory, or ""
}

func newTab(t *testing.T) *tab {
	return &tab{t: t, ctx: chrome(t), shot: os.Getenv("JETWEBHOOKS_PORTAL_SCREENSHOTS")}
}

// step bounds one step, so a missing element fails the test with its
// selector instead of waiting for the test's whole deadline.
func (b *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 20*time.Second)
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates and waits for the page to load.
func (b *tab) open(u string) {
	b.t.Helper()
	b.do("open "+u, chromedp.Navigate(u))
}

// click clicks what sel finds and waits for the page it leads to.
func (b *tab) click(sel string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *tab) eval(js string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *tab) wantText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s says %q, want %q (at %s)", sel, got, want, b.location())
	}
}

// usable checks what every page must have: a label for every control, no
// element wider than the window, nothing injected.
func (b *tab) usable(name string) {
	b.t.Helper()
	unlabelled, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
		.filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).map(el => el.name || el.id)`))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label: %v", name, unlabelled)
	}
	if !b.eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
		b.t.Errorf("%s: the page is wider than the window", name)
	}
	if !b.eval(`document.querySelectorAll('script, img, iframe, object').length === 0`) {
		b.t.Errorf("%s: the page holds a script, img, iframe or object element", name)
	}
}

// screenshot saves the page as <name>.png when screenshots are asked for.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	if b.shot == "" {
		return
	}
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// receiver is a loopback endpoint answering with a fixed status and body,
// counting what it receives.
type receiver struct {
	*httptest.Server
	hits atomic.Int64
}

func newReceiver(t *testing.T, status int, body string) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(r.Close)
	return r
}

// TestBrowserFlows walks the portal's flows in Chromium: sign in with a
// minted link, create an endpoint and see it listed, send a test and see
// the attempt, see a failing receiver's reason, replay, rotate the secret,
// sign out, and be refused with the used link.
func TestBrowserFlows(t *testing.T) {
	t.Parallel()
	onBothBackends(t, testBrowserFlows)
}

func testBrowserFlows(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	ok := newReceiver(t, http.StatusOK, `{"received":true}`)
	failing := newReceiver(t, http.StatusInternalServerError, "boom: the database is down")
	b := newTab(t)

	// Mint a link (the operator's backend) and log in.
	link := e.mint(e.A)
	b.open(link)
	if loc := b.location(); loc != e.url+"/portal/" {
		t.Fatalf("after the link the browser is at %q, want the portal without the token", loc)
	}
	b.wantText("h1", "Endpoints")
	b.wantText(".account", "Acme")
	// The first Tab reaches the skip link: the page is keyboard-navigable from the top.
	b.do("tab", chromedp.KeyEvent("\t"))
	if !b.eval(`document.activeElement.classList.contains('skip')`) {
		t.Error("the first Tab does not reach the skip link")
	}

	// Create an endpoint and see it listed.
	b.click(`a[href$="/webhooks/new"]`)
	b.usable("new endpoint")
	b.do("fill the form", chromedp.SendKeys(chromedp.ID("name"), "Orders service"), chromedp.SendKeys(chromedp.ID("url"), ok.URL+"/hooks"),
		chromedp.Click(chromedp.CSS(`input[value="outbound.bounced"]`)))
	b.click("#create")
	b.wantText(".notice", "Endpoint created.")
	b.wantText("h1", "Orders service")
	hookURL := b.location()
	b.click(`nav a[href$="/portal/"]`)
	b.wantText("#endpoints", "Orders service")
	b.wantText("#endpoints", ok.URL+"/hooks")
	b.wantText("#endpoints", "Enabled")
	hooks, err := e.A.C.ListWebhooks(t.Context())
	if err != nil || len(hooks) != 1 || len(hooks[0].Events) != 2 {
		t.Fatalf("the API sees %+v, %v", hooks, err)
	}

	// Send a test and see the attempt.
	b.open(hookURL)
	b.usable("endpoint")
	b.click("#send-test")
	b.wantText("#test-outcome", "Delivered: your endpoint answered 200")
	b.wantText("#test-body", `{"received":true}`)
	b.click(`dd a[href*="/deliveries/"]`)
	b.wantText("#delivery-status", "success")
	b.wantText(".attempt .code", "200")
	b.wantText(".attempt", `{"received":true}`)
	b.usable("delivery")

	// A failing receiver: the failure and its reason.
	b.click(`nav a[href$="/portal/"]`)
	b.click(`a[href$="/webhooks/new"]`)
	b.do("fill the form", chromedp.SendKeys(chromedp.ID("name"), "Billing"), chromedp.SendKeys(chromedp.ID("url"), failing.URL))
	b.click("#create")
	b.click("#send-test")
	b.wantText("#test-outcome", "Not delivered: HTTP 500")
	b.wantText("#test-code", "500")
	b.wantText("#test-class", "http_status")
	b.wantText("#test-body", "boom: the database is down")
	b.click(`dd a[href*="/deliveries/"]`)
	deliveryURL := b.location()
	b.wantText(".attempt-class", "http_status")
	b.wantText(".attempt-error", "HTTP 500")
	b.wantText(".response-body", "boom: the database is down")

	// Replay that delivery: the receiver hears it again.
	before := failing.hits.Load()
	b.click("#replay-delivery")
	b.wantText(".notice", "Queued for delivery again.")
	waitFor(t, "the replayed delivery to reach the receiver", func() bool { return failing.hits.Load() > before })
	// The log shows both endpoints' deliveries; filtering by status narrows it.
	b.open(e.url + "/portal/deliveries?status=failed")
	b.usable("delivery log")
	waitFor(t, "the log to show the failure", func() bool {
		b.open(e.url + "/portal/deliveries?status=failed")
		return strings.Contains(b.text("main"), "outbound.delivered") && !strings.Contains(b.text("main"), "No deliveries match")
	})
	b.open(deliveryURL)

	// Rotate the secret, showing the grace period.
	b.open(hookURL)
	b.click("#reveal")
	oldSecret := b.text("#secret-value")
	if !strings.HasPrefix(oldSecret, "whsec_") {
		t.Fatalf("revealed secret %q", oldSecret)
	}
	b.do("choose 7 days", chromedp.SetValue(chromedp.ID("grace-select"), "604800"))
	b.click("#rotate")
	b.wantText(".notice", "Secret rotated")
	newSecret := b.text("#secret-value")
	b.wantText("#grace", "Grace period: the previous secret also signs deliveries until")
	w, err := e.A.C.GetWebhook(t.Context(), hooks[0].UUID.String())
	if err != nil || w.Secret == nil || *w.Secret != newSecret || newSecret == oldSecret {
		t.Fatalf("after rotating the API has %v (%v); the page showed %q, the old one %q", w.Secret, err, newSecret, oldSecret)
	}
	if exp, _ := w.PreviousSecretExpiresAt.Get(); exp < time.Now().Add(7*24*time.Hour-time.Minute).Unix() {
		t.Errorf("grace period ends at %d, want about 7 days from now", exp)
	}

	// Log out; the session and the used link no longer work.
	b.click(".signout button")
	b.wantText("#message", "You are signed out")
	b.open(e.url + "/portal/")
	b.wantText("h1", "Sign-in required")
	b.open(link)
	b.wantText("h1", "This link does not work")
}

// TestBrowserInertMarkup: markup in what a user or a receiver controls (a
// refused name typed in the form, a webhook URL, a receiver's answer) is
// shown as text; no script runs.
func TestBrowserInertMarkup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	const payload = `<img src=x onerror=alert(1)><script>alert(2)</script>`
	evil := newReceiver(t, http.StatusOK, payload)
	// A URL may carry markup in its query: the API takes it.
	w, err := e.A.C.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "Evil", URL: evil.URL + "/?q=" + payload,
		Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t)
	b.open(e.mint(e.A))
	b.wantText("#endpoints", payload)
	b.usable("endpoints with markup")

	// The name is refused by the API's rule, and shown back in the form.
	b.click(`a[href$="/webhooks/new"]`)
	b.do("fill", chromedp.SendKeys(chromedp.ID("name"), payload), chromedp.SendKeys(chromedp.ID("url"), "https://example.com/h"))
	b.click("#create")
	b.wantText("#form-error", "Invalid name")
	v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("name")))
	if err != nil || v != payload {
		t.Errorf("the form shows the typed name as %q, %v", v, err)
	}
	b.usable("refused form")

	// A receiver answering markup.
	plain := e.hook(e.A, "Plain", evil.URL+"/hooks")
	b.open(e.url + "/portal/webhooks/" + w.UUID.String())
	b.wantText(".url", payload)
	b.usable("endpoint with markup")
	b.open(e.url + "/portal/webhooks/" + plain.UUID.String())
	b.click("#send-test")
	b.wantText("#test-body", payload)
	b.usable("test result with markup")
	b.click(`dd a[href*="/deliveries/"]`)
	b.wantText(".response-body", payload)
	b.usable("delivery with markup")
	// Give a script that slipped through the time to run before the end.
	time.Sleep(200 * time.Millisecond)
}

// TestBrowserScreenshots visits the main pages with some history, at a
// desktop and a phone width, checks each is usable, and saves screenshots
// when asked (make screenshots).
func TestBrowserScreenshots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ok := newReceiver(t, http.StatusOK, `{"ok":true}`)
	var flaky atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if flaky.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "upstream unavailable")
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer bad.Close()
	e.hook(e.A, "Orders service", ok.URL+"/webhooks/orders")
	billing := e.hook(e.A, "Billing", bad.URL+"/billing")
	e.hook(e.A, "Staging", "https://staging.example.com/hooks")
	// An endpoint that is down: its bounces fail every attempt.
	down := newReceiver(t, http.StatusBadGateway, `{"error":"upstream CRM unavailable"}`)
	crm, err := e.A.C.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "Legacy CRM", URL: down.URL + "/crm",
		Events: []client.SubscribableEventType{"outbound.bounced"}})
	if err != nil {
		t.Fatal(err)
	}
	// A day of traffic, more of it in the daytime; Billing's receiver
	// fails every third request (then the retry succeeds).
	now := time.Now()
	var evs []server.Event
	for h := range 24 {
		n := 2 + (h*7)%5
		if h > 8 && h < 18 {
			n += 4
		}
		for i := range n {
			evs = append(evs, server.Event{AccountID: e.A.ID, Type: "outbound.delivered", User: "api-user",
				CreatedAt: now.Add(-time.Duration(23-h)*time.Hour - time.Duration(i)*time.Minute),
				Data:      map[string]any{"uid": fmt.Sprintf("msg-%d-%d", h, i), "to": "customer@example.com", "subject": "Your order"}})
		}
	}
	evs = append(evs, server.Event{AccountID: e.A.ID, Type: "outbound.bounced", User: "api-user", CreatedAt: now.Add(-time.Hour),
		Data: map[string]any{"uid": "msg-bounce-1", "to": "nobody@example.org", "subject": "Your order", "reason": "550 5.1.1 user unknown"}})
	if _, err := e.srv.Publish(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the day's deliveries", func() bool {
		for _, st := range []string{store.StatusPending, store.StatusRetry} {
			if _, n, err := e.st.QueryDeliveries(t.Context(), &store.QueryParams{AccountID: e.A.ID, Status: st}); err != nil || n > 0 {
				return false
			}
		}
		return true
	})
	// And a test that failed for good.
	if _, err := e.A.C.TestWebhook(t.Context(), billing.UUID.String(), "outbound.bounced"); err != nil {
		t.Fatal(err)
	}

	b := newTab(t)
	b.open(e.mint(e.A))
	pages := []struct{ name, path string }{
		{"endpoints", "/portal/"},
		{"endpoint", "/portal/webhooks/" + billing.UUID.String()},
		{"deliveries", "/portal/deliveries"},
		{"events", "/portal/events"},
		{"stats", "/portal/stats"},
		{"docs", "/portal/docs"},
	}
	for _, p := range pages {
		b.open(e.url + p.path)
		b.usable(p.name)
		b.screenshot(p.name)
	}
	b.open(e.url + "/portal/deliveries?status=failed&webhook=" + crm.UUID.String())
	b.click(`#deliveries tbody a`)
	b.wantText(".attempt", "upstream CRM unavailable")
	b.usable("delivery")
	b.screenshot("delivery")
	// A phone.
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range pages[:3] {
		b.open(e.url + p.path)
		b.usable(p.name + " on a phone")
	}
	b.open(e.url + "/portal/")
	b.screenshot("phone")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
