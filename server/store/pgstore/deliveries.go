package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// wakeChannel is the NOTIFY channel that tells every node deliveries became due.
const wakeChannel = "jetwebhooks_due"

// notifySQL queues a wake-up in the current transaction; PostgreSQL delivers
// it to the listeners only when (and if) the transaction commits, and folds
// duplicates within one transaction into one.
const notifySQL = `SELECT pg_notify('` + wakeChannel + `', '')`

// eventKey identifies an event: ids are unique per account only.
type eventKey struct{ account, id string }

// PublishEvents implements store.Store. Whatever the batch size it costs a
// fixed handful of round trips: one to check the accounts and load their
// enabled webhooks, one multi-row INSERT of the events (unnest of array
// parameters, ON CONFLICT DO NOTHING RETURNING for duplicates), and one
// multi-row INSERT of the deliveries pipelined with the NOTIFY.
func (s *Store) PublishEvents(ctx context.Context, events []*store.Event, now time.Time) ([]store.PublishResult, error) {
	results := make([]store.PublishResult, len(events))
	if len(events) == 0 {
		return results, nil
	}
	// Only the first occurrence of an id within the batch is sent; later ones
	// are duplicates of it, exactly as if they came in a later call. Deciding
	// this here, not by insertion order in the database, keeps which copy is
	// stored deterministic.
	first := make(map[eventKey]int, len(events))
	var accounts []string
	seenAccount := map[string]bool{}
	for i, e := range events {
		k := eventKey{e.AccountID, e.ID}
		if _, dup := first[k]; !dup {
			first[k] = i
		}
		if !seenAccount[e.AccountID] {
			seenAccount[e.AccountID] = true
			accounts = append(accounts, e.AccountID)
		}
	}
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		clear(results) // withTx may run this again after a deadlock
		hooks, err := loadHooks(ctx, tx, accounts)
		if err != nil {
			return err
		}
		for i, e := range events {
			if _, ok := hooks[e.AccountID]; !ok {
				return fmt.Errorf("event %d: account %q: %w", i, e.AccountID, store.ErrNotFound)
			}
		}
		seqs, err := insertEvents(ctx, tx, events, first)
		if err != nil {
			return err
		}
		var d deliveryRows
		for i, e := range events {
			seq, inserted := seqs[eventKey{e.AccountID, e.ID}]
			if !inserted || first[eventKey{e.AccountID, e.ID}] != i {
				results[i] = store.PublishResult{EventID: e.ID, Duplicate: true}
				continue
			}
			n := 0
			for _, w := range hooks[e.AccountID] {
				if store.Matches(w, e) {
					d.add(seq, e.AccountID, w)
					n++
				}
			}
			results[i] = store.PublishResult{EventID: e.ID, Deliveries: n}
		}
		if len(d.seqs) == 0 {
			return nil // nothing became due: no deliveries, no wake-up
		}
		b := &pgx.Batch{}
		nowMS := ms(now)
		b.Queue(`INSERT INTO deliveries
				(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, created_at, updated_at)
			SELECT seq, account_id, uuid, url, 'pending', $5::bigint, $5::bigint, $5::bigint
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS d (seq, account_id, uuid, url)`,
			d.seqs, d.accounts, d.uuids, d.urls, nowMS)
		b.Queue(notifySQL)
		return interpret(tx.SendBatch(ctx, b).Close())
	})
	if err != nil {
		return nil, fmt.Errorf("publish events: %w", err)
	}
	return results, nil
}

