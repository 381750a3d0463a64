// Command custom serves the API with one operation of its own: webhook
// creation is audited, the other operations are the service's. Every request
// still passes authentication, rate limits, validation, idempotency and
// error mapping before it reaches either.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/server"
)

// audited overrides CreateWebhook and delegates everything else to ours.
type audited struct {
	apiserver.StrictServerInterface
	log *slog.Logger
}

func (a audited) CreateWebhook(ctx context.Context, req apiserver.CreateWebhookRequestObject) (apiserver.CreateWebhookResponseObject, error) {
	a.log.Info("audit: webhook create", "account", server.AccountFrom(ctx).ID, "url", req.Body.URL)
	return a.StrictServerInterface.CreateWebhook(ctx, req)
}

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "jetwebhooks-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(os.Stdout, nil))
	srv, err := server.Open(ctx, server.Config{DB: filepath.Join(dir, "hooks.db"), Logger: logger,
		Handlers: func(ours apiserver.StrictServerInterface) apiserver.StrictServerInterface {
			return audited{StrictServerInterface: ours, log: logger}
		}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()

	c, err := client.New("http://"+ln.Addr().String(), srv.Bootstrap.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "Audited", URL: "https://example.com/hook",
		Events: []client.SubscribableEventType{"outbound.delivered"}})
	if err != nil {
		log.Fatal(err)
	}
	got, err := c.GetWebhook(ctx, w.UUID.String()) // the service's own operation
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created through the audited operation and read back:", got.Name)
	stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
}
