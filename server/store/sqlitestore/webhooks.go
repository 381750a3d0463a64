package sqlitestore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"io/fs"
	"net/http"
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
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
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
	a, err := scanAccount(s.getAccount.QueryRowContext(ctx, id))
	if err != nil {
		return nil, fmt.Errorf("get account: %w", err)
	}
	return a, nil
}

// AccountByKeyHash implements store.Store.
func (s *Store) AccountByKeyHash(ctx context.Context, keyHash []byte) (*store.Account, error) {
	row := s.accountByKey.QueryRowContext(ctx, keyHash)
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
func (s *Store) CreateWebhook(ctx context.Context, w *store.Webhook, idem *store.IdempotencyLease) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks
			(uuid, account_id, name, url, secret, events, enabled, filter_users, filter_domains, created_at, last_modified,
			headers)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.UUID, w.AccountID, w.Name, w.URL, w.Secret, encodeList(w.Events), w.Enabled,
			encodeNullableList(w.FilterUsers), encodeNullableList(w.FilterDomains), ms(w.CreatedAt), ms(w.LastModified),
			store.EncodeHeaders(w.Headers))
		if err == nil {
			err = setControls(ctx, tx, w)
		}
		if err != nil || idem == nil {
			return interpret(err)
		}
		return finishIdempotency(ctx, tx, *idem, http.StatusOK, nil, w.UUID)
	})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

const webhookCols = `uuid, account_id, name, url, secret, events, enabled, filter_users, filter_domains, created_at, last_modified,
	coalesce(previous_secret, ''), previous_secret_expires_at, coalesce(disabled_reason, ''), disabled_at, failing_since,
	headers, ordering, rate_limit`

func scanWebhook(row interface{ Scan(...any) error }) (*store.Webhook, error) {
	var w store.Webhook
	var events string
	var fu, fd sql.NullString
	var created, modified int64
	var prevExp, disabledAt, failing sql.NullInt64
	var headers *string
	if err := row.Scan(&w.UUID, &w.AccountID, &w.Name, &w.URL, &w.Secret, &events, &w.Enabled, &fu, &fd, &created, &modified,
		&w.PreviousSecret, &prevExp, &w.DisabledReason, &disabledAt, &failing,
		&headers, &w.Ordering, &w.RateLimit); err != nil {
		return nil, interpret(err)
	}
	w.PreviousSecretExpiresAt, w.DisabledAt, w.FailingSince = nullTime(prevExp), nullTime(disabledAt), nullTime(failing)
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
	if w.Headers, err = store.DecodeHeaders(headers); err != nil {
		return nil, err
	}
	w.CreatedAt, w.LastModified = fromMS(created), fromMS(modified)
	return &w, nil
}

// GetWebhook implements store.Store.
func (s *Store) GetWebhook(ctx context.Context, accountID, uuid string) (*store.Webhook, error) {
	w, err := scanWebhook(s.getWebhook.QueryRowContext(ctx, uuid, accountID))
	if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

func nullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// ListWebhooks implements store.Store.
func (s *Store) ListWebhooks(ctx context.Context, p *store.ListWebhooksParams) ([]*store.Webhook, error) {
	query := `SELECT ` + webhookCols + ` FROM webhooks WHERE account_id = ?`
	args := []any{p.AccountID}
	if !p.AfterCreated.IsZero() {
		query += ` AND (created_at > ? OR (created_at = ? AND uuid > ?))`
		args = append(args, ms(p.AfterCreated), ms(p.AfterCreated), p.AfterUUID)
	}
	query += ` ORDER BY created_at, uuid`
	if p.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", interpret(err))
	}
	return collectWebhooks(rows)
}

func collectWebhooks(rows *sql.Rows) ([]*store.Webhook, error) {
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
	return collectWebhooks(rows)
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
		if *p.Enabled {
			add("disabled_reason", nil)
			add("disabled_at", nil)
			add("failing_since", nil)
		}
	}
	if p.SetFilterUsers {
		add("filter_users", encodeNullableList(p.FilterUsers))
	}
	if p.SetFilterDomains {
		add("filter_domains", encodeNullableList(p.FilterDomains))
	}
	if p.SetHeaders {
		add("headers", store.EncodeHeaders(p.Headers))
	}
	if p.Ordering != nil {
		add("ordering", *p.Ordering)
	}
	if p.RateLimit != nil {
		add("rate_limit", *p.RateLimit)
	}
	add("last_modified", ms(p.Now))
	args = append(args, p.UUID, p.AccountID)
	var w *store.Webhook
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET `+strings.Join(sets, ", ")+` WHERE uuid = ? AND account_id = ?`, args...)
		if err != nil {
			return interpret(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		if p.Ordering != nil || p.RateLimit != nil || p.Enabled != nil {
			// The queue follows the new settings at once (see release).
			if err := s.release(ctx, tx, p.UUID, ms(p.Now)); err != nil {
				return err
			}
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
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
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
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
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

// GetSetting implements store.Store.
func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return nil, fmt.Errorf("get setting: %w", interpret(err))
	}
	return v, nil
}

// PutSetting implements store.Store.
func (s *Store) PutSetting(ctx context.Context, key string, value []byte) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}

// RotateSecret implements store.Store.
func (s *Store) RotateSecret(ctx context.Context, p *store.RotateSecretParams) (*store.Webhook, error) {
	var w *store.Webhook
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The old secret is kept only for a real grace period; a zero grace
		// erases it at once.
		keep := p.PreviousExpiresAt.After(p.Now)
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET
				previous_secret = CASE WHEN ? THEN secret ELSE NULL END,
				previous_secret_expires_at = CASE WHEN ? THEN ? ELSE NULL END,
				secret = ?, last_modified = ?
			WHERE uuid = ? AND account_id = ?`,
			keep, keep, ms(p.PreviousExpiresAt), p.Secret, ms(p.Now), p.UUID, p.AccountID)
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
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	return w, nil
}