// loadHooks checks that the accounts exist and loads their enabled webhooks,
// once per account per call, in one round trip. The map has an entry (maybe
// empty) for every existing account and none for a missing one.
//
// The webhooks are not locked: a webhook deleted or disabled while this
// transaction runs may still receive a pending delivery from it. That race is
// benign and already part of the contract: the claim reports the webhook as
// deleted (empty URL) or disabled and the worker fails the delivery without
// an attempt. Locking them (FOR KEY SHARE) would close it, at the price of a
// row lock, hence a tuple write and often a MultiXact, on every webhook of
// the account in every publish of every node.
func loadHooks(ctx context.Context, tx pgx.Tx, accounts []string) (map[string][]*store.Webhook, error) {
	hooks := make(map[string][]*store.Webhook, len(accounts))
	b := &pgx.Batch{}
	b.Queue(`SELECT id FROM accounts WHERE id = ANY($1)`, accounts).Query(func(rows pgx.Rows) error {
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, id := range ids {
			hooks[id] = []*store.Webhook{}
		}
		return interpret(err)
	})
	b.Queue(`SELECT `+webhookCols+` FROM webhooks WHERE account_id = ANY($1) AND enabled
		ORDER BY account_id, created_at, uuid`, accounts).Query(func(rows pgx.Rows) error {
		ws, err := collectWebhooks(rows)
		for _, w := range ws {
			hooks[w.AccountID] = append(hooks[w.AccountID], w)
		}
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpret(err)
	}
	return hooks, nil
}

// insertEvents inserts the first occurrence of every event in one statement
// and returns the seq of each event actually inserted (not already stored).
func insertEvents(ctx context.Context, tx pgx.Tx, events []*store.Event, first map[eventKey]int) (map[eventKey]int64, error) {
	n := len(first)
	var (
		ids, accounts, types, services = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		users, domains, uids, actions  = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		data, bodies                   = make([][]byte, 0, n), make([][]byte, 0, n)
		created                        = make([]int64, 0, n)
	)
	for i, e := range events {
		if first[eventKey{e.AccountID, e.ID}] != i {
			continue
		}
		ids, accounts, types, services = append(ids, e.ID), append(accounts, e.AccountID), append(types, e.Type), append(services, e.Service)
		users, domains, uids, actions = append(users, e.User), append(domains, e.Domain), append(uids, e.SourceUID), append(actions, e.SourceAction)
		// The columns are NOT NULL; a nil slice would be sent as NULL.
		data, bodies = append(data, orEmptyBytes(e.Data)), append(bodies, orEmptyBytes(e.Body))
		created = append(created, ms(e.CreatedAt))
	}
	// WITH ORDINALITY ... ORDER BY assigns seqs in batch order, so events of
	// one batch sort by seq as they were published.
	rows, err := tx.Query(ctx, `INSERT INTO events
			(id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at)
		SELECT id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::bytea[], $10::bytea[], $11::bigint[]) WITH ORDINALITY
			AS e (id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at, ord)
		ORDER BY ord
		ON CONFLICT (account_id, id) DO NOTHING
		RETURNING seq, account_id, id`,
		ids, accounts, types, services, users, domains, uids, actions, data, bodies, created)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	seqs := make(map[eventKey]int64, n)
	for rows.Next() {
		var seq int64
		var k eventKey
		if err := rows.Scan(&seq, &k.account, &k.id); err != nil {
			return nil, interpret(err)
		}
		seqs[k] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, interpret(err)
	}
	return seqs, nil
}

func orEmptyBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// deliveryRows are the columns of the deliveries to insert, as arrays for unnest.
type deliveryRows struct {
	seqs                  []int64
	accounts, uuids, urls []string
}

func (d *deliveryRows) add(seq int64, account string, w *store.Webhook) {
	d.seqs = append(d.seqs, seq)
	d.accounts = append(d.accounts, account)
	d.uuids = append(d.uuids, w.UUID)
	d.urls = append(d.urls, w.URL)
}

// ClaimDeliveries implements store.Store, in one statement: the CTE picks the
// oldest due rows FOR UPDATE SKIP LOCKED (rows another node is claiming right
// now are skipped, not waited for), the UPDATE leases them, and the final
// SELECT joins what the worker needs. TakenOver is read in the CTE, before the
// update overwrites lease_owner: a row still leased to someone was abandoned.
func (s *Store) ClaimDeliveries(ctx context.Context, p *store.ClaimParams) ([]*store.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	nowMS := ms(p.Now)
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id, next_attempt_at AS due_at, lease_owner IS NOT NULL AS taken_over
			FROM deliveries
			WHERE status IN ('pending', 'retry') AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE deliveries d SET claim_seq = d.claim_seq + 1, next_attempt_at = $3, lease_owner = $4, updated_at = $1
			FROM due WHERE d.id = due.id
			RETURNING d.id, d.claim_seq, due.taken_over, due.due_at, d.round_attempts, d.status, d.webhook_uuid, d.event_seq, d.account_id
		)
		SELECT c.id, c.claim_seq, c.taken_over, c.round_attempts, c.status, c.webhook_uuid, e.id, c.account_id, e.body,
			coalesce(w.url, ''), coalesce(w.secret, ''), coalesce(w.enabled, false),
			CASE WHEN w.previous_secret_expires_at > $1 THEN coalesce(w.previous_secret, '') ELSE '' END
		FROM claimed c
		JOIN events e ON e.seq = c.event_seq
		LEFT JOIN webhooks w ON w.uuid = c.webhook_uuid AND w.account_id = c.account_id
		ORDER BY c.due_at, c.id`,
		nowMS, p.Limit, nowMS+p.Lease.Milliseconds(), p.Owner)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", interpret(err))
	}
	defer rows.Close()
	var claims []*store.Claim
	for rows.Next() {
		c := &store.Claim{}
		var round int
		var prev string
		if err := rows.Scan(&c.DeliveryID, &c.ClaimSeq, &c.TakenOver, &round, &c.Status, &c.WebhookUUID, &c.EventID,
			&c.AccountID, &c.Body, &c.URL, &c.Secret, &c.Enabled, &prev); err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", interpret(err))
		}
		c.Secrets = store.SigningSecrets(c.Secret, prev)
		c.Attempt = round + 1
		claims = append(claims, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", interpret(err))
	}
	return claims, nil
}

// completeSQL applies one outcome if its claim is still current and records
// the attempt in the same statement, so the attempt row exists exactly when
// the outcome was applied. It returns 1 if applied, else 0.
const completeSQL = `WITH upd AS (
		UPDATE deliveries SET status = $3, next_attempt_at = $4,
			attempts = attempts + $5::integer, round_attempts = round_attempts + $5::integer, lease_owner = NULL,
			claim_seq = claim_seq + 1,
			last_response_code = CASE WHEN $6::boolean THEN $7::integer ELSE last_response_code END,
			webhook_url = CASE WHEN $8::text <> '' THEN $8::text ELSE webhook_url END, updated_at = $9::bigint
		WHERE id = $1 AND claim_seq = $2
		RETURNING id
	), ins AS (
		INSERT INTO attempts (delivery_id, at, duration_ms, status_code, error, response_body)
		SELECT id, $9::bigint, $10::bigint, $7::integer, $11::text, $12::text FROM upd WHERE $6::boolean
	)
	SELECT count(*) FROM upd`

// CompleteDeliveries implements store.Store: all outcomes in one transaction
// and one round trip (a pgx.Batch of completeSQL). Outcomes are applied in
// delivery id order so two completing transactions lock rows in the same
// order and cannot deadlock.
func (s *Store) CompleteDeliveries(ctx context.Context, outcomes []*store.Outcome) (int, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	sorted := slices.Clone(outcomes)
	slices.SortStableFunc(sorted, func(a, b *store.Outcome) int { return cmp.Compare(a.DeliveryID, b.DeliveryID) })
	applied := 0
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		applied = 0 // withTx may run this again after a deadlock
		var done []*store.Outcome
		b := &pgx.Batch{}
		for _, o := range sorted {
			inc := 0
			if o.Attempted {
				inc = 1
			}
			var code *int
			if o.StatusCode > 0 {
				code = &o.StatusCode
			}
			next := ms(o.NextAttemptAt)
			if o.Status == store.StatusSuccess || o.Status == store.StatusFailed {
				next = ms(o.At)
			}
			o := o
			b.Queue(completeSQL, o.DeliveryID, o.ClaimSeq, o.Status, next, inc, o.Attempted, code, o.URL,
				ms(o.At), o.Duration.Milliseconds(), o.Error, o.ResponseBody).QueryRow(func(row pgx.Row) error {
				var n int
				if err := row.Scan(&n); err != nil {
					return err
				}
				applied += n // 0: the claim was taken over or voided; its new owner decides
				if n == 1 {
					done = append(done, o)
				}
				return nil
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return interpret(err)
		}
		return applyHealth(ctx, tx, store.HealthUpdates(done))
	})
	if err != nil {
		return 0, fmt.Errorf("complete deliveries: %w", err)
	}
	return applied, nil
}

// applyHealth writes webhook health in one more round trip. The statements
// only match rows whose state changes, so a healthy webhook succeeding locks
// and writes nothing; updates come sorted by uuid, so concurrent completions
// lock webhook rows in the same order.
func applyHealth(ctx context.Context, tx pgx.Tx, updates []store.HealthUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, h := range updates {
		if h.Healthy {
			b.Queue(`UPDATE webhooks SET failing_since = NULL WHERE uuid = $1 AND failing_since IS NOT NULL`, h.WebhookUUID)
		} else {
			b.Queue(`UPDATE webhooks SET failing_since = $2 WHERE uuid = $1 AND failing_since IS NULL`, h.WebhookUUID, ms(h.FailedAt))
		}
		if h.DisableReason != "" {
			b.Queue(`UPDATE webhooks SET enabled = false, disabled_reason = $2, disabled_at = $3 WHERE uuid = $1 AND enabled`,
				h.WebhookUUID, h.DisableReason, ms(h.DisableAt))
		}
	}
	return interpret(tx.SendBatch(ctx, b).Close())
}

// farFuture keeps test deliveries out of the engine's due range.
const farFuture = int64(1) << 62

// CreateTestDelivery implements store.Store.
func (s *Store) CreateTestDelivery(ctx context.Context, e *store.Event, webhookUUID string, now time.Time) (*store.Claim, error) {
	var c *store.Claim
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var url, secret, prev string
		var enabled bool
		var prevExp *int64
		if err := tx.QueryRow(ctx, `SELECT url, secret, enabled, coalesce(previous_secret, ''), previous_secret_expires_at
			FROM webhooks WHERE uuid = $1 AND account_id = $2`, webhookUUID, e.AccountID).Scan(&url, &secret, &enabled, &prev, &prevExp); err != nil {
			return interpret(err)
		}
		if prevExp == nil || *prevExp <= ms(now) {
			prev = ""
		}
		var seq int64
		if err := tx.QueryRow(ctx, `INSERT INTO events
			(id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq`, e.ID, e.AccountID, e.Type, e.Service, e.User, e.Domain,
			e.SourceUID, e.SourceAction, orEmptyBytes(e.Data), orEmptyBytes(e.Body), ms(e.CreatedAt)).Scan(&seq); err != nil {
			return interpret(err)
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO deliveries
			(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, claim_seq, lease_owner, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'pending', $5, 1, 'test', $6, $6) RETURNING id`, seq, e.AccountID, webhookUUID, url, farFuture, ms(now)).Scan(&id); err != nil {
			return interpret(err)
		}
		c = &store.Claim{DeliveryID: id, ClaimSeq: 1, Status: store.StatusPending, EventID: e.ID, AccountID: e.AccountID, WebhookUUID: webhookUUID,
			URL: url, Secret: secret, Secrets: store.SigningSecrets(secret, prev), Enabled: enabled, Body: e.Body, Attempt: 1}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create test delivery: %w", err)
	}
	return c, nil
}

