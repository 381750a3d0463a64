package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/server"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func newAccountsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "Manage accounts (tenants) and their API keys",
	}
	cmd.AddCommand(newAccountsCreateCmd(), newAccountsListCmd(), newAccountsRotateKeyCmd())
	return cmd
}

func dbFlag(cmd *cobra.Command, db *string) {
	cmd.Flags().StringVar(db, "db", envOr("JETWEBHOOKS_DB", "./data/jetwebhooks.db"), "SQLite file path or postgres:// URL (env JETWEBHOOKS_DB)")
}

func newAccountsCreateCmd() *cobra.Command {
	var (
		db, name       string
		users, domains []string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an account and print its API key (shown only once)",
		Long: `Create an account. The new api_ key is printed alone on stdout (or, with
--json, as {"id", "name", "api_key", "users", "domains"}). Only its hash is
stored: it cannot be shown again.

--user names a sending username (transactional key or smarthost) and --domain
an inbound domain the account owns; webhook filters may only name these.`,
		Example: `  jetwebhooks accounts create --name Acme --user api-user --domain example.com
  KEY=$(jetwebhooks accounts create --name Acme)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return usagef("--name is required")
			}
			st, err := server.OpenStore(cmd.Context(), db, "")
			if err != nil {
				return fmt.Errorf("open database: %w", err)
			}
			defer st.Close()
			acc, key, err := accounts.Create(cmd.Context(), st, name, users, domains, time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]any{
					"id": acc.ID, "name": acc.Name, "api_key": key, "users": acc.Users, "domains": acc.Domains,
				})
			}
			fmt.Fprintln(out, key)
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVar(&name, "name", "", "account name (required)")
	cmd.Flags().StringArrayVar(&users, "user", nil, "sending username the account owns (repeatable)")
	cmd.Flags().StringArrayVar(&domains, "domain", nil, "inbound domain the account owns (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as JSON")
	return cmd
}

func newAccountsListCmd() *cobra.Command {
	var (
		db     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List accounts (never their keys)",
		Example: `  jetwebhooks accounts list --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openExisting(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			accs, err := st.ListAccounts(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]map[string]any, len(accs))
				for i, a := range accs {
					list[i] = map[string]any{"id": a.ID, "name": a.Name, "users": a.Users, "domains": a.Domains, "created_at": a.CreatedAt.Unix()}
				}
				return json.NewEncoder(out).Encode(list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tUSERS\tDOMAINS\tCREATED")
			for _, a := range accs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Name, strings.Join(a.Users, ","), strings.Join(a.Domains, ","), a.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAccountsRotateKeyCmd() *cobra.Command {
	var (
		db, id string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Give an account a new API key and revoke its old ones (shown only once)",
		Long: `Replace every API key of the account with a new one, printed alone on stdout (or,
with --json, as {"id", "api_key"}). The old keys stop working at once in the
database; a running server that cached one (see serve --key-cache-ttl, default 2s)
refuses it within that time. Only the new key's hash is stored.`,
		Example: `  jetwebhooks accounts rotate-key --id acc_0123456789abcdef
  NEW_KEY=$(jetwebhooks accounts rotate-key --id acc_0123456789abcdef)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(id) == "" {
				return usagef("--id is required")
			}
			st, err := openExisting(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			key, err := accounts.RotateKey(cmd.Context(), st, id, time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no account %q", id)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"id": id, "api_key": key})
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVar(&id, "id", "", "the account's id (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
