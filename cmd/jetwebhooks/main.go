// Command jetwebhooks runs the jetwebhooks service and works with it:
// `serve` runs the API and the delivery engine, `accounts` manages tenants,
// `webhooks` drives the API from a terminal, `listen` receives and verifies
// deliveries locally, and `send-event` publishes a trial event.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/server/gcfloor"
)

// Exit codes, distinct so scripts can tell what went wrong.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure (database, network, …)
	exitUsage   = 2 // bad flags or arguments
	exitAPI     = 3 // the server answered 4xx/5xx
	exitNetwork = 4 // the server could not be reached
)

// usageError marks errors caused by how the command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	// A small live heap and a high allocation rate: without a floor the
	// collector would run dozens of times a second (see package gcfloor).
	// Setting GOGC turns this off.
	gcfloor.Start(gcfloor.DefaultFloor)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code; tests call it
// directly with captured output.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "Error:", err)
	var ec interface{ exitCode() int }
	if errors.As(err, &ec) {
		return ec.exitCode()
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "jetwebhooks",
		Short:         "A self-hostable, JetEmail-compatible webhooks service",
		Long:          "jetwebhooks serves JetEmail's /webhooks API, delivers signed events with retries and keeps a queryable history.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(), newAccountsCmd(), newBenchCmd())
	root.AddCommand(newWebhooksCmd(), newListenCmd(), newSendEventCmd())
	root.AddCommand(newPortalCmd())
	return root
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