// NextDueAt implements store.Store.
func (s *Store) NextDueAt(ctx context.Context) (time.Time, bool, error) {
	var v *int64
	if err := s.pool.QueryRow(ctx,
		`SELECT min(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'retry')`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", interpret(err))
	}
	if v == nil {
		return time.Time{}, false, nil
	}
	return fromMS(*v), true, nil
}

// QueryDeliveries implements store.Store. The WHERE clause is assembled from
// fixed fragments and numbered placeholders so each filter combination gets
// a plan that uses the right index; values only ever travel as parameters.
// The count and the page go out together in one batch.
func (s *Store) QueryDeliveries(ctx context.Context, p *store.QueryParams) ([]*store.DeliveryRecord, int, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	add("d.account_id = ?", p.AccountID)
	if p.WebhookUUID != "" {
		add("d.webhook_uuid = ?", p.WebhookUUID)
	}
	if p.EventID != "" {
		add("e.id = ?", p.EventID)
	}
	if p.EventType != "" {
		add("e.type = ?", p.EventType)
	}
	if p.SourceUID != "" {
		add("e.source_uid = ?", p.SourceUID)
	}
	if p.Status != "" {
		add("d.status = ?", p.Status)
	}
	if p.From != nil {
		add("e.created_at >= ?", ms(*p.From))
	}
	if p.To != nil {
		add("e.created_at <= ?", ms(*p.To))
	}
	from := ` FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE ` + strings.Join(where, " AND ")
	n := len(args)
	page := `SELECT d.id, e.id, d.webhook_uuid, e.service, e.type, e.source_uid, e.source_action,
			e.data, d.webhook_url, e.created_at, d.status, d.attempts, d.last_response_code` + from +
		` ORDER BY e.created_at DESC, d.id DESC LIMIT $` + strconv.Itoa(n+1) + ` OFFSET $` + strconv.Itoa(n+2)
	// The SQLite backend's LIMIT/OFFSET semantics: a negative limit means no
	// limit (LIMIT NULL here) and a negative offset counts as zero; PostgreSQL
	// would reject both.
	var limit *int
	if p.Limit >= 0 {
		limit = &p.Limit
	}
	var total int
	out := []*store.DeliveryRecord{}
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*)`+from, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	b.Queue(page, append(slices.Clip(args), limit, max(p.Offset, 0))...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var r store.DeliveryRecord
			var created int64
			if err := rows.Scan(&r.DeliveryID, &r.EventID, &r.WebhookUUID, &r.Service, &r.EventType, &r.SourceUID,
				&r.SourceAction, &r.Data, &r.WebhookURL, &created, &r.Status, &r.Attempts, &r.LastResponseCode); err != nil {
				return err
			}
			r.CreatedAt = fromMS(created)
			out = append(out, &r)
		}
		return rows.Err()
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, fmt.Errorf("query deliveries: %w", interpret(err))
	}
	return out, total, nil
}

// ListAttempts implements store.Store.
func (s *Store) ListAttempts(ctx context.Context, accountID string, deliveryID int64) ([]*store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.delivery_id, a.at, a.duration_ms, coalesce(a.status_code, 0), a.error, a.response_body
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE a.delivery_id = $1 AND d.account_id = $2 ORDER BY a.id`, deliveryID, accountID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", interpret(err))
	}
	defer rows.Close()
	out := []*store.Attempt{}
	for rows.Next() {
		var a store.Attempt
		var at, dur int64
		if err := rows.Scan(&a.DeliveryID, &at, &dur, &a.StatusCode, &a.Error, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("list attempts: %w", interpret(err))
		}
		a.At, a.Duration = fromMS(at), time.Duration(dur)*time.Millisecond
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts: %w", interpret(err))
	}
	return out, nil
}

