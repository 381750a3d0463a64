package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// newWebhooksAttemptsCmd is `jetwebhooks webhooks attempts UUID EVENT_ID`:
// every attempt of one delivery and why it failed.
func newWebhooksAttemptsCmd(c *conn) *cobra.Command {
	return &cobra.Command{
		Use:   "attempts UUID EVENT_ID",
		Short: "Show every attempt of one delivery and why it failed (GET /webhooks/{uuid}/events/{event_id}/attempts)",
		Long: `Show every attempt of the delivery of one event to one webhook (the WEBHOOK and
EVENT ID of a query row), oldest first: when it was made, how long it took, the
receiver's status code, why it failed (class and message) and the start of the
receiver's answer. --output json prints the API's attempt objects.

Classes: timeout, connection_refused, connection_failed, tls, destination_refused
(the name does not resolve, or the egress policy refuses its address), http_status,
redirect (never followed; the message names the target), response_too_large.`,
		Example: `  jetwebhooks webhooks query --status failed
  jetwebhooks webhooks attempts 0b6f… evt_…
  jetwebhooks webhooks attempts 0b6f… evt_… --output json | jq -r '.[].error_class'`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: c.runE(func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error {
			id, err := parseUUID("uuid", args[0])
			if err != nil {
				return err
			}
			eventID := strings.TrimSpace(args[1])
			if eventID == "" {
				return usagef("EVENT_ID must not be empty")
			}
			as, err := cl.ListDeliveryAttempts(cmd.Context(), id.String(), eventID)
			if err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(as)
			}
			if len(as) == 0 {
				_, err := fmt.Fprintln(p.w, "No attempts yet.")
				return err
			}
			tw := p.table()
			fmt.Fprintln(tw, "#\tTIME\tDURATION\tSTATUS\tCLASS\tERROR\tRESPONSE BODY")
			for _, a := range as {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Attempt, unixTime(a.At),
					(time.Duration(a.DurationMs) * time.Millisecond).String(), statusText(a), classText(a),
					p.cell(orDash(a.Error.Get()), 60), p.cell(bodyText(a.ResponseBody), 60))
			}
			return tw.Flush()
		}),
		ValidArgsFunction: c.completeWebhookUUIDs,
	}
}

// statusText is an attempt's HTTP status, or "-" without an answer.
func statusText(a client.DeliveryAttempt) string {
	if v, err := a.StatusCode.Get(); err == nil {
		return strconv.Itoa(v)
	}
	return "-"
}

// classText is an attempt's error class, "-" for a success.
func classText(a client.DeliveryAttempt) string {
	if a.ErrorClass != nil {
		return string(*a.ErrorClass)
	}
	return "-"
}

// lastFailure sums up a query record's last attempt for the query table:
// "class: message", or "-" when it succeeded or none was made.
func lastFailure(e client.EventRecord) string {
	a, err := e.LastAttempt.Get()
	if err != nil {
		return "-"
	}
	if a.ErrorClass == nil {
		return "-"
	}
	class := *a.ErrorClass
	if msg, err := a.Error.Get(); err == nil && msg != "" {
		return string(class) + ": " + msg
	}
	return string(class)
}

func orDash(s string, err error) string {
	if err != nil || s == "" {
		return "-"
	}
	return s
}

// bodyText shows a response body excerpt on one table line: runs of
// whitespace (newlines included) become one space.
func bodyText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}
