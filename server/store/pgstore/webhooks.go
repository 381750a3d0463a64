package pgstore

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// CreateAccount implements store.Store. The account and its key go in with one
// statement (a data-modifying CTE), which is atomic without a transaction.
func (s *Store) CreateAccount(ctx context.Context, p *store.CreateAccountParams) (*store.Account, error) {
	_, err := s.pool.Exec(ctx, `WITH a AS (
			INSERT INTO accounts (id, name, users, domains, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id
		)
		INSERT INTO api_keys (key_hash, account_id, created_at) SELECT $6, id, $5 FROM a`,
		p.ID, p.Name, encodeList(p.Users), encodeList(p.Domains), ms(p.Now), p.KeyHash)
	if err != nil {
		return nil, fmt.Errorf("create account: %w", interpret(err))
	}
	return &store.Account{ID: p.ID, Name: p.Name, Users: orEmpty(p.Users), Domains: orEmpty(p.Domains), CreatedAt: fromMS(ms(p.Now))}, nil
}

const accountCols = `a.id, a.name, a.users, a.domains, a.created_at`

func scanAccount(row pgx.Row, extra ...any) (*store.Account, error) {
	var a store.Account
	var users, domains string
	var created int64
	if err := row.Scan(append(extra, &a.ID, &a.Name, &users, &domains, &created)...); err != nil {
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
	rows, err := s.pool.Query(ctx, `SELECT `+accountCols+` FROM accounts a ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", interpret(err))
	}
	defer rows.Close()
	out := []*store.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", interpret(err))
	}
	return out, nil
}

// GetAccount implements store.Store.
func (s *Store) GetAccount(ctx context.Context, id string) (*store.Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts a WHERE a.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get account: %w", err)
	}
	return a, nil
}

// AccountByKeyHash implements store.Store.
func (s *Store) AccountByKeyHash(ctx context.Context, keyHash []byte) (*store.Account, error) {
	var got []byte
	a, err := scanAccount(s.pool.QueryRow(ctx,
		`SELECT k.key_hash, `+accountCols+` FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1`,
		keyHash), &got)
	if err != nil {
		return nil, fmt.Errorf("account by key: %w", err)
	}
	// The index lookup already matched; the constant-time compare keeps the
	// final decision free of early-exit timing.
	if subtle.ConstantTimeCompare(got, keyHash) != 1 {
		return nil, fmt.Errorf("account by key: %w", store.ErrNotFound)
	}
	return a, nil
}

// CreateWebhook implements store.Store. An unknown account is reported as
// store.ErrNotFound (the foreign key fails), a taken UUID as store.ErrConflict.
func (s *Store) CreateWebhook(ctx context.Context, w *store.Webhook, idem *store.IdempotencyLease) error {
	insert := func(db execer) error {
		_, err := db.Exec(ctx, `INSERT INTO webhooks
			(uuid, account_id, name, url, secret, events, enabled, filter_users, filter_domains, created_at, last_modified,
			headers)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			w.UUID, w.AccountID, w.Name, w.URL, w.Secret, encodeList(w.Events), w.Enabled,
			encodeNullableList(w.FilterUsers), encodeNullableList(w.FilterDomains), ms(w.CreatedAt), ms(w.LastModified),
			store.EncodeHeaders(w.Headers))
		return interpret(err)
	}
	var err error
	if idem == nil && !store.Controlled(w) {
		err = insert(s.pool)
	} else {
		err = s.withTx(ctx, func(tx pgx.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			if err := setControls(ctx, tx, w); err != nil || idem == nil {
				return err
			}
			return finishIdempotency(ctx, tx, *idem, http.StatusOK, nil, w.UUID)
		})
	}
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

const webhookCols = `uuid, account_id, name, url, secret, events, enabled, filter_users, filter_domains, created_at, last_modified,
	coalesce(previous_secret, ''), previous_secret_expires_at, coalesce(disabled_reason, ''), disabled_at, failing_since,
	headers, ordering, rate_limit`

func scanWebhook(row pgx.Row) (*store.Webhook, error) {
	var w store.Webhook
	var events string
	var fu, fd *string
	var created, modified int64
	var prevExp, disabledAt, failing *int64
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
	w, err := scanWebhook(s.pool.QueryRow(ctx,
		`SELECT `+webhookCols+` FROM webhooks WHERE uuid = $1 AND account_id = $2`, uuid, accountID))
	if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

func nullTime(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return fromMS(*v)
}

// ListWebhooks implements store.Store.
func (s *Store) ListWebhooks(ctx context.Context, p *store.ListWebhooksParams) ([]*store.Webhook, error) {
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	var after *int64
	if !p.AfterCreated.IsZero() {
		a := ms(p.AfterCreated)
		after = &a
	}
	rows, err := s.pool.Query(ctx, `SELECT `+webhookCols+` FROM webhooks
		WHERE account_id = $1 AND ($2::bigint IS NULL OR (created_at, uuid) > ($2::bigint, $3::text))
		ORDER BY created_at, uuid LIMIT $4`, p.AccountID, after, p.AfterUUID, limit)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", interpret(err))
	}
	out, err := collectWebhooks(rows)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// collectWebhooks scans and closes rows; the list is never nil.
func collectWebhooks(rows pgx.Rows) ([]*store.Webhook, error) {
	defer rows.Close()
	out := []*store.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, interpret(err)
	}
	return out, nil
}

// UpdateWebhook implements store.Store. One fixed statement serves every
// combination of fields (NULL parameters and the Set* flags keep columns as
// they are), so pgx prepares it once, and RETURNING saves a second query.
func (s *Store) UpdateWebhook(ctx context.Context, p *store.UpdateWebhookParams) (*store.Webhook, error) {
	var events *string
	if p.Events != nil {
		e := encodeList(p.Events)
		events = &e
	}
	// A change of the delivery controls (or of enabled) moves the webhook's
	// queue on in the same transaction; any other update is one statement.
	db, tx, err := s.controlsTx(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("update webhook: %w", err)
	}
	if tx != nil {
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	}
	w, err := scanWebhook(db.QueryRow(ctx, `UPDATE webhooks SET
			name = coalesce($3::text, name),
			url = coalesce($4::text, url),
			events = coalesce($5::jsonb, events),
			enabled = coalesce($6::boolean, enabled),
			disabled_reason = CASE WHEN $6::boolean THEN NULL ELSE disabled_reason END,
			disabled_at = CASE WHEN $6::boolean THEN NULL ELSE disabled_at END,
			failing_since = CASE WHEN $6::boolean THEN NULL ELSE failing_since END,
			filter_users = CASE WHEN $7::boolean THEN $8::jsonb ELSE filter_users END,
			filter_domains = CASE WHEN $9::boolean THEN $10::jsonb ELSE filter_domains END,
			last_modified = $11,
			headers = CASE WHEN $12::boolean THEN $13::text ELSE headers END,
			ordering = coalesce($14::text, ordering),
			rate_limit = coalesce($15::integer, rate_limit)
		WHERE uuid = $1 AND account_id = $2
		RETURNING `+webhookCols,
		p.UUID, p.AccountID, p.Name, p.URL, events, p.Enabled,
		p.SetFilterUsers, encodeNullableList(p.FilterUsers), p.SetFilterDomains, encodeNullableList(p.FilterDomains), ms(p.Now),
		p.SetHeaders, store.EncodeHeaders(p.Headers), p.Ordering, rateParam(p.RateLimit)))
	if err != nil {
		return nil, fmt.Errorf("update webhook: %w", err)
	}
	if tx != nil {
		if _, err := release(ctx, tx, p.UUID, ms(p.Now)); err != nil {
			return nil, fmt.Errorf("update webhook: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, fmt.Errorf("update webhook: commit: %w", interpret(err))
		}
	}
	return w, nil
}

// DeleteWebhook implements store.Store. The delete and the cancellation are
// two statements, not one CTE, so that under READ COMMITTED the cancellation
// takes its snapshot after the delete and also fails deliveries committed by
// publishes that finished meanwhile. (One that commits later still leaves a
// pending delivery for the deleted webhook; see loadHooks for why that is
// harmless.)
func (s *Store) DeleteWebhook(ctx context.Context, accountID, uuid string, now time.Time) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE uuid = $1 AND account_id = $2`, uuid, accountID)
		if err != nil {
			return interpret(err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		// Bumping claim_seq voids any in-flight claim, so a worker finishing an
		// attempt for the deleted webhook cannot resurrect the delivery. Rows
		// are locked in id order, like every multi-row delivery update, so
		// this cannot deadlock with a concurrent completion or replay.
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = 'failed', lease_owner = NULL,
				claim_seq = claim_seq + 1, updated_at = $1
			WHERE id IN (
				SELECT id FROM deliveries
				WHERE webhook_uuid = $2 AND account_id = $3 AND status IN ('pending', 'retry')
				ORDER BY id FOR UPDATE)`, ms(now), uuid, accountID)
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// RotateSecret implements store.Store.
func (s *Store) RotateSecret(ctx context.Context, p *store.RotateSecretParams) (*store.Webhook, error) {
	keep := p.PreviousExpiresAt.After(p.Now)
	w, err := scanWebhook(s.pool.QueryRow(ctx, `UPDATE webhooks SET
			previous_secret = CASE WHEN $3::boolean THEN secret ELSE NULL END,
			previous_secret_expires_at = CASE WHEN $3::boolean THEN $4::bigint ELSE NULL END,
			secret = $5, last_modified = $6
		WHERE uuid = $1 AND account_id = $2
		RETURNING `+webhookCols, p.UUID, p.AccountID, keep, ms(p.PreviousExpiresAt), p.Secret, ms(p.Now)))
	if err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	return w, nil
}

// PurgeExpiredSecrets implements store.Store.
func (s *Store) PurgeExpiredSecrets(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE webhooks SET previous_secret = NULL, previous_secret_expires_at = NULL
		WHERE previous_secret IS NOT NULL AND previous_secret_expires_at <= $1`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("purge expired secrets: %w", interpret(err))
	}
	return int(tag.RowsAffected()), nil
}

// DisableFailingWebhooks implements store.Store.
// The disabled webhooks' FIFO and rate-limit queues are released in the same
// transaction: their held deliveries fail at once without an attempt instead
// of waiting for the delivery in flight (or retrying, maybe for hours).
func (s *Store) DisableFailingWebhooks(ctx context.Context, failingSince, now time.Time) ([]*store.Webhook, error) {
	var out []*store.Webhook
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE webhooks SET enabled = false,
				disabled_reason = 'every delivery has failed since ' ||
					to_char(to_timestamp(failing_since / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
				disabled_at = $2
			WHERE enabled AND failing_since IS NOT NULL AND failing_since <= $1
			RETURNING `+webhookCols, ms(failingSince), ms(now))
		if err != nil {
			return interpret(err)
		}
		if out, err = collectWebhooks(rows); err != nil {
			return err
		}
		released := 0
		for _, w := range out {
			n, err := release(ctx, tx, w.UUID, ms(now))
			if err != nil {
				return err
			}
			released += n
		}
		if released == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, notifySQL)
		return interpret(err)
	})
	if err != nil {
		return nil, fmt.Errorf("disable failing webhooks: %w", err)
	}
	return out, nil
}

