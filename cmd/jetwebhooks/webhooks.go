package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/nullable"
)

// newWebhooksCmd is `jetwebhooks webhooks`: JetEmail's webhooks commands,
// with its flag names, against a jetwebhooks server. Every subcommand is
// built on the Go client; adding one is an apiRun and one AddCommand.
func newWebhooksCmd() *cobra.Command {
	c := &conn{cred: apiKeyCred}
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Manage webhooks, query their delivery history, replay events",
		Long: `Manage the account's webhooks through the API, with the flags of JetEmail's CLI.

The server is --base-url (env JETWEBHOOKS_BASE_URL, default ` + defaultBaseURL + `) and the
account's key --api-key (env JETWEBHOOKS_API_KEY); the key is never printed. Results are
a table, or with --output json the API's JSON.

Exit codes: 0 ok, 1 other failure, 2 usage error, 3 the server refused the request
(its message is printed), 4 the server could not be reached.`,
		Example: `  export JETWEBHOOKS_API_KEY=api_…
  jetwebhooks webhooks create --name Local --url http://127.0.0.1:9000/ --event outbound.delivered
  jetwebhooks webhooks list
  jetwebhooks webhooks query --status failed --date-from 2026-01-01 --output json
  jetwebhooks webhooks attempts 0b6f… evt_…`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.addFlags(cmd, true)
	cmd.AddCommand(
		newWebhooksListCmd(c),
		newWebhooksGetCmd(c),
		newWebhooksCreateCmd(c),
		newWebhooksUpdateCmd(c),
		newWebhooksDeleteCmd(c),
		newWebhooksQueryCmd(c),
		newWebhooksAttemptsCmd(c),
		newWebhooksReplayCmd(c),
		newWebhooksRotateSecretCmd(c),
		newWebhooksTestCmd(c),
	)
	return cmd
}

