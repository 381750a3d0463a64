package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
)

func newWebhooksRotateSecretCmd(c *conn) *cobra.Command {
	var (
		uuid  string
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret [UUID]",
		Short: "Give a webhook a new signing secret; the old one keeps signing for a grace period (POST /webhooks/{uuid}/rotate-secret)",
		Long: `Rotate a webhook's signing secret and print the webhook with the new one.

For --grace (0 to 168h, default 24h) deliveries carry Standard Webhooks signatures with
both secrets, so the receiver can switch without dropping a delivery; X-Webhook-Signature
uses the new secret. After the grace period the old secret is erased.`,
		Example: `  jetwebhooks webhooks rotate-secret 0b6f…
  jetwebhooks webhooks rotate-secret --uuid 0b6f… --grace 1h --output json
  jetwebhooks webhooks rotate-secret 0b6f… --grace 0   # the old secret stops at once`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: c.runE(func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error {
			id, err := uuidFrom(uuid, args)
			if err != nil {
				return err
			}
			g := time.Duration(-1) // the server's default
			if changed(cmd, "grace") {
				if grace < 0 || grace > 7*24*time.Hour || grace%time.Second != 0 {
					return usagef("--grace must be whole seconds between 0s and 168h")
				}
				g = grace
			}
			w, err := cl.RotateSecret(cmd.Context(), id, g)
			if err != nil {
				return err
			}
			return p.webhook(w)
		}),
		ValidArgsFunction: c.completeWebhookUUIDs,
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "the webhook's uuid (or give it as the argument)")
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the old secret keeps signing (0s to 168h)")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	return cmd
}

func newWebhooksTestCmd(c *conn) *cobra.Command {
	var uuid, eventType string
	cmd := &cobra.Command{
		Use:   "test [UUID]",
		Short: "Deliver a marked sample event now and show the outcome (POST /webhooks/{uuid}/test)",
		Long: `Send a test event (data "test": true, source action TEST) to the webhook at once —
even if it is disabled — and print the receiver's status code, the duration and any error.
The attempt is recorded in the history; a failed test is not retried. The command exits 0
when the test was carried out, whatever the receiver answered; use --output json and
"delivered" to script on the outcome.`,
		Example: `  jetwebhooks webhooks test 0b6f…
  jetwebhooks webhooks test --uuid 0b6f… --event-type inbound.received --output json`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: c.runE(func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error {
			id, err := uuidFrom(uuid, args)
			if err != nil {
				return err
			}
			var typ client.SubscribableEventType
			if changed(cmd, "event-type") {
				evs, err := parseEvents("event-type", []string{eventType})
				if err != nil {
					return err
				}
				typ = evs[0]
			}
			res, err := cl.TestWebhook(cmd.Context(), id, typ)
			if err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(res)
			}
			code := "no answer"
			if v, err := res.StatusCode.Get(); err == nil {
				code = fmt.Sprintf("HTTP %d", v)
			}
			verdict := "delivered"
			if !res.Delivered {
				verdict = "NOT delivered"
			}
			fmt.Fprintf(p.w, "Test event %s %s: %s in %d ms.\n", res.EventID, verdict, code, res.DurationMs)
			if e, err := res.Error.Get(); err == nil && e != "" {
				if res.ErrorClass != nil {
					fmt.Fprintf(p.w, "Error (%s): %s\n", *res.ErrorClass, e)
				} else {
					fmt.Fprintf(p.w, "Error: %s\n", e)
				}
			}
			if res.ResponseBody != nil && *res.ResponseBody != "" {
				fmt.Fprintf(p.w, "Response body: %s\n", p.cell(*res.ResponseBody, 200))
			}
			return nil
		}),
		ValidArgsFunction: c.completeWebhookUUIDs,
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "the webhook's uuid (or give it as the argument)")
	cmd.Flags().StringVar(&eventType, "event-type", "", "the sample event's type (default outbound.delivered)")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	return cmd
}