// ReserveIdempotencyKey implements store.Store. Like PutSettingIfAbsent it
// reads the winner in a statement of its own, after the insert settled.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, p *store.ReserveIdempotencyParams) (*store.IdempotencyRecord, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3`,
		p.Scope, p.Key, ms(p.ExpiredBefore)); err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", interpret(err))
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, created_at, lease_token, lease_until)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING`,
		p.Scope, p.Key, orEmptyBytes(p.RequestHash), ms(p.Now), p.Token, ms(p.LeaseUntil))
	if err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", interpret(err))
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	// The request that reserved the key died: the same request takes its
	// reservation over once the lease has passed. The row lock makes one
	// of several concurrent retries the winner.
	tag, err = s.pool.Exec(ctx, `UPDATE idempotency_keys SET lease_token = $3, lease_until = $4
		WHERE scope = $1 AND key = $2 AND status = 0 AND lease_until <= $5 AND request_hash = $6`,
		p.Scope, p.Key, p.Token, ms(p.LeaseUntil), ms(p.Now), orEmptyBytes(p.RequestHash))
	if err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", interpret(err))
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	var rec store.IdempotencyRecord
	var created, leaseUntil int64
	var resource *string
	if err := s.pool.QueryRow(ctx, `SELECT request_hash, status, coalesce(body, ''::bytea), resource_uuid, created_at, lease_until
		FROM idempotency_keys WHERE scope = $1 AND key = $2`, p.Scope, p.Key).Scan(
		&rec.RequestHash, &rec.Status, &rec.Body, &resource, &created, &leaseUntil); err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", interpret(err))
	}
	if resource != nil {
		rec.ResourceUUID = *resource
	}
	rec.CreatedAt, rec.LeaseUntil = fromMS(created), fromMS(leaseUntil)
	return &rec, nil
}

// execer is what finishIdempotency needs of a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// finishIdempotency records a reservation's answer, if lease still holds it.
func finishIdempotency(ctx context.Context, db execer, lease store.IdempotencyLease, status int, body []byte, resource string) error {
	var tag pgconn.CommandTag
	var err error
	if resource != "" {
		tag, err = db.Exec(ctx, `UPDATE idempotency_keys SET status = $4, body = NULL, resource_uuid = $5
			WHERE scope = $1 AND key = $2 AND lease_token = $3 AND status = 0`, lease.Scope, lease.Key, lease.Token, status, resource)
	} else {
		tag, err = db.Exec(ctx, `UPDATE idempotency_keys SET status = $4, body = $5
			WHERE scope = $1 AND key = $2 AND lease_token = $3 AND status = 0`, lease.Scope, lease.Key, lease.Token, status, orEmptyBytes(body))
	}
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() != 1 {
		return store.ErrLeaseLost
	}
	return nil
}

// FinishIdempotencyKey implements store.Store.
func (s *Store) FinishIdempotencyKey(ctx context.Context, lease store.IdempotencyLease, status int, body []byte) error {
	if err := finishIdempotency(ctx, s.pool, lease, status, body, ""); err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey implements store.Store.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, lease store.IdempotencyLease) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND lease_token = $3 AND status = 0`,
		lease.Scope, lease.Key, lease.Token); err != nil {
		return fmt.Errorf("release idempotency key: %w", interpret(err))
	}
	return nil
}

// PurgeIdempotencyKeys implements store.Store.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", interpret(err))
	}
	return int(tag.RowsAffected()), nil
}

// RotateAPIKey implements store.Store.
func (s *Store) RotateAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, accountID).Scan(&one); err != nil {
			return interpret(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE account_id = $1`, accountID); err != nil {
			return interpret(err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (key_hash, account_id, created_at) VALUES ($1, $2, $3)`, keyHash, accountID, ms(now))
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("rotate api key: %w", err)
	}
	return nil
}