// PurgeExpiredSecrets implements store.Store.
func (s *Store) PurgeExpiredSecrets(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET previous_secret = NULL, previous_secret_expires_at = NULL
			WHERE previous_secret IS NOT NULL AND previous_secret_expires_at <= ?`, ms(now))
		if err != nil {
			return interpret(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired secrets: %w", err)
	}
	return int(n), nil
}

// DisableFailingWebhooks implements store.Store.
func (s *Store) DisableFailingWebhooks(ctx context.Context, failingSince, now time.Time) ([]*store.Webhook, error) {
	var out []*store.Webhook
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+webhookCols+` FROM webhooks
			WHERE enabled = 1 AND failing_since IS NOT NULL AND failing_since <= ?`, ms(failingSince))
		if err != nil {
			return interpret(err)
		}
		if out, err = collectWebhooks(rows); err != nil {
			return err
		}
		for _, w := range out {
			w.Enabled = false
			w.DisabledReason = "every delivery has failed since " + w.FailingSince.Format(time.RFC3339)
			w.DisabledAt = fromMS(ms(now))
			if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET enabled = 0, disabled_reason = ?, disabled_at = ? WHERE uuid = ?`,
				w.DisabledReason, ms(now), w.UUID); err != nil {
				return interpret(err)
			}
			// Its FIFO or rate-limit queue is released now, not when the
			// delivery in flight (or retrying, maybe for hours) finishes:
			// the held deliveries then fail at once without an attempt.
			if err := s.release(ctx, tx, w.UUID, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disable failing webhooks: %w", err)
	}
	return out, nil
}

// ReserveIdempotencyKey implements store.Store.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, p *store.ReserveIdempotencyParams) (*store.IdempotencyRecord, error) {
	var existing *store.IdempotencyRecord
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND created_at < ?`,
			p.Scope, p.Key, ms(p.ExpiredBefore)); err != nil {
			return interpret(err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, created_at, lease_token, lease_until)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
			p.Scope, p.Key, p.RequestHash, ms(p.Now), p.Token, ms(p.LeaseUntil))
		if err != nil {
			return interpret(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		// The request that reserved the key died: the same request takes
		// its reservation over once the lease has passed.
		res, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET lease_token = ?, lease_until = ?
			WHERE scope = ? AND key = ? AND status = 0 AND lease_until <= ? AND request_hash = ?`,
			p.Token, ms(p.LeaseUntil), p.Scope, p.Key, ms(p.Now), p.RequestHash)
		if err != nil {
			return interpret(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var rec store.IdempotencyRecord
		var created, leaseUntil int64
		var resource sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT request_hash, status, coalesce(body, x''), resource_uuid, created_at, lease_until
			FROM idempotency_keys WHERE scope = ? AND key = ?`, p.Scope, p.Key).Scan(
			&rec.RequestHash, &rec.Status, &rec.Body, &resource, &created, &leaseUntil); err != nil {
			return interpret(err)
		}
		rec.ResourceUUID = resource.String
		rec.CreatedAt, rec.LeaseUntil = fromMS(created), fromMS(leaseUntil)
		existing = &rec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", err)
	}
	return existing, nil
}

// finishIdempotency records a reservation's answer inside tx, if lease still
// holds it.
func finishIdempotency(ctx context.Context, tx *sql.Tx, lease store.IdempotencyLease, status int, body []byte, resource string) error {
	var res sql.Result
	var err error
	if resource != "" {
		res, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET status = ?, body = NULL, resource_uuid = ?
			WHERE scope = ? AND key = ? AND lease_token = ? AND status = 0`, status, resource, lease.Scope, lease.Key, lease.Token)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET status = ?, body = ?
			WHERE scope = ? AND key = ? AND lease_token = ? AND status = 0`, status, body, lease.Scope, lease.Key, lease.Token)
	}
	if err != nil {
		return interpret(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrLeaseLost
	}
	return nil
}

// FinishIdempotencyKey implements store.Store.
func (s *Store) FinishIdempotencyKey(ctx context.Context, lease store.IdempotencyLease, status int, body []byte) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return finishIdempotency(ctx, tx, lease, status, body, "")
	})
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey implements store.Store.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, lease store.IdempotencyLease) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND lease_token = ? AND status = 0`,
			lease.Scope, lease.Key, lease.Token)
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys implements store.Store.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, ms(before))
		if err != nil {
			return interpret(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return int(n), nil
}

// RotateAPIKey implements store.Store.
func (s *Store) RotateAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, accountID).Scan(&one); err != nil {
			return interpret(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE account_id = ?`, accountID); err != nil {
			return interpret(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (key_hash, account_id, created_at) VALUES (?, ?, ?)`, keyHash, accountID, ms(now))
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("rotate api key: %w", err)
	}
	return nil
}