func newWebhooksListCmd(c *conn) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the account's webhooks (GET /webhooks; no secrets)",
		Example: `  jetwebhooks webhooks list
  jetwebhooks webhooks list --output json | jq -r '.[].uuid'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: c.runE(func(cmd *cobra.Command, _ []string, cl *client.Client, p *printer) error {
			ws, err := cl.ListWebhooks(cmd.Context())
			if err != nil {
				return err
			}
			if ws == nil {
				ws = []client.Webhook{}
			}
			if p.json() {
				return p.printJSON(ws)
			}
			if len(ws) == 0 {
				_, err := fmt.Fprintln(p.w, "No webhooks. Create one with: jetwebhooks webhooks create --name NAME --url URL --event outbound.delivered")
				return err
			}
			tw := p.table()
			fmt.Fprintln(tw, "UUID\tNAME\tSTATUS\tEVENTS\tURL")
			for _, w := range ws {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.UUID, p.cell(w.Name, 24), w.Status,
					p.cell(eventsText(w.Events), 40), p.cell(w.URL, 50))
			}
			return tw.Flush()
		}),
	}
}

// uuidFrom returns the webhook uuid given as --uuid or as the argument.
func uuidFrom(flag string, args []string) (string, error) {
	switch {
	case len(args) == 1 && flag != "" && args[0] != flag:
		return "", usagef("give the uuid once: as an argument or with --uuid")
	case len(args) == 1:
		flag = args[0]
	}
	if strings.TrimSpace(flag) == "" {
		return "", usagef("missing --uuid: which webhook? (jetwebhooks webhooks list shows them)")
	}
	return strings.TrimSpace(flag), nil
}

func newWebhooksGetCmd(c *conn) *cobra.Command {
	var uuid string
	cmd := &cobra.Command{
		Use:   "get [UUID]",
		Short: "Show one webhook, with its signing secret (GET /webhooks/{uuid})",
		Example: `  jetwebhooks webhooks get --uuid 0b6f…
  jetwebhooks webhooks get 0b6f… --output json | jq -r .secret`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: c.runE(func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error {
			id, err := uuidFrom(uuid, args)
			if err != nil {
				return err
			}
			w, err := cl.GetWebhook(cmd.Context(), id)
			if err != nil {
				return err
			}
			return p.webhook(w)
		}),
		ValidArgsFunction: c.completeWebhookUUIDs,
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "the webhook's uuid (or give it as the argument)")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	return cmd
}

// webhookFlags are the fields create and update share, with JetEmail's
// flag names.
type webhookFlags struct {
	name, url, status       string
	events, users, domains  []string
	clearUsers, clearDomain bool
	// ordering and rateLimit are the delivery controls (extensions).
	ordering  string
	rateLimit int
}

func (wf *webhookFlags) add(cmd *cobra.Command, update bool) {
	f := cmd.Flags()
	f.StringVar(&wf.name, "name", "", "webhook name: letters, digits, -, _ and spaces, at most 64")
	f.StringVar(&wf.url, "url", "", "http(s) URL deliveries are POSTed to")
	f.StringArrayVar(&wf.events, "event", nil, "event type to subscribe to (repeatable, or comma-separated)")
	f.StringVar(&wf.status, "status", "", "1 (enabled) or 0 (disabled)")
	f.StringArrayVar(&wf.users, "filter-user", nil, "only outbound events of this sending username (repeatable); default all")
	f.StringArrayVar(&wf.domains, "filter-domain", nil, "only inbound events of this domain (repeatable); default all")
	if update {
		f.BoolVar(&wf.clearUsers, "clear-filter-users", false, "remove the user filter (send null): every user matches again")
		f.BoolVar(&wf.clearDomain, "clear-filter-domains", false, "remove the domain filter (send null): every domain matches again")
	}
	f.StringVar(&wf.ordering, "ordering", "", "delivery order (extension): fifo (one at a time, in order) or unordered (the default)")
	f.IntVar(&wf.rateLimit, "rate-limit", 0, "most delivery attempts per second to this webhook (extension; 0: no limit)")
	_ = cmd.RegisterFlagCompletionFunc("event", fixedCompletion(subscribableEvents...))
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("1\tenabled", "0\tdisabled"))
	_ = cmd.RegisterFlagCompletionFunc("ordering", fixedCompletion("fifo\tone at a time, in order", "unordered\tconcurrently (default)"))
}

// controls sets the delivery controls given as flags on a create or update
// request and reports how many were given.
func (wf *webhookFlags) controls(cmd *cobra.Command, ordering **client.Ordering, rate **int) (int, error) {
	n := 0
	if changed(cmd, "ordering") {
		o := client.Ordering(wf.ordering)
		if !o.Valid() {
			return 0, usagef("--ordering must be fifo or unordered, not %q", wf.ordering)
		}
		*ordering, n = &o, n+1
	}
	if changed(cmd, "rate-limit") {
		if wf.rateLimit < 0 || wf.rateLimit > 1000 {
			return 0, usagef("--rate-limit must be 0 (no limit) to 1000, not %d", wf.rateLimit)
		}
		r := wf.rateLimit
		*rate, n = &r, n+1
	}
	return n, nil
}

// filter returns the request value for a filter flag pair.
func filterValue(flag string, values []string, clear bool) (nullable.Nullable[[]string], error) {
	switch {
	case clear && len(values) > 0:
		return nil, usagef("--%s and --clear-%ss contradict each other", flag, flag)
	case clear:
		return client.ClearFilter(), nil
	case len(values) > 0:
		return client.Filter(values...), nil
	}
	return nil, nil
}

func newWebhooksCreateCmd(c *conn) *cobra.Command {
	var wf webhookFlags
	var hf headerFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a webhook and print it with its signing secret (POST /webhooks)",
		Long: `Create a webhook. The answer includes its whsec_ signing secret: give it to the
receiver (jetwebhooks listen --secret, or signature.NewVerifier in Go).

