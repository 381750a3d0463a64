package api_test

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

// TestRotateSecret: a rotation answers the new secret and how long the old
// one keeps signing; during the grace period a delivery carries both
// Standard Webhooks signatures (new first), X-Webhook-Signature only the new.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, allowLoopback)
	ctx := t.Context()
	rcv := newReceiver(t, http.StatusOK, `{"received":true}`)
	w := e.hookTo(e.A, "Rotating", rcv.URL)
	id := w.UUID.String()
	oldSecret := *w.Secret
	raw := e.doJSON(rawReq{method: "GET", path: "/webhooks/" + id}, 200)["webhook"].(map[string]any)
	for _, k := range []string{"previous_secret_expires_at", "disabled_reason", "disabled_at"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("fresh webhook: %s = %v (present %v), want an explicit null", k, v, ok)
		}
	}

	// Without a body: the default grace of 24 hours.
	e.clock.Advance(time.Minute)
	m := e.doJSON(rawReq{method: "POST", path: "/webhooks/" + id + "/rotate-secret"}, 200)
	if m["success"] != true || m["message"] != "Webhook secret rotated" {
		t.Errorf("rotate envelope = %v", m)
	}
	rotated := e.get(e.A, w.UUID)
	newSecret := *rotated.Secret
	if newSecret == oldSecret {
		t.Fatal("rotation kept the secret")
	}
	checkSecret(t, newSecret)
	if got, ok := m["webhook"].(map[string]any)["secret"].(string); !ok || got != newSecret {
		t.Errorf("rotate answered secret %v, GET says %s", m["webhook"].(map[string]any)["secret"], newSecret)
	}
	now := e.clock.Unix()
	if exp, err := rotated.PreviousSecretExpiresAt.Get(); err != nil || exp != now+86400 {
		t.Errorf("previous_secret_expires_at = %v (%v), want now+24h = %d", exp, err, now+86400)
	}
	if rotated.LastModified != now || rotated.CreatedAt != w.CreatedAt {
		t.Errorf("last_modified/created_at = %d/%d, want %d/%d", rotated.LastModified, rotated.CreatedAt, now, w.CreatedAt)
	}
	// Nothing else changed.
	want := *w
	want.Secret, want.LastModified, want.PreviousSecretExpiresAt = rotated.Secret, rotated.LastModified, rotated.PreviousSecretExpiresAt
	if !reflect.DeepEqual(*rotated, want) {
		t.Errorf("after rotation:\n got  %+v\n want %+v", *rotated, want)
	}

	// A test send now carries two v1 signatures: the new secret's, then the old one's.
	res, err := e.A.C.TestWebhook(ctx, id, "")
	if err != nil || !res.Delivered {
		t.Fatalf("test send after rotation: %+v, %v", res, err)
	}
	d := rcv.only(t)
	sigs := strings.Fields(d.header.Get("webhook-signature"))
	if wantSigs := standardSignatures(t, d.header, d.body, newSecret, oldSecret); !reflect.DeepEqual(sigs, wantSigs) {
		t.Errorf("webhook-signature = %q, want new then old: %q", sigs, wantSigs)
	}
	if got, want := d.header.Get("X-Webhook-Signature"), jetEmailSignature(newSecret, d.body); got != want {
		t.Errorf("X-Webhook-Signature = %q, want the new secret's %q", got, want)
	}
	if d.header.Get("webhook-id") != res.EventID || d.header.Get("X-Webhook-ID") != res.EventID {
		t.Errorf("delivery ids %q/%q, want the test event %s", d.header.Get("webhook-id"), d.header.Get("X-Webhook-ID"), res.EventID)
	}
	// The Go verifier accepts the delivery with the new secret alone: both
	// schemes verify.
	verify := func(secrets []string, h http.Header) (signature.Result, error) {
		t.Helper()
		v, err := signature.NewVerifier(secrets)
		if err != nil {
			t.Fatal(err)
		}
		return v.Verify(h, d.body)
	}
	if r, err := verify([]string{newSecret}, d.header); err != nil || !r.JetEmail || !r.Standard || r.ID != res.EventID {
		t.Errorf("verify with the new secret: %+v, %v", r, err)
	}
	// With the old secret alone, only the Standard Webhooks header can verify:
	// X-Webhook-Signature carries the new secret's signature only, and
	// Verifier requires every scheme present to verify. A receiver still on
	// the old secret therefore checks webhook-signature alone, which is what
	// deleting the X-Webhook-* headers simulates here.
	if _, err := verify([]string{oldSecret}, d.header); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("verify all headers with the old secret: %v, want ErrInvalidSignature (X-Webhook-Signature is the new secret's)", err)
	}
	stdOnly := d.header.Clone()
	for _, k := range []string{"X-Webhook-Id", "X-Webhook-Timestamp", "X-Webhook-Signature"} {
		stdOnly.Del(k)
	}
	if r, err := verify([]string{oldSecret}, stdOnly); err != nil || !r.Standard || r.JetEmail {
		t.Errorf("verify webhook-signature with the old secret: %+v, %v", r, err)
	}
	// A secret that was never this webhook's verifies nothing.
	stranger, _ := signature.NewSecret()
	if _, err := verify([]string{stranger}, stdOnly); !errors.Is(err, signature.ErrInvalidSignature) {
		t.Errorf("verify with an unrelated secret: %v, want ErrInvalidSignature", err)
	}

	// Grace 0: the old secret stops signing at once.
	e.clock.Advance(time.Minute)
	third, err := e.A.C.RotateSecret(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !third.PreviousSecretExpiresAt.IsNull() {
		t.Errorf("grace 0: previous_secret_expires_at = %v, want null", third.PreviousSecretExpiresAt)
	}
	if *third.Secret == newSecret || *third.Secret == oldSecret {
		t.Error("grace-0 rotation reused a secret")
	}
	if got := e.get(e.A, w.UUID); !got.PreviousSecretExpiresAt.IsNull() || *got.Secret != *third.Secret {
		t.Errorf("GET after grace-0 rotation: %+v", got)
	}
	if _, err := e.A.C.TestWebhook(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	d = rcv.requests()[1]
	if sigs, want := strings.Fields(d.header.Get("webhook-signature")), standardSignatures(t, d.header, d.body, *third.Secret); !reflect.DeepEqual(sigs, want) {
		t.Errorf("after grace-0 rotation webhook-signature = %q, want only the newest %q", sigs, want)
	}

	// An explicit grace: 7 days is the maximum, and the old secret signs
	// until it ends, not after.
	e.clock.Advance(time.Minute)
	fourth := e.doJSON(rawReq{method: "POST", path: "/webhooks/" + id + "/rotate-secret", body: `{"grace_period":604800}`}, 200)
	if exp := fourth["webhook"].(map[string]any)["previous_secret_expires_at"]; exp != float64(e.clock.Unix()+604800) {
		t.Errorf("grace 604800: previous_secret_expires_at = %v, want %d", exp, e.clock.Unix()+604800)
	}
	fourthSecret := fourth["webhook"].(map[string]any)["secret"].(string)
	hour, err := e.A.C.RotateSecret(ctx, id, 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if exp, _ := hour.PreviousSecretExpiresAt.Get(); exp != e.clock.Unix()+5400 {
		t.Errorf("grace 90m: previous_secret_expires_at = %d, want %d", exp, e.clock.Unix()+5400)
	}
	e.clock.Advance(90*time.Minute + time.Second)
	if _, err := e.A.C.TestWebhook(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	d = rcv.requests()[2]
	if sigs, want := strings.Fields(d.header.Get("webhook-signature")), standardSignatures(t, d.header, d.body, *hour.Secret); !reflect.DeepEqual(sigs, want) {
		t.Errorf("after the grace period webhook-signature = %q, want only the newest %q (not %s's)", sigs, want, fourthSecret[:10])
	}
}

// TestRotateSecretRefusals: the grace period's bounds, the body's shape, and
// webhooks that are not the caller's.
func TestRotateSecretRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.create(e.A, createReq("Refusals"))
	id := w.UUID.String()
	path := "/webhooks/" + id + "/rotate-secret"
	for _, body := range []string{
		`{"grace_period":-1}`,
		`{"grace_period":604801}`,
		`{"grace_period":"3600"}`,
		`{"grace_period":1.5}`,
		`{"grace":3600}`,
		`[]`,
		`{"grace_period":`,
	} {
		if r := e.do(rawReq{method: "POST", path: path, body: body}); r.status != http.StatusBadRequest {
			t.Errorf("rotate with %s: %d %s, want 400", body, r.status, r.body)
		}
	}
	if r := e.do(rawReq{method: "POST", path: path, body: `{}`, header: http.Header{"Content-Type": {"text/plain"}}}); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("rotate with text/plain: %d, want 415", r.status)
	}
	if r := e.do(rawReq{method: "POST", path: path, body: `{"grace_period":1,"pad":"` + strings.Repeat("x", 1<<20) + `"}`}); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("rotate with a 1M body: %d, want 413", r.status)
	}
	if got := e.get(e.A, w.UUID); *got.Secret != *w.Secret || !got.PreviousSecretExpiresAt.IsNull() {
		t.Errorf("refused rotations changed the webhook: %+v", got)
	}

	// Unknown, foreign and malformed uuids are the same 404.
	unknown := "0b7e4a3c-9d1f-4c2a-8e5b-6f7a8b9c0d1e"
	rUnknown := e.do(rawReq{method: "POST", path: "/webhooks/" + unknown + "/rotate-secret"})
	rForeign := e.do(rawReq{method: "POST", path: path, header: bearer(e.B.Key)})
	rJunk := e.do(rawReq{method: "POST", path: "/webhooks/not-a-uuid/rotate-secret", body: `{}`})
	for name, r := range map[string]rawResp{"unknown": rUnknown, "foreign": rForeign, "malformed": rJunk} {
		if r.status != http.StatusNotFound || !bytes.Equal(r.body, rUnknown.body) {
			t.Errorf("rotate of a %s uuid: %d %s, want the 404 of an unknown one", name, r.status, r.body)
		}
	}
	if _, err := e.B.C.RotateSecret(t.Context(), id, -1); !client.IsNotFound(err) {
		t.Errorf("client rotate by B: %v, want 404", err)
	}
	if got := e.get(e.A, w.UUID); *got.Secret != *w.Secret {
		t.Error("B rotated A's secret")
	}
}
