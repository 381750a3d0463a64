// Command readme is the code of README.md's "Use it from Go" section, whole
// and runnable: each README snippet is cut from a region of this file marked
// "README: <name>" (TestREADMESnippets holds the two together), and
// TestExamplesRun runs it, in this module and from a module outside it.
//
// It embeds a server under /hooks, talks to it with the client, and receives
// a delivery on a handler guarded by signature verification.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/signature"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "jetwebhooks-readme")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + ln.Addr().String()

	// README: embed
	srv, err := server.Open(ctx, server.Config{
		DB:          filepath.Join(dir, "jetwebhooks.db"),
		BasePath:    "/hooks",
		EgressAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, // local receivers: development only
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	mux := http.NewServeMux()
	mux.Handle("/hooks/", srv.Handler()) // the API, /hooks/openapi.yaml, /hooks/docs/, health, metrics
	background := make(chan error, 1)
	go func() { background <- srv.RunBackground(ctx) }() // delivery engine and maintenance, until ctx ends
	go http.Serve(ln, mux)
	// README: end

	apiKey := srv.Bootstrap.APIKey
	received := make(chan []byte, 1)
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- body
	})
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	receiverURL := "http://" + rln.Addr().String() + "/webhook"

	// README: client
	c, err := client.New(base+"/hooks", apiKey)
	if err != nil {
		log.Fatal(err)
	}
	w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{
		Name:   "Production Webhook",
		URL:    receiverURL,
		Events: []client.SubscribableEventType{"outbound.delivered", "outbound.bounced"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", w.UUID)

	var apiErr *client.Error
	if _, err := c.GetWebhook(ctx, "00000000-0000-4000-8000-000000000000"); errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message) // 404 Webhook not found.
	}
	// README: end

	// README: verify
	v, err := signature.NewVerifier([]string{*w.Secret})
	if err != nil {
		log.Fatal(err)
	}
	receiver := http.NewServeMux()
	receiver.Handle("/webhook", v.Middleware(1<<20)(handler)) // 401 for anything not signed with the secret
	go http.Serve(rln, receiver)
	// README: end

	// README: publish
	if _, err := srv.Publish(ctx, server.Event{AccountID: srv.Bootstrap.AccountID, Type: "outbound.delivered",
		User: "api-user", Data: map[string]any{"to": "user@example.com"}}); err != nil {
		log.Fatal(err)
	}
	// README: end

	select {
	case body := <-received:
		fmt.Printf("verified delivery of %d bytes\n", len(body))
	case <-ctx.Done():
		log.Fatal("no verified delivery")
	}
	cancel() // stops the engine; wait for it before the store closes
	if err := <-background; err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
}