// ReplayDeliveries implements store.Store in one statement plus the NOTIFY:
// the target CTE locks the matching deliveries (whose webhook still exists)
// in id order, the UPDATE re-queues them with a fresh schedule, and the
// newest matching event is reported.
func (s *Store) ReplayDeliveries(ctx context.Context, p *store.ReplayParams) (*store.ReplayResult, error) {
	match := `e.id = $2`
	key := p.EventID
	if p.EventID == "" {
		match, key = `e.source_uid = $2`, p.SourceUID
	}
	query := `WITH target AS (
			SELECT d.id, e.id AS event_id, e.created_at, e.seq
			FROM deliveries d
			JOIN events e ON e.seq = d.event_seq
			JOIN webhooks w ON w.uuid = d.webhook_uuid AND w.account_id = d.account_id
			WHERE d.account_id = $1 AND ` + match + ` AND ($3::text = '' OR d.webhook_uuid = $3::text)
			ORDER BY d.id
			FOR UPDATE OF d
		), upd AS (
			UPDATE deliveries d SET status = 'pending', round_attempts = 0, next_attempt_at = $4,
				lease_owner = NULL, claim_seq = d.claim_seq + 1, updated_at = $4
			FROM target WHERE d.id = target.id
			RETURNING d.id
		)
		SELECT (SELECT count(*) FROM upd),
			coalesce((SELECT event_id FROM target ORDER BY created_at DESC, seq DESC LIMIT 1), '')`
	var res store.ReplayResult
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		res = store.ReplayResult{} // withTx may run this again after a deadlock
		if err := tx.QueryRow(ctx, query, p.AccountID, key, p.WebhookUUID, ms(p.Now)).Scan(&res.Deliveries, &res.EventID); err != nil {
			return interpret(err)
		}
		if res.Deliveries == 0 {
			return store.ErrNotFound
		}
		_, err := tx.Exec(ctx, notifySQL)
		return interpret(err)
	})
	if err != nil {
		return nil, fmt.Errorf("replay deliveries: %w", err)
	}
	return &res, nil
}

// QueueStats implements store.Store. The queue figures come from the
// undelivered rows only (the partial index); Dead counts every failed delivery.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (*store.QueueStats, error) {
	var st store.QueueStats
	var oldest *int64
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE next_attempt_at <= $1),
			count(*) FILTER (WHERE next_attempt_at > $1),
			min(next_attempt_at) FILTER (WHERE next_attempt_at <= $1),
			(SELECT count(*) FROM deliveries WHERE status = 'failed')
		FROM deliveries WHERE status IN ('pending', 'retry')`, ms(now)).Scan(&st.Due, &st.Scheduled, &oldest, &st.Dead)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", interpret(err))
	}
	if oldest != nil {
		st.OldestDue = fromMS(*oldest)
	}
	return &st, nil
}