--header 'Name: value' (repeatable) adds a custom header to every delivery; since a
value may be a credential, --headers-file PATH (- for stdin) reads them from a file
instead, one 'Name: value' a line. The server refuses reserved names (Host, Content-*,
User-Agent, the hop-by-hop ones, Webhook-* and X-Webhook-*) and more than 20 headers or
4096 bytes in all.`,
		Example: `  jetwebhooks webhooks create --name "Production Webhook" --url https://example.com/webhook \
      --event outbound.delivered --event outbound.bounced
  jetwebhooks webhooks create --name Local --url http://127.0.0.1:9000/ --event outbound.delivered \
      --filter-user api-user --status 0 --output json
  printf 'Authorization: Bearer %s\n' "$TOKEN" | jetwebhooks webhooks create --name Routed \
      --url https://example.com/webhook --event outbound.delivered --header 'X-Tenant: acme' --headers-file -
  jetwebhooks webhooks create --name Ledger --url https://example.com/ledger --event outbound.delivered \
      --ordering fifo --rate-limit 10`,
		Args: usageArgs(cobra.NoArgs),
		RunE: c.runE(func(cmd *cobra.Command, _ []string, cl *client.Client, p *printer) error {
			req := client.CreateWebhookRequest{Name: wf.name, URL: wf.url}
			switch {
			case strings.TrimSpace(wf.name) == "":
				return usagef("--name is required")
			case strings.TrimSpace(wf.url) == "":
				return usagef("--url is required")
			case len(wf.events) == 0:
				return usagef("--event is required (repeatable): one of %s", strings.Join(subscribableEvents, ", "))
			}
			var err error
			if req.Events, err = parseEvents("event", wf.events); err != nil {
				return err
			}
			if changed(cmd, "status") {
				if req.Status, err = parseStatus(wf.status); err != nil {
					return err
				}
			}
			if req.FilterUsers, err = filterValue("filter-user", wf.users, false); err != nil {
				return err
			}
			if req.FilterDomains, err = filterValue("filter-domain", wf.domains, false); err != nil {
				return err
			}
			headers, err := hf.read(cmd)
			if err != nil {
				return err
			}
			req.Headers = client.Headers(headers)
			if _, err := wf.controls(cmd, &req.Ordering, &req.RateLimit); err != nil {
				return err
			}
			w, err := cl.CreateWebhook(cmd.Context(), req)
			if err != nil {
				return err
			}
			return p.webhook(w)
		}),
	}
	wf.add(cmd, false)
	hf.add(cmd, false)
	return cmd
}

func newWebhooksUpdateCmd(c *conn) *cobra.Command {
	var (
		wf   webhookFlags
		uuid string
	)
	var hf headerFlags
	cmd := &cobra.Command{
		Use:   "update [UUID]",
		Short: "Change the given fields of a webhook (PATCH /webhooks)",
		Long: `Change a webhook. Only the fields given change; --event replaces the whole list,
--filter-user/--filter-domain replace the filter, --clear-filter-users/--clear-filter-domains
remove it (every user or domain matches again).

--header 'Name: value' (repeatable) and --headers-file PATH (- for stdin, one 'Name: value'
a line) replace every custom header of the webhook with the ones given: they are not
merged, so give the whole set. --clear-headers removes them all. Leaving all three out
keeps the headers as they are.

