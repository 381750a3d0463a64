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
	"github.com/spf13/pflag"

	"github.com/jetwebhooks/jetwebhooks/internal/gcfloor"
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
	// The one place an error is printed: cobra's own printing is off
	// (SilenceErrors), and commands return errors rather than print them.
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
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newServeCmd(), newAccountsCmd(), newBenchCmd())
	root.AddCommand(newWebhooksCmd(), newListenCmd(), newSendEventCmd())
	root.AddCommand(newPortalCmd(), newIngestTokenCmd(), newVersionCmd(), newDocsCmd())
	addVersionFlag(root)
	addSecretFileFlags(root)
	strictGroups(root)
	root.Long += exitCodesHelp
	return root
}

// exitCodesHelp ends the root command's --help; README.md says the same.
const exitCodesHelp = `

Exit codes: 0 success; 1 failure at run time (database, network, the server
refused); 2 usage error (unknown command or flag, bad flag value or argument);
commands that call the API also use 3 (the server refused the request) and 4
(the server could not be reached).`

// strictGroups makes every command that only groups subcommands (the root,
// accounts, ingest-token, …) refuse an unknown subcommand as a usage error
// (exit 2) instead of printing its help and exiting 0; with no argument it
// still prints its help.
func strictGroups(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		strictGroups(sub)
	}
	if !cmd.HasSubCommands() || cmd.Args != nil {
		return
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q (see %s --help)", args[0], c.CommandPath(), c.CommandPath())
		}
		return nil
	}
	if cmd.Run == nil && cmd.RunE == nil {
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
}

// flagError words a flag parse error plainly, names the command's --help and
// makes it a usage error (exit 2). pflag's "invalid argument "x" for "--n"
// flag: strconv.ParseInt: parsing "x": invalid syntax" becomes
// "--n: "x" is not a valid integer".
func flagError(c *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		f := iv.GetFlag()
		what := map[string]string{
			"int": "an integer", "int64": "an integer", "uint": "a non-negative integer", "float64": "a number",
			"bool": "true or false", "duration": "a duration like 30s, 5m or 1h",
		}[f.Value.Type()]
		if what == "" {
			return usagef("--%s: %q is not valid: %v (see %s --help)", f.Name, iv.GetValue(), iv.Unwrap(), c.CommandPath())
		}
		return usagef("--%s: %q is not %s (see %s --help)", f.Name, iv.GetValue(), what, c.CommandPath())
	}
	return usagef("%v (see %s --help)", err, c.CommandPath())
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
