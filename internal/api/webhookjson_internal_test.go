package api

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// The hand-written GET encoder must write byte for byte what the generated
// response type writes for the same webhook; a member added to the spec's
// Webhook schema makes this fail until the encoder writes it too.
func TestWebhookJSONMatchesModel(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	base := store.Webhook{UUID: "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", AccountID: "acc_1", Name: "My Webhook",
		URL: "https://example.com/webhook", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Events: []string{"outbound.delivered", "inbound.received"}, Enabled: true, CreatedAt: t0, LastModified: t0.Add(time.Hour)}
	cases := map[string]func(w *store.Webhook){
		"plain":            func(*store.Webhook) {},
		"disabled by hand": func(w *store.Webhook) { w.Enabled = false },
		"disabled by 410": func(w *store.Webhook) {
			w.Enabled, w.DisabledReason, w.DisabledAt = false, "endpoint answered 410 Gone", t0.Add(2*time.Hour)
		},
		"filters": func(w *store.Webhook) {
			w.FilterUsers, w.FilterDomains = []string{"api-user", "smtp"}, []string{"example.com"}
		},
		"empty filters": func(w *store.Webhook) { w.FilterUsers, w.FilterDomains = []string{}, []string{} },
		"no events":     func(w *store.Webhook) { w.Events = nil },
		"rotating": func(w *store.Webhook) {
			w.PreviousSecret, w.PreviousSecretExpiresAt = "whsec_old", t0.Add(24*time.Hour)
		},
		"rotation expired":  func(w *store.Webhook) { w.PreviousSecret = ""; w.PreviousSecretExpiresAt = t0 },
		"upper-case uuid":   func(w *store.Webhook) { w.UUID = "3F2B1C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D" },
		"escapes in name":   func(w *store.Webhook) { w.Name = `quote " backslash \ <tag> & amp` },
		"control and utf-8": func(w *store.Webhook) { w.Name = "tab\there\nnew é ü 日本 \u2028 \x7f" },
		"invalid utf-8":     func(w *store.Webhook) { w.Name = "bad \xff byte" },
		"url with query":    func(w *store.Webhook) { w.URL = "https://example.com/hook?a=1&b=<2>" },
		"old times":         func(w *store.Webhook) { w.CreatedAt, w.LastModified = time.Unix(0, 0), time.Unix(-5, 0) },
		"headers": func(w *store.Webhook) {
			w.Headers = map[string]string{"X-Tenant": "acme", "Authorization": "Bearer <tok>&\"", "a": "ü\tz", "B&c": ""}
		},
		"empty headers":   func(w *store.Webhook) { w.Headers = map[string]string{} },
		"fifo":            func(w *store.Webhook) { w.Ordering = store.OrderingFIFO },
		"unordered":       func(w *store.Webhook) { w.Ordering = store.OrderingUnordered },
		"rate limit":      func(w *store.Webhook) { w.RateLimit = 25 },
		"fifo rate limit": func(w *store.Webhook) { w.Ordering, w.RateLimit = store.OrderingFIFO, 1 },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			w := base
			w.Events = append([]string(nil), base.Events...)
			mod(&w)
			want := httptest.NewRecorder()
			if err := (apiserver.GetWebhook200JSONResponse{Success: true, Webhook: toModelWithSecret(&w)}).VisitGetWebhookResponse(want); err != nil {
				t.Fatal(err)
			}
			got := httptest.NewRecorder()
			if err := (getWebhookResponse{&w}).VisitGetWebhookResponse(got); err != nil {
				t.Fatal(err)
			}
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Fatalf("status/type %d %q, want %d %q", got.Code, got.Header().Get("Content-Type"), want.Code, want.Header().Get("Content-Type"))
			}
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Fatalf("body differs from the generated encoding:\n got %s\nwant %s", got.Body, want.Body)
			}
		})
	}
}

// isUUID accepts exactly what the regular expression it replaced did.
func TestIsUUIDMatchesTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	for _, s := range []string{
		"3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "3F2B1C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D", "00000000-0000-0000-0000-000000000000",
		"", "3f2b1c4d5e6f4a7b8c9d0e1f2a3b4c5d", "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5", "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5dd",
		"3f2b1c4d-5e6f-4a7b-8c9d_0e1f2a3b4c5d", "g f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5g",
		"3f2b1c4d--5e6f-4a7b-8c9d-0e1f2a3b4c5", "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5\n", "{3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c}",
	} {
		if got, want := isUUID(s), re.MatchString(s); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
