// Command echo embeds jetwebhooks in an Echo application under /hooks.
//
//	go run ./examples/echo          # runs a round trip against itself and exits
//	go run ./examples/echo -serve   # keeps serving on -addr until Ctrl-C
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/labstack/echo/v4"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	serve := flag.Bool("serve", false, "keep serving after the round trip")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "jetwebhooks-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	srv, err := server.Open(ctx, server.Config{DB: filepath.Join(dir, "hooks.db"), BasePath: "/hooks"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	app := echo.New()
	app.HideBanner = true
	app.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "my Echo app\n") })
	app.Any("/hooks/*", echo.WrapHandler(srv.Handler()))

	bg, stopBG := context.WithCancel(ctx)
	bgDone := make(chan error, 1)
	go func() { bgDone <- srv.RunBackground(bg) }()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	app.Listener = ln
	go app.Start("")
	base := "http://" + ln.Addr().String()
	fmt.Println("serving on", base, "with the webhooks API under", base+"/hooks")

	resp, err := http.Get(base + "/hooks/openapi.yaml")
	if err != nil || resp.StatusCode != http.StatusOK {
		log.Fatalf("the spec under /hooks: %v %v", resp, err)
	}
	resp.Body.Close()
	c, err := client.New(base+"/hooks", srv.Bootstrap.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the spec and the API answer under /hooks; %d webhook(s)\n", len(list))
	if *serve {
		<-ctx.Done()
	}
	app.Shutdown(context.Background())
	stopBG()
	if err := <-bgDone; err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
}
