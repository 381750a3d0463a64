// Command nethttp embeds jetwebhooks in a program's own net/http server,
// under /hooks, beside the program's own routes.
//
//	go run ./examples/nethttp          # runs a round trip against itself and exits
//	go run ./examples/nethttp -serve   # keeps serving on -addr until Ctrl-C
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	db := flag.String("db", "", "SQLite file (default: a temporary one)")
	serve := flag.Bool("serve", false, "keep serving after the round trip")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *db == "" {
		dir, err := os.MkdirTemp("", "jetwebhooks-example")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*db = filepath.Join(dir, "hooks.db")
	}

	srv, err := server.Open(ctx, server.Config{DB: *db, BasePath: "/hooks"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "my app\n") })
	mux.Handle("/hooks/", srv.Handler()) // the API, /hooks/openapi.yaml, /hooks/docs/, health, metrics

	bg, stopBG := context.WithCancel(ctx)
	bgDone := make(chan error, 1)
	go func() { bgDone <- srv.RunBackground(bg) }() // delivery engine and maintenance

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	base := "http://" + ln.Addr().String()
	fmt.Println("serving on", base, "with the webhooks API under", base+"/hooks")

	if b := srv.Bootstrap; b != nil {
		c, err := client.New(base+"/hooks", b.APIKey)
		if err != nil {
			log.Fatal(err)
		}
		w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{Name: "From the example", URL: "https://example.com/hook",
			Events: []client.SubscribableEventType{"outbound.delivered"}})
		if err != nil {
			log.Fatal(err)
		}
		list, err := c.ListWebhooks(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("created webhook %s; the account has %d webhook(s)\n", w.UUID, len(list))
	}
	if *serve {
		<-ctx.Done()
	}
	hs.Shutdown(context.Background())
	stopBG()
	if err := <-bgDone; err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
}
