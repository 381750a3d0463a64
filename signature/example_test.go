package signature_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/signature"
)

// A receiver checks a delivery's headers against the raw body. Here the
// delivery is produced with a Signer, as jetwebhooks does when it sends.
func ExampleVerifier_Verify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // as shown when the webhook was created
	body := []byte(`{"test": 2432232314}`)
	sent := time.Unix(1614265330, 0)

	signer, _ := signature.NewSigner(secret)
	h := http.Header{}
	signer.Sign(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body)

	// A fixed clock keeps the example deterministic; real receivers omit
	// WithClock and get time.Now.
	v, err := signature.NewVerifier([]string{secret}, signature.WithClock(func() time.Time { return sent.Add(time.Minute) }))
	if err != nil {
		panic(err)
	}
	res, err := v.Verify(h, body)
	fmt.Println(res.ID, res.JetEmail, res.Standard, err)

	_, err = v.Verify(h, []byte(`{"test": 1}`))
	fmt.Println(err)
	// Output:
	// msg_p5jXN8AQM9LWM0D4loKWxJek true true <nil>
	// signature: invalid webhook signature: X-Webhook-Signature does not match
}

// Wrap the webhook handler with the middleware: unauthenticated requests
// get 401 and never reach it, and the handler can still read the body.
func ExampleVerifier_Middleware() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1704825600, 0)
	v, err := signature.NewVerifier([]string{secret}, signature.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := signature.ResultFromContext(r.Context())
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("handler: event %s, %d body bytes\n", res.ID, len(body))
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/jetemail", v.Middleware(1<<20)(handler))

	body := `{"id":"evt_abc123","type":"outbound.delivered"}`
	signer, _ := signature.NewSigner(secret)

	// A genuine delivery.
	req := httptest.NewRequest(http.MethodPost, "/webhooks/jetemail", strings.NewReader(body))
	signer.Sign(req.Header, "evt_abc123", now, []byte(body))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// A forgery without valid signatures.
	req = httptest.NewRequest(http.MethodPost, "/webhooks/jetemail", strings.NewReader(body))
	req.Header.Set(signature.HeaderTimestamp, "1704825600")
	req.Header.Set(signature.HeaderSignature, "sha256=0000")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// handler: event evt_abc123, 47 body bytes
	// 200
	// 401 {"error":"signature: invalid webhook signature: X-Webhook-Signature does not match"}
}
