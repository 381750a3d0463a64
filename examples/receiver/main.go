// Command receiver is a webhook receiver that verifies both signature
// schemes (JetEmail's X-Webhook-Signature and Standard Webhooks) with package
// signature, fed by an in-process jetwebhooks it subscribes to.
package main

import (
	"context"
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
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "jetwebhooks-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The service, allowed to reach this receiver on loopback.
	srv, err := server.Open(ctx, server.Config{DB: filepath.Join(dir, "hooks.db"),
		EgressAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, apiLn) }()
	c, err := client.New("http://"+apiLn.Addr().String(), srv.Bootstrap.APIKey)
	if err != nil {
		log.Fatal(err)
	}

	// The receiver: subscribe, then verify every delivery before using it.
	recvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "Receiver", URL: "http://" + recvLn.Addr().String() + "/webhook",
		Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := signature.NewVerifier([]string{*w.Secret})
	if err != nil {
		log.Fatal(err)
	}
	got := make(chan string, 1)
	go http.Serve(recvLn, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(rw, "read", http.StatusBadRequest)
			return
		}
		if _, err := verifier.Verify(r.Header, body); err != nil {
			http.Error(rw, "bad signature", http.StatusUnauthorized)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
		select {
		case got <- string(body):
		default:
		}
	}))

	if _, err := srv.Publish(ctx, server.Event{AccountID: srv.Bootstrap.AccountID, Type: "outbound.delivered", User: "api-user",
		Data: map[string]any{"to": "user@example.com"}}); err != nil {
		log.Fatal(err)
	}
	select {
	case body := <-got:
		fmt.Println("verified delivery:", body)
	case <-time.After(30 * time.Second):
		log.Fatal("no verified delivery within 30 s")
	}
	stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
}
