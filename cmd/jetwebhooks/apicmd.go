package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
)

const defaultBaseURL = "http://127.0.0.1:8080"

// credential says which secret a group of commands authenticates with.
type credential struct {
	flag, env, what string
}

var (
	apiKeyCred      = credential{flag: "api-key", env: "JETWEBHOOKS_API_KEY", what: "the account's API key (api_…)"}
	ingestTokenCred = credential{flag: "ingest-token", env: "JETWEBHOOKS_INGEST_TOKEN", what: "the server's ingest token"}
)

// conn holds the connection and output flags shared by the commands that
// call the API: --base-url, the credential flag and --output. Secrets are
// read from the environment only at run time (never as flag defaults), so
// --help can never print them.
type conn struct {
	cred    credential
	baseURL string
	secret  string
	output  string
}

// addFlags registers the flags on cmd; persistent ones reach every
// subcommand of a group.
func (c *conn) addFlags(cmd *cobra.Command, persistent bool) {
	f := cmd.Flags()
	if persistent {
		f = cmd.PersistentFlags()
	}
	f.StringVar(&c.baseURL, "base-url", defaultBaseURL, "URL of the jetwebhooks server (env JETWEBHOOKS_BASE_URL)")
	f.StringVar(&c.secret, c.cred.flag, "", c.cred.what+" (env "+c.cred.env+"; never printed)")
	f.StringVarP(&c.output, "output", "o", outputTable, "output format: table or json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(outputTable, outputJSON))
}

// resolve fills unset flags from the environment and checks them.
func (c *conn) resolve(cmd *cobra.Command) error {
	if !changed(cmd, "base-url") {
		if v := os.Getenv("JETWEBHOOKS_BASE_URL"); v != "" {
			c.baseURL = v
		}
	}
	if !changed(cmd, c.cred.flag) {
		c.secret = os.Getenv(c.cred.env)
	}
	if strings.TrimSpace(c.secret) == "" {
		return usagef("--%s or %s is required: %s", c.cred.flag, c.cred.env, c.cred.what)
	}
	return nil
}

// client returns a client for the resolved connection.
func (c *conn) client() (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("jetwebhooks-cli/" + client.Version)}
	key := c.secret
	if c.cred == ingestTokenCred {
		opts = append(opts, client.WithIngestToken(c.secret))
		key = ""
	}
	cl, err := client.New(c.baseURL, key, opts...)
	if err != nil {
		return nil, usagef("--base-url: %q is not a valid URL: give the server's http(s) address, like %s", c.baseURL, defaultBaseURL)
	}
	return cl, nil
}

// apiRun is the body of an API command: it has validated its own flags (or
// returns a usageError), and talks to the server through cl.
type apiRun func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error

// runE wraps an API command: it checks --output, resolves the connection,
// builds the client, runs fn and classifies its error for the exit code.
// New API subcommands (rotate-secret, test, …) need nothing more than an
// apiRun and one AddCommand.
func (c *conn) runE(fn apiRun) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := newPrinter(cmd, c.output)
		if err != nil {
			return err
		}
		if err := c.resolve(cmd); err != nil {
			return err
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		return classify(fn(cmd, args, cl, p), c.baseURL, c.secret)
	}
}

// changed reports whether the flag was given on the command line.
func changed(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	return f != nil && f.Changed
}

// usageArgs makes an argument validator's error a usage error (exit 2).
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// fixedCompletion completes a flag from a fixed list of values.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// Event types, for validation messages and shell completion. Validation
// itself uses the generated enums' Valid methods, so the contract decides.
var (
	subscribableEvents = []string{
		"outbound.delivered", "outbound.bounced", "outbound.rejected", "outbound.deferred",
		"outbound.spam", "outbound.dropped", "outbound.virus", "outbound.opened",
		"outbound.clicked", "outbound.complaint",
		"inbound.received", "inbound.delivered", "inbound.spam", "inbound.blocked",
	}
	allEvents     = append([]string{"outbound.queued"}, subscribableEvents...)
	queryStatuses = []string{"pending", "retry", "success", "delivered", "failed"}
)

// parseEvents checks --event values against the subscribable event types.
func parseEvents(flag string, values []string) ([]client.SubscribableEventType, error) {
	out := make([]client.SubscribableEventType, 0, len(values))
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			ev := client.SubscribableEventType(part)
			if !ev.Valid() {
				return nil, usagef("--%s: %q is not an event type a webhook can subscribe to (one of %s)", flag, part, strings.Join(subscribableEvents, ", "))
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// parseEventType checks one event type, outbound.queued included.
func parseEventType(flag, v string) (client.EventType, error) {
	ev := client.EventType(v)
	if !ev.Valid() {
		return "", usagef("--%s: %q is not an event type (one of %s)", flag, v, strings.Join(allEvents, ", "))
	}
	return ev, nil
}

// parseStatus reads a webhook status for a request: 0/1 as JetEmail's CLI
// takes it, or disabled/enabled.
func parseStatus(v string) (*client.StatusInput, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "enabled":
		return client.Status(true), nil
	case "0", "disabled":
		return client.Status(false), nil
	}
	return nil, usagef("--status: %q is not 0 (disabled) or 1 (enabled)", v)
}

// parseUUID reads a webhook uuid for a request body.
func parseUUID(flag, v string) (openapi_types.UUID, error) {
	var u openapi_types.UUID
	if err := u.UnmarshalText([]byte(strings.TrimSpace(v))); err != nil {
		return u, usagef("--%s: %q is not a webhook uuid", flag, v)
	}
	return u, nil
}

// parseDate reads unix seconds, an RFC 3339 time or a YYYY-MM-DD date (UTC)
// and returns unix seconds. A bare date is the start of that day, or its
// last second when endOfDay is set, so --date-to 2026-01-31 includes the
// whole day.
func parseDate(flag, v string, endOfDay bool) (int64, error) {
	v = strings.TrimSpace(v)
	if v != "" && strings.Trim(v, "0123456789") == "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.Unix(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Second)
		}
		return t.Unix(), nil
	}
	return 0, usagef("--%s: %q is not unix seconds, an RFC 3339 time or a YYYY-MM-DD date", flag, v)
}

// completionTimeout bounds the API call a shell completion may make.
const completionTimeout = 3 * time.Second

// completeWebhookUUIDs completes a webhook uuid from the account's webhooks,
// when the connection is configured; otherwise it offers nothing.
func (c *conn) completeWebhookUUIDs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	if c.resolve(cmd) != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := c.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	ws, err := cl.ListWebhooks(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s\t%s (%s)", w.UUID, w.Name, w.URL))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