The answer carries no webhook: the table says what was updated and --output json prints
{"success": true, "uuid": "…"}.`,
		Example: `  jetwebhooks webhooks update 0b6f… --status 0
  jetwebhooks webhooks update 0b6f… --event outbound.delivered --event outbound.bounced
  jetwebhooks webhooks update --uuid 0b6f… --clear-filter-users
  jetwebhooks webhooks update 0b6f… --headers-file ./receiver-headers
  jetwebhooks webhooks update 0b6f… --clear-headers
  jetwebhooks webhooks update 0b6f… --ordering unordered --rate-limit 0`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: c.runE(func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error {
			id, err := uuidFrom(uuid, args)
			if err != nil {
				return err
			}
			req := client.UpdateWebhookRequest{}
			if req.UUID, err = parseUUID("uuid", id); err != nil {
				return err
			}
			fields := 0
			if changed(cmd, "name") {
				req.Name, fields = &wf.name, fields+1
			}
			if changed(cmd, "url") {
				req.URL, fields = &wf.url, fields+1
			}
			if changed(cmd, "event") {
				evs, err := parseEvents("event", wf.events)
				if err != nil {
					return err
				}
				if len(evs) == 0 {
					return usagef("--event needs at least one event type")
				}
				req.Events, fields = &evs, fields+1
			}
			if changed(cmd, "status") {
				if req.Status, err = parseStatus(wf.status); err != nil {
					return err
				}
				fields++
			}
			if req.FilterUsers, err = filterValue("filter-user", wf.users, wf.clearUsers); err != nil {
				return err
			}
			if req.FilterDomains, err = filterValue("filter-domain", wf.domains, wf.clearDomain); err != nil {
				return err
			}
			if req.FilterUsers.IsSpecified() {
				fields++
			}
			if req.FilterDomains.IsSpecified() {
				fields++
			}
			if hf.given(cmd) {
				headers, err := hf.read(cmd)
				if err != nil {
					return err
				}
				if hf.clear {
					req.Headers = client.ClearHeaders()
				} else {
					req.Headers = client.SetHeaders(headers)
				}
				fields++
			}
			n, err := wf.controls(cmd, &req.Ordering, &req.RateLimit)
			if err != nil {
				return err
			}
			fields += n
			if fields == 0 {
				return usagef("nothing to update: give --name, --url, --event, --status, --filter-user, --filter-domain, --clear-filter-users, --clear-filter-domains, --header, --headers-file, --clear-headers, --ordering or --rate-limit")
			}
			if err := cl.UpdateWebhook(cmd.Context(), req); err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(map[string]any{"success": true, "uuid": req.UUID.String()})
			}
			_, err = fmt.Fprintf(p.w, "Updated webhook %s.\n", req.UUID)
			return err
		}),
		ValidArgsFunction: c.completeWebhookUUIDs,
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "the webhook to update (or give it as the argument)")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	wf.add(cmd, true)
	hf.add(cmd, true)
	return cmd
}

func newWebhooksDeleteCmd(c *conn) *cobra.Command {
	var uuid string
	cmd := &cobra.Command{
		Use:   "delete [UUID]",
		Short: "Delete a webhook; pending deliveries are cancelled, history kept (DELETE /webhooks/{uuid})",
		Long: `Delete a webhook. Its pending deliveries are cancelled; its delivery history stays
queryable. --output json prints {"success": true, "uuid": "…"}.`,
		Example: `  jetwebhooks webhooks delete --uuid 0b6f…
  jetwebhooks webhooks delete 0b6f…`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: c.runE(func(cmd *cobra.Command, args []string, cl *client.Client, p *printer) error {
			id, err := uuidFrom(uuid, args)
			if err != nil {
				return err
			}
			if err := cl.DeleteWebhook(cmd.Context(), id); err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(map[string]any{"success": true, "uuid": id})
			}
			_, err = fmt.Fprintf(p.w, "Deleted webhook %s.\n", id)
			return err
		}),
		ValidArgsFunction: c.completeWebhookUUIDs,
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "the webhook's uuid (or give it as the argument)")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	return cmd
}

func newWebhooksQueryCmd(c *conn) *cobra.Command {
	var (
		uuid, eventID, eventType, sourceUID, status, dateFrom, dateTo string
		limit, offset                                                 int
	)
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Search the delivery history (POST /webhooks/query)",
		Long: `Search the account's delivery history, newest first: one record per event and
webhook, with its latest status, attempts, last response code and, when the last
attempt failed, why (its class and message; see "webhooks attempts" for every attempt).
A record a replay has queued again shows its status as, e.g., "success (replayed)".

