package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/server"
)

// newIngestTokenCmd is `jetwebhooks ingest-token`: the token that authorises
// POST /events, as `accounts rotate-key` is for API keys.
func newIngestTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ingest-token",
		Short: "Show whether the ingest token (POST /events) is set, or rotate it",
		Long: `The ingest token authorises POST /events (jetwebhooks send-event, your mail system).
Only its SHA-256 is stored in the database; the token itself is printed once, when
it is generated (first start of serve) or rotated, and cannot be shown again.`,
	}
	cmd.AddCommand(newIngestTokenStatusCmd(), newIngestTokenRotateCmd())
	return cmd
}

var ingestTokenSources = map[string]string{
	server.IngestTokenConfigured: "given to serve (--ingest-token, --ingest-token-file or JETWEBHOOKS_INGEST_TOKEN)",
	server.IngestTokenGenerated:  "generated at the first start of serve",
	server.IngestTokenRotated:    "jetwebhooks ingest-token rotate",
}

func newIngestTokenStatusCmd() *cobra.Command {
	var (
		db     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether an ingest token is set and where it came from (never the token)",
		Long: `Say whether the database holds an ingest token and where it came from: given to serve
(--ingest-token or JETWEBHOOKS_INGEST_TOKEN, stored at each start), generated at the first
start, or rotated. --json prints {"set", "source", "changed_at"}. Exit 0 either way.`,
		Example: `  jetwebhooks ingest-token status --db ./data/jetwebhooks.db`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openExisting(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			info, err := server.IngestTokenStatus(cmd.Context(), st)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				m := map[string]any{"set": info.Set, "source": info.Source, "changed_at": nil}
				if !info.ChangedAt.IsZero() {
					m["changed_at"] = info.ChangedAt.Unix()
				}
				return json.NewEncoder(out).Encode(m)
			}
			if !info.Set {
				_, err := fmt.Fprintln(out, "No ingest token is set: POST /events is refused. Start serve once, or run jetwebhooks ingest-token rotate.")
				return err
			}
			src := ingestTokenSources[info.Source]
			if src == "" {
				src = "not recorded"
			}
			fmt.Fprintf(out, "An ingest token is set (only its hash is stored).\n  source:  %s\n", src)
			if !info.ChangedAt.IsZero() {
				fmt.Fprintf(out, "  since:   %s\n", info.ChangedAt.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newIngestTokenRotateCmd() *cobra.Command {
	var (
		db     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the ingest token and print the new one (shown only once)",
		Long: fmt.Sprintf(`Replace the ingest token with a new ing_ token, printed alone on stdout (or, with
--json, as {"ingest_token"}). Only its hash is stored. It works beside a running
server: every server re-reads the stored hash every %s, then accepts only the new
token. Update your senders (JETWEBHOOKS_INGEST_TOKEN) at once.

A server started with --ingest-token or JETWEBHOOKS_INGEST_TOKEN stores that token
again at its next start: remove it from the server's configuration, or set it to the
new token.`, server.IngestTokenRefresh),
		Example: `  jetwebhooks ingest-token rotate --db ./data/jetwebhooks.db
  NEW_TOKEN=$(jetwebhooks ingest-token rotate)`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openExisting(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			before, err := server.IngestTokenStatus(cmd.Context(), st)
			if err != nil {
				return err
			}
			tok, err := server.RotateIngestToken(cmd.Context(), st, time.Now())
			if err != nil {
				return err
			}
			if before.Source == server.IngestTokenConfigured {
				fmt.Fprintln(cmd.ErrOrStderr(), "Note: the server was started with --ingest-token or JETWEBHOOKS_INGEST_TOKEN; its next start stores that token again unless you change its configuration.")
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"ingest_token": tok})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
