package sqlitestore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

func fsSub(f fs.FS, dir string) (fs.FS, error) {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return sub, nil
}

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, p *store.CreateAccountParams) (*store.Account, error) {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO accounts (id, name, users, domains, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.Name, encodeList(p.Users), encodeList(p.Domains), ms(p.Now)); err != nil {
			return interpret(err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO api_keys (key_hash, account_id, created_at) VALUES (?, ?, ?)`,
			p.KeyHash, p.ID, ms(p.Now)); err != nil {
			return interpret(err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	return &store.Account{ID: p.ID, Name: p.Name, Users: orEmpty(p.Users), Domains: orEmpty(p.Domains), CreatedAt: fromMS(ms(p.Now))}, nil
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

const accountCols = `a.id, a.name, a.users, a.domains, a.created_at`

func scanAccount(row interface{ Scan(...any) error }) (*store.Account, error) {
	var a store.Account
	var users, domains string
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &users, &domains, &created); err != nil {
		return nil, interpret(err)
	}
	var err error
	if a.Users, err = decodeList(users); err != nil {
		return nil, err
	}
	if a.Domains, err = decodeList(domains); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMS(created)
	return &a, nil
}

// ListAccounts implements store.Store.
func (s *Store) ListAccounts(ctx context.Context) ([]*store.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts a ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", interpret(err))
	}
	defer rows.Close()
	var out []*store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, interpret(rows.Err())
}

// GetAccount implements store.Store.
func (s *Store) GetAccount(ctx context.Context, id string) (*store.Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts a WHERE a.id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get account: %w", err)
	}
	return a, nil
}

// AccountByKeyHash implements store.Store.
func (s *Store) AccountByKeyHash(ctx context.Context, keyHash []byte) (*store.Account, error) {
	row := s.r.QueryRowContext(ctx,
		`SELECT k.key_hash, `+accountCols+` FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?`, keyHash)
	var got []byte
	var a store.Account
	var users, domains string
	var created int64
	if err := row.Scan(&got, &a.ID, &a.Name, &users, &domains, &created); err != nil {
		return nil, fmt.Errorf("account by key: %w", interpret(err))
	}
	// The index lookup already matched; the constant-time compare keeps the
	// final decision free of early-exit timing.
	if subtle.ConstantTimeCompare(got, keyHash) != 1 {
		return nil, fmt.Errorf("account by key: %w", store.ErrNotFound)
	}
	var err error
	if a.Users, err = decodeList(users); err != nil {
		return nil, err
	}
	if a.Domains, err = decodeList(domains); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMS(created)
	return &a, nil
}

// CreateWebhook implements store.Store.
func (s *Store) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks
			(uuid, account_id, name, url, secret, events, enabled, filter_users, filter_domains, created_at, last_modified)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.UUID, w.AccountID, w.Name, w.URL, w.Secret, encodeList(w.Events), w.Enabled,
			encodeNullableList(w.FilterUsers), encodeNullableList(w.FilterDomains), ms(w.CreatedAt), ms(w.LastModified))
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

const webhookCols = `uuid, account_id, name, url, secret, events, enabled, filter_users, filter_domains, created_at, last_modified`

func scanWebhook(row interface{ Scan(...any) error }) (*store.Webhook, error) {
	var w store.Webhook
	var events string
	var fu, fd sql.NullString
	var created, modified int64
	if err := row.Scan(&w.UUID, &w.AccountID, &w.Name, &w.URL, &w.Secret, &events, &w.Enabled, &fu, &fd, &created, &modified); err != nil {
		return nil, interpret(err)
	}
	var err error
	if w.Events, err = decodeList(events); err != nil {
		return nil, err
	}
	if w.FilterUsers, err = decodeNullableList(fu); err != nil {
		return nil, err
	}
	if w.FilterDomains, err = decodeNullableList(fd); err != nil {
		return nil, err
	}
	w.CreatedAt, w.LastModified = fromMS(created), fromMS(modified)
	return &w, nil
}

// GetWebhook implements store.Store.
func (s *Store) GetWebhook(ctx context.Context, accountID, uuid string) (*store.Webhook, error) {
	w, err := scanWebhook(s.r.QueryRowContext(ctx,
		`SELECT `+webhookCols+` FROM webhooks WHERE uuid = ? AND account_id = ?`, uuid, accountID))
	if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks implements store.Store.
func (s *Store) ListWebhooks(ctx context.Context, accountID string) ([]*store.Webhook, error) {
	return s.listWebhooks(ctx, s.r, accountID, false)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) listWebhooks(ctx context.Context, q querier, accountID string, enabledOnly bool) ([]*store.Webhook, error) {
	query := `SELECT ` + webhookCols + ` FROM webhooks WHERE account_id = ?`
	if enabledOnly {
		query += ` AND enabled = 1`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created_at, uuid`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", interpret(err))
	}
	defer rows.Close()
	out := []*store.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, interpret(rows.Err())
}

// UpdateWebhook implements store.Store.
func (s *Store) UpdateWebhook(ctx context.Context, p *store.UpdateWebhookParams) (*store.Webhook, error) {
	var sets []string
	var args []any
	add := func(col string, v any) { sets = append(sets, col+" = ?"); args = append(args, v) }
	if p.Name != nil {
		add("name", *p.Name)
	}
	if p.URL != nil {
		add("url", *p.URL)
	}
	if p.Events != nil {
		add("events", encodeList(p.Events))
	}
	if p.Enabled != nil {
		add("enabled", *p.Enabled)
	}
	if p.SetFilterUsers {
		add("filter_users", encodeNullableList(p.FilterUsers))
	}
	if p.SetFilterDomains {
		add("filter_domains", encodeNullableList(p.FilterDomains))
	}
	add("last_modified", ms(p.Now))
	args = append(args, p.UUID, p.AccountID)
	var w *store.Webhook
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET `+strings.Join(sets, ", ")+` WHERE uuid = ? AND account_id = ?`, args...)
		if err != nil {
			return interpret(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		w, err = scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE uuid = ?`, p.UUID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update webhook: %w", err)
	}
	return w, nil
}

// DeleteWebhook implements store.Store.
func (s *Store) DeleteWebhook(ctx context.Context, accountID, uuid string, now time.Time) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE uuid = ? AND account_id = ?`, uuid, accountID)
		if err != nil {
			return interpret(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		// Bumping claim_seq voids any in-flight claim, so a worker finishing an
		// attempt for the deleted webhook cannot resurrect the delivery.
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', lease_owner = NULL,
			claim_seq = claim_seq + 1, updated_at = ?
			WHERE webhook_uuid = ? AND account_id = ? AND status IN ('pending', 'retry')`, ms(now), uuid, accountID)
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// PutSettingIfAbsent implements store.Store.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	var stored []byte
	var created bool
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value)
		if err != nil {
			return interpret(err)
		}
		n, _ := res.RowsAffected()
		created = n == 1
		return interpret(tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&stored))
	})
	if err != nil {
		return nil, false, fmt.Errorf("put setting: %w", err)
	}
	return stored, created, nil
}