--date-from and --date-to take unix seconds, an RFC 3339 time or a YYYY-MM-DD date (UTC;
--date-to includes the whole day). --status is pending, retry, success (or delivered)
or failed. --output json prints the API's {events, total, limit, offset}.`,
		Example: `  jetwebhooks webhooks query --status failed
  jetwebhooks webhooks query --event-id evt_… --output json
  jetwebhooks webhooks query --uuid 0b6f… --event-type outbound.bounced --date-from 2026-01-01 --limit 100`,
		Args: usageArgs(cobra.NoArgs),
		RunE: c.runE(func(cmd *cobra.Command, _ []string, cl *client.Client, p *printer) error {
			var req client.QueryRequest
			if changed(cmd, "uuid") {
				u, err := parseUUID("uuid", uuid)
				if err != nil {
					return err
				}
				req.UUID = &u
			}
			if changed(cmd, "event-id") {
				req.EventID = &eventID
			}
			if changed(cmd, "event-type") {
				ev, err := parseEventType("event-type", eventType)
				if err != nil {
					return err
				}
				req.EventType = &ev
			}
			if changed(cmd, "source-uid") {
				req.SourceUID = &sourceUID
			}
			if changed(cmd, "status") {
				st := client.QueryStatus(strings.ToLower(strings.TrimSpace(status)))
				if !st.Valid() {
					return usagef("--status: %q is not one of %s", status, strings.Join(queryStatuses, ", "))
				}
				req.Status = &st
			}
			if changed(cmd, "date-from") {
				v, err := parseDate("date-from", dateFrom, false)
				if err != nil {
					return err
				}
				req.DateFrom = &v
			}
			if changed(cmd, "date-to") {
				v, err := parseDate("date-to", dateTo, true)
				if err != nil {
					return err
				}
				req.DateTo = &v
			}
			if changed(cmd, "limit") {
				if limit < 1 || limit > 1000 {
					return usagef("--limit must be between 1 and 1000")
				}
				req.Limit = &limit
			}
			if changed(cmd, "offset") {
				if offset < 0 {
					return usagef("--offset must not be negative")
				}
				req.Offset = &offset
			}
			res, err := cl.QueryEvents(cmd.Context(), req)
			if err != nil {
				return err
			}
			if res.Events == nil {
				res.Events = []client.EventRecord{}
			}
			if p.json() {
				return p.printJSON(res)
			}
			if len(res.Events) == 0 {
				_, err := fmt.Fprintf(p.w, "No events match (total %d).\n", res.Total)
				return err
			}
			tw := p.table()
			fmt.Fprintln(tw, "EVENT ID\tTYPE\tSTATUS\tATTEMPTS\tCODE\tWEBHOOK\tSOURCE UID\tCREATED\tLAST FAILURE")
			for _, e := range res.Events {
				code := "-"
				if v, err := e.LastResponseCode.Get(); err == nil {
					code = strconv.Itoa(v)
				}
				src := e.SourceUID
				if src == "" {
					src = "-"
				}
				status := string(e.LatestStatus)
				if e.Replayed != nil && *e.Replayed {
					status += " (replayed)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.EventType, status,
					e.TotalAttempts, code, e.UUID, p.cell(src, 32), unixTime(e.CreatedAt), p.cell(lastFailure(e), 48))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(p.w, "%d–%d of %d\n", res.Offset+1, res.Offset+len(res.Events), res.Total)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&uuid, "uuid", "", "only deliveries to this webhook")
	f.StringVar(&eventID, "event-id", "", "only this event (evt_…)")
	f.StringVar(&eventType, "event-type", "", "only this event type")
	f.StringVar(&sourceUID, "source-uid", "", "only events of this source message uid")
	f.StringVar(&status, "status", "", "only this latest status: pending, retry, success (delivered), failed")
	f.StringVar(&dateFrom, "date-from", "", "only events created at or after: unix seconds, RFC 3339 or YYYY-MM-DD")
	f.StringVar(&dateTo, "date-to", "", "only events created at or before: unix seconds, RFC 3339 or YYYY-MM-DD")
	f.IntVar(&limit, "limit", 50, "page size, 1..1000")
	f.IntVar(&offset, "offset", 0, "records to skip")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	_ = cmd.RegisterFlagCompletionFunc("event-type", fixedCompletion(allEvents...))
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion(queryStatuses...))
	return cmd
}

func newWebhooksReplayCmd(c *conn) *cobra.Command {
	var eventID, sourceUID, uuid string
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Re-queue a past event for delivery (POST /webhooks/replay)",
		Long: `Re-fire a past event to the webhooks it went to (or only --uuid), with a fresh
retry schedule and the same event id. Give exactly one of --event-id or --source-uid;
--output json prints the API's {success, event_id, status, message, deliveries}.`,
		Example: `  jetwebhooks webhooks replay --event-id evt_…
  jetwebhooks webhooks replay --source-uid message-uid-123 --uuid 0b6f…`,
		Args: usageArgs(cobra.NoArgs),
		RunE: c.runE(func(cmd *cobra.Command, _ []string, cl *client.Client, p *printer) error {
			var req client.ReplayRequest
			switch {
			case changed(cmd, "event-id") && changed(cmd, "source-uid"):
				return usagef("give one of --event-id or --source-uid, not both")
			case changed(cmd, "event-id") && eventID != "":
				req.EventID = &eventID
			case changed(cmd, "source-uid") && sourceUID != "":
				req.SourceUID = &sourceUID
			default:
				return usagef("--event-id or --source-uid is required")
			}
			if changed(cmd, "uuid") {
				u, err := parseUUID("uuid", uuid)
				if err != nil {
					return err
				}
				req.UUID = &u
			}
			res, err := cl.ReplayEvent(cmd.Context(), req)
			if err != nil {
				return err
			}
			if p.json() {
				return p.printJSON(res)
			}
			n := plural(res.Deliveries, "delivery", "deliveries")
			what := "event " + res.EventID
			if res.SourceUID != "" {
				what = "message " + res.SourceUID + " (newest event " + res.EventID + ")"
			}
			_, err = fmt.Fprintf(p.w, "%s: %s, %s %s.\n", strings.TrimSuffix(res.Message, "."), what, n, res.Status)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&eventID, "event-id", "", "the event to replay (evt_…)")
	f.StringVar(&sourceUID, "source-uid", "", "replay the events of this source message uid")
	f.StringVar(&uuid, "uuid", "", "replay only to this webhook")
	_ = cmd.RegisterFlagCompletionFunc("uuid", c.completeWebhookUUIDs)
	return cmd
}

// webhook prints one webhook: the object as JSON, or one field a line.
func (p *printer) webhook(w *client.Webhook) error {
	if p.json() {
		return p.printJSON(w)
	}
	tw := p.table()
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("UUID", w.UUID.String())
	row("Name", w.Name)
	row("URL", w.URL)
	row("Status", string(w.Status))
	row("Events", eventsText(w.Events))
	row("Filter users", filterText(w.FilterUsers))
	row("Filter domains", filterText(w.FilterDomains))
	if w.Ordering != nil {
		row("Ordering", string(*w.Ordering))
	}
	if w.RateLimit != nil {
		row("Rate limit", fmt.Sprintf("%d/s", *w.RateLimit))
	}
	if w.Secret != nil {
		row("Secret", *w.Secret)
	}
	for _, h := range headerRows(w) {
		row("Header", h[0]+": "+h[1])
	}
	if v, err := w.PreviousSecretExpiresAt.Get(); err == nil {
		row("Old secret signs until", unixTime(v))
	}
	if r, err := w.DisabledReason.Get(); err == nil && r != "" {
		at, _ := w.DisabledAt.Get()
		row("Disabled by the service", r+" ("+unixTime(at)+")")
	}
	row("Created", unixTime(w.CreatedAt))
	row("Last modified", unixTime(w.LastModified))
	return tw.Flush()
}

// plural returns "1 delivery" or "n deliveries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func eventsText(evs []client.SubscribableEventType) string {
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = string(e)
	}
	return strings.Join(s, ",")
}

// filterText shows a filter; null (or empty) means every user or domain.
func filterText(f nullable.Nullable[[]string]) string {
	v, err := f.Get()
	if err != nil || len(v) == 0 {
		return "all"
	}
	return strings.Join(v, ",")
}
