package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// publishChunk bounds the rows of one multi-row INSERT: few statements per
// batch (each statement costs far more than a row), well under SQLite's limit
// on bound variables.
const publishChunk = 64

// PublishEvents implements store.Store. Events and deliveries are inserted
// with multi-row statements; duplicates (of earlier events, or within the
// batch) are skipped by the unique index and reported.
func (s *Store) PublishEvents(ctx context.Context, events []*store.Event, now time.Time) ([]store.PublishResult, error) {
	results := make([]store.PublishResult, len(events))
	// Rerunnable: every run sets every result.
	err := s.withRerunnableTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		type key struct{ account, id string }
		seqs := make(map[key]int64, len(events))
		for start := 0; start < len(events); start += publishChunk {
			chunk := events[start:min(start+publishChunk, len(events))]
			args := make([]any, 0, len(chunk)*11)
			for _, e := range chunk {
				args = append(args, e.ID, e.AccountID, e.Type, e.Service, e.User, e.Domain, e.SourceUID, e.SourceAction, e.Data, e.Body, ms(e.CreatedAt))
			}
			ins, err := s.stmt(ctx, tx, insertEventsSQL(len(chunk)))
			if err != nil {
				return interpret(err)
			}
			rows, err := ins.QueryContext(ctx, args...)
			if err != nil {
				if strings.Contains(err.Error(), "FOREIGN KEY") {
					return fmt.Errorf("account of event %d..%d: %w", start, start+len(chunk)-1, store.ErrNotFound)
				}
				return interpret(err)
			}
			for rows.Next() {
				var k key
				var seq int64
				if err := rows.Scan(&seq, &k.account, &k.id); err != nil {
					rows.Close()
					return interpret(err)
				}
				seqs[k] = seq
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				if strings.Contains(err.Error(), "FOREIGN KEY") {
					return fmt.Errorf("account of event %d..%d: %w", start, start+len(chunk)-1, store.ErrNotFound)
				}
				return interpret(err)
			}
		}
		hooks := map[string][]*store.Webhook{}
		nowMS := ms(now)
		var held []heldDelivery
		var dargs []any
		pending := 0
		flush := func() error {
			if pending == 0 {
				return nil
			}
			ins, err := s.stmt(ctx, tx, insertDeliveriesSQL(pending))
			if err != nil {
				return interpret(err)
			}
			_, err = ins.ExecContext(ctx, dargs...)
			dargs, pending = dargs[:0], 0
			return interpret(err)
		}
		for i, e := range events {
			k := key{e.AccountID, e.ID}
			seq, ok := seqs[k]
			if !ok {
				results[i] = store.PublishResult{EventID: e.ID, Duplicate: true}
				continue
			}
			delete(seqs, k) // a later event with the same id in this batch is a duplicate
			ws, ok := hooks[e.AccountID]
			if !ok {
				var err error
				if ws, err = s.listWebhooks(ctx, tx, e.AccountID, true); err != nil {
					return err
				}
				hooks[e.AccountID] = ws
			}
			n := 0
			for _, w := range ws {
				if !store.Matches(w, e) {
					continue
				}
				if store.Controlled(w) {
					held = append(held, heldDelivery{seq: seq, account: e.AccountID, w: w})
					n++
					continue
				}
				dargs = append(dargs, seq, e.AccountID, w.UUID, w.URL, nowMS, nowMS, nowMS)
				pending++
				n++
				if pending == publishChunk {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			results[i] = store.PublishResult{EventID: e.ID, Deliveries: n}
		}
		if err := flush(); err != nil {
			return err
		}
		return s.insertHeld(ctx, tx, held, nowMS)
	})
	if err != nil {
		return nil, fmt.Errorf("publish events: %w", err)
	}
	return results, nil
}

// The multi-row statements, by row count; all prepared at Open.
func insertEventsSQL(n int) string {
	return `INSERT INTO events
		(id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at)
		VALUES ` + rowsOf(n, 11) + ` ON CONFLICT (account_id, id) DO NOTHING RETURNING seq, account_id, id`
}

func insertDeliveriesSQL(n int) string {
	return `INSERT INTO deliveries
		(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, created_at, updated_at)
		VALUES ` + rowsOfDelivery(n)
}

// completeSQL applies n outcomes; VALUES columns are column1…column9 in the
// order completeChunk appends them.
func completeSQL(n int) string {
	return `UPDATE deliveries SET status = v.column3, next_attempt_at = v.column4,
			attempts = attempts + v.column5, round_attempts = round_attempts + v.column5, lease_owner = NULL,
			claim_seq = claim_seq + 1,
			last_response_code = CASE WHEN v.column6 THEN v.column7 ELSE last_response_code END,
			webhook_url = CASE WHEN v.column8 <> '' THEN v.column8 ELSE webhook_url END, updated_at = v.column9
		FROM (VALUES ` + rowsOf(n, 9) + `) AS v
		WHERE deliveries.id = v.column1 AND deliveries.claim_seq = v.column2
		RETURNING deliveries.id, deliveries.claim_seq - 1`
}

func insertAttemptsSQL(n int) string {
	return `INSERT INTO attempts (delivery_id, at, duration_ms, status_code, error_class, error, response_body) VALUES ` + rowsOf(n, 7)
}

// rowsOf returns "(?,…),(?,…)" for n rows of cols values.
func rowsOf(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// rowsOfDelivery is rowsOf for a delivery row, whose status is a constant.
func rowsOfDelivery(n int) string {
	return strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, 'pending', ?, ?, ?),", n), ",")
}

// claimColumnsSQL selects what an attempt needs of a delivery (d), its
// event and its webhook; claimDueSQL and claimIDsSQL add which deliveries.
const claimColumnsSQL = `SELECT d.id, d.claim_seq, d.lease_owner IS NOT NULL, d.round_attempts, d.status,
				d.webhook_uuid, e.id, e.account_id, e.body,
				coalesce(w.url, ''), coalesce(w.secret, ''), coalesce(w.enabled, 0),
				CASE WHEN w.previous_secret_expires_at > ? THEN coalesce(w.previous_secret, '') ELSE '' END,
				w.headers, d.gated, d.replayed, coalesce(w.rate_limit, 0)
			FROM deliveries d
			JOIN events e ON e.seq = d.event_seq
			LEFT JOIN webhooks w ON w.uuid = d.webhook_uuid AND w.account_id = d.account_id`

// claimDueSQL selects due deliveries with what an attempt needs.
const claimDueSQL = claimColumnsSQL + `
			WHERE d.status IN ('pending', 'retry') AND d.next_attempt_at <= ?
			ORDER BY d.next_attempt_at
			LIMIT ?`

// claimIDsSQL selects the deliveries named by a JSON array of ids (handed
// off by a completion) with what an attempt needs.
const claimIDsSQL = claimColumnsSQL + `
			WHERE d.id IN (SELECT value FROM json_each(?))
			ORDER BY d.id`

// scanClaim reads one row of claimColumnsSQL, before the claim's update:
// the claim sequence it returns is the one the update makes. rate is the
// webhook's rate limit.
func scanClaim(rows *sql.Rows) (c *store.Claim, rate int, err error) {
	c = &store.Claim{}
	var round int
	var prev string
	var headers *string
	if err := rows.Scan(&c.DeliveryID, &c.ClaimSeq, &c.TakenOver, &round, &c.Status, &c.WebhookUUID, &c.EventID,
		&c.AccountID, &c.Body, &c.URL, &c.Secret, &c.Enabled, &prev,
		&headers, &c.Gated, &c.Replay, &rate); err != nil {
		return nil, 0, interpret(err)
	}
	if c.Headers, err = store.DecodeHeaders(headers); err != nil {
		return nil, 0, err
	}
	c.Secrets = store.SigningSecrets(c.Secret, prev)
	c.ClaimSeq++
	c.Attempt = round + 1
	return c, rate, nil
}

// claimMarkSQL leases the claimed deliveries, named by a JSON array of ids.
const claimMarkSQL = `UPDATE deliveries SET claim_seq = claim_seq + 1, next_attempt_at = ?,
	lease_owner = ?, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))`

// ClaimDeliveries implements store.Store. With one writer connection the select
// and the update cannot interleave with another claim.
func (s *Store) ClaimDeliveries(ctx context.Context, p *store.ClaimParams) ([]*store.Claim, error) {
	var claims []*store.Claim
	nowMS := ms(p.Now)
	err := s.withRerunnableTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		claims = nil // rerunnable: a rolled-back run's claims are void
		rows, err := tx.StmtContext(ctx, s.claimDue).QueryContext(ctx, nowMS, nowMS, p.Limit)
		if err != nil {
			return interpret(err)
		}
		defer rows.Close()
		var paced []*store.Claim
		for rows.Next() {
			c, rate, err := scanClaim(rows)
			if err != nil {
				return err
			}
			claims = append(claims, c)
			if c.Gated && rate > 0 && c.Enabled {
				paced = append(paced, c)
			}
		}
		if err := rows.Err(); err != nil {
			return interpret(err)
		}
		rows.Close()
		if len(paced) > 0 {
			refused, err := s.admitPaced(ctx, tx, paced, nowMS)
			if err != nil {
				return err
			}
			kept := claims[:0]
			for _, c := range claims {
				if !refused[c.DeliveryID] {
					kept = append(kept, c)
				}
			}
			claims = kept
		}
		if len(claims) == 0 {
			return nil
		}
		ids := make([]int64, len(claims))
		for i, c := range claims {
			ids[i] = c.DeliveryID
		}
		_, err = tx.StmtContext(ctx, s.claimMark).ExecContext(ctx, nowMS+p.Lease.Milliseconds(), p.Owner, nowMS, jsonInts(ids))
		return interpret(err)
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return claims, nil
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// claimKey names one claim of a delivery: its id and claim sequence.
type claimKey struct{ id, seq int64 }

// CompleteDeliveries implements store.Store.
func (s *Store) CompleteDeliveries(ctx context.Context, outcomes []*store.Outcome) (int, error) {
	n, _, err := s.complete(ctx, outcomes, nil)
	return n, err
}

// CompleteAndClaim implements store.Handoff.
func (s *Store) CompleteAndClaim(ctx context.Context, outcomes []*store.Outcome, p *store.ClaimParams) (int, []*store.Claim, error) {
	return s.complete(ctx, outcomes, p)
}

// complete applies outcomes and, with p, claims what they release from FIFO
// queues (up to p.Limit).
func (s *Store) complete(ctx context.Context, outcomes []*store.Outcome, p *store.ClaimParams) (int, []*store.Claim, error) {
	// The same claim twice in one batch would apply once but record two
	// attempts; the first one stands.
	seen := make(map[claimKey]bool, len(outcomes))
	unique := make([]*store.Outcome, 0, len(outcomes))
	for _, o := range outcomes {
		if k := (claimKey{o.DeliveryID, o.ClaimSeq}); !seen[k] {
			seen[k] = true
			unique = append(unique, o)
		}
	}
	outcomes = unique
	applied := 0
	var claims []*store.Claim
	err := s.withRerunnableTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		applied, claims = 0, nil // rerunnable
		var done []*store.Outcome
		for start := 0; start < len(outcomes); start += publishChunk {
			chunk := outcomes[start:min(start+publishChunk, len(outcomes))]
			n, attempted, err := s.completeChunk(ctx, tx, chunk)
			if err != nil {
				return err
			}
			applied += n
			done = append(done, attempted...)
		}
		if err := s.applyHealth(ctx, tx, store.HealthUpdates(done)); err != nil {
			return err
		}
		var h *handoff
		if p != nil && p.Limit > 0 {
			h = &handoff{limit: p.Limit}
		}
		if err := s.afterComplete(ctx, tx, outcomes, h); err != nil {
			return err
		}
		if h == nil || len(h.ids) == 0 {
			return nil
		}
		var err error
		claims, err = s.claimHandedOff(ctx, tx, h.ids, p)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("complete deliveries: %w", err)
	}
	return applied, claims, nil
}

// claimHandedOff claims deliveries ids (held, just moved up by a completion)
// for p.Owner.
func (s *Store) claimHandedOff(ctx context.Context, tx *sql.Tx, ids []int64, p *store.ClaimParams) ([]*store.Claim, error) {
	nowMS := ms(p.Now)
	list := jsonInts(ids)
	st, err := s.stmt(ctx, tx, claimIDsSQL)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, nowMS, list)
	if err != nil {
		return nil, interpret(err)
	}
	var claims []*store.Claim
	for rows.Next() {
		c, _, err := scanClaim(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		claims = append(claims, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, interpret(err)
	}
	_, err = tx.StmtContext(ctx, s.claimMark).ExecContext(ctx, nowMS+p.Lease.Milliseconds(), p.Owner, nowMS, list)
	return claims, interpret(err)
}

// completeChunk applies outcomes with one UPDATE … FROM (VALUES …) and
// records the attempts of those applied with one multi-row INSERT: two
// statements per chunk instead of two per delivery.
func (s *Store) completeChunk(ctx context.Context, tx *sql.Tx, chunk []*store.Outcome) (int, []*store.Outcome, error) {
	args := make([]any, 0, len(chunk)*9)
	for _, o := range chunk {
		inc := 0
		if o.Attempted {
			inc = 1
		}
		var code sql.NullInt64
		if o.StatusCode > 0 {
			code = sql.NullInt64{Int64: int64(o.StatusCode), Valid: true}
		}
		next := ms(o.NextAttemptAt)
		if o.Status == store.StatusSuccess || o.Status == store.StatusFailed {
			next = ms(o.At)
		}
		args = append(args, o.DeliveryID, o.ClaimSeq, o.Status, next, inc, inc, code, o.URL, ms(o.At))
	}
	// VALUES columns are column1…column9, in the order appended above.
	upd, err := s.stmt(ctx, tx, completeSQL(len(chunk)))
	if err != nil {
		return 0, nil, interpret(err)
	}
	rows, err := upd.QueryContext(ctx, args...)
	if err != nil {
		return 0, nil, interpret(err)
	}
	// Applied claims by (delivery, claim sequence it matched): a delivery
	// retaken by the same node may have an older claim in the same batch.
	applied := map[claimKey]bool{}
	for rows.Next() {
		var k claimKey
		if err := rows.Scan(&k.id, &k.seq); err != nil {
			rows.Close()
			return 0, nil, interpret(err)
		}
		applied[k] = true
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, nil, interpret(err)
	}
	// Outcomes whose claim was taken over or voided are not applied: their
	// new owner decides.
	var attempted []*store.Outcome
	ins := make([]any, 0, len(chunk)*7)
	for _, o := range chunk {
		if !applied[claimKey{o.DeliveryID, o.ClaimSeq}] || !o.Attempted {
			continue
		}
		var code sql.NullInt64
		if o.StatusCode > 0 {
			code = sql.NullInt64{Int64: int64(o.StatusCode), Valid: true}
		}
		ins = append(ins, o.DeliveryID, ms(o.At), o.Duration.Milliseconds(), code, o.ErrorClass, o.Error, o.ResponseBody)
		attempted = append(attempted, o)
	}
	if len(attempted) > 0 {
		st, err := s.stmt(ctx, tx, insertAttemptsSQL(len(attempted)))
		if err != nil {
			return 0, nil, interpret(err)
		}
		if _, err := st.ExecContext(ctx, ins...); err != nil {
			return 0, nil, interpret(err)
		}
	}
	return len(applied), attempted, nil
}

// The health statements, prepared at Open: a fan-out completes deliveries of
// many webhooks in one batch, and each runs one of these.
const (
	healthySQL = `UPDATE webhooks SET failing_since = NULL WHERE uuid = ? AND failing_since IS NOT NULL`
	failingSQL = `UPDATE webhooks SET failing_since = ? WHERE uuid = ? AND failing_since IS NULL`
	disableSQL = `UPDATE webhooks SET enabled = 0, disabled_reason = ?, disabled_at = ? WHERE uuid = ? AND enabled = 1`
)

// applyHealth writes webhook health. The statements only match rows whose
// state changes, so the common case (a healthy webhook succeeding) writes
// nothing.
func (s *Store) applyHealth(ctx context.Context, tx *sql.Tx, updates []store.HealthUpdate) error {
	for _, h := range updates {
		var err error
		if h.Healthy {
			err = s.exec(ctx, tx, healthySQL, h.WebhookUUID)
		} else {
			err = s.exec(ctx, tx, failingSQL, ms(h.FailedAt), h.WebhookUUID)
		}
		if err != nil {
			return err
		}
		if h.DisableReason != "" {
			if err := s.exec(ctx, tx, disableSQL, h.DisableReason, ms(h.DisableAt), h.WebhookUUID); err != nil {
				return err
			}
		}
	}
	return nil
}

// exec runs the prepared statement query in tx.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return interpret(err)
}

// NextDueAt implements store.Store.
func (s *Store) NextDueAt(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'retry')`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", interpret(err))
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(v.Int64), true, nil
}

// QueryDeliveries implements store.Store.
func (s *Store) QueryDeliveries(ctx context.Context, p *store.QueryParams) ([]*store.DeliveryRecord, int, error) {
	where := []string{"d.account_id = ?"}
	args := []any{p.AccountID}
	if p.WebhookUUID != "" {
		where, args = append(where, "d.webhook_uuid = ?"), append(args, p.WebhookUUID)
	}
	if p.EventID != "" {
		where, args = append(where, "e.id = ?"), append(args, p.EventID)
	}
	if p.EventType != "" {
		where, args = append(where, "e.type = ?"), append(args, p.EventType)
	}
	if p.SourceUID != "" {
		where, args = append(where, "e.source_uid = ?"), append(args, p.SourceUID)
	}
	if p.Status != "" {
		where, args = append(where, "d.status = ?"), append(args, p.Status)
	}
	if p.From != nil {
		where, args = append(where, "e.created_at >= ?"), append(args, ms(*p.From))
	}
	if p.To != nil {
		where, args = append(where, "e.created_at <= ?"), append(args, ms(*p.To))
	}
	cond := ` WHERE ` + strings.Join(where, " AND ")
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("query deliveries: count: %w", interpret(err))
	}
	// The last attempt comes with each record: the newest attempts row of
	// the delivery, found through attempts_delivery (which ends in the rowid).
	rows, err := s.r.QueryContext(ctx, `SELECT d.id, e.id, d.webhook_uuid, e.service, e.type, e.source_uid, e.source_action,
			e.data, CASE WHEN length(e.data) = 0 THEN e.body END, d.webhook_url, e.created_at, d.status, d.attempts, d.last_response_code,
			a.at, a.duration_ms, a.status_code, a.error_class, a.error, a.response_body, d.replayed
		FROM deliveries d JOIN events e ON e.seq = d.event_seq
		LEFT JOIN attempts a ON a.id = (SELECT max(id) FROM attempts WHERE delivery_id = d.id)`+cond+
		` ORDER BY e.created_at DESC, d.id DESC LIMIT ? OFFSET ?`, append(args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("query deliveries: %w", interpret(err))
	}
	defer rows.Close()
	out := []*store.DeliveryRecord{}
	for rows.Next() {
		var r store.DeliveryRecord
		var created int64
		var code sql.NullInt64
		var la lastAttemptCols
		var envelope []byte
		if err := rows.Scan(&r.DeliveryID, &r.EventID, &r.WebhookUUID, &r.Service, &r.EventType, &r.SourceUID,
			&r.SourceAction, &r.Data, &envelope, &r.WebhookURL, &created, &r.Status, &r.Attempts, &code,
			&la.at, &la.dur, &la.code, &la.class, &la.err, &la.body, &r.Replayed); err != nil {
			return nil, 0, fmt.Errorf("query deliveries: %w", interpret(err))
		}
		r.CreatedAt = fromMS(created)
		if envelope != nil {
			r.Data = store.EnvelopeData(envelope)
		}
		if code.Valid {
			c := int(code.Int64)
			r.LastResponseCode = &c
		}
		r.LastAttempt = la.attempt(r.DeliveryID, r.Attempts)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("query deliveries: %w", interpret(err))
	}
	return out, total, nil
}

// lastAttemptCols scans the LEFT JOINed last attempt of a query row.
type lastAttemptCols struct {
	at, dur, code    sql.NullInt64
	class, err, body sql.NullString
}

// attempt is the scanned attempt, or nil when the delivery has none. Its
// number is the delivery's attempt count: the newest is the last one.
func (c *lastAttemptCols) attempt(deliveryID int64, number int) *store.Attempt {
	if !c.at.Valid {
		return nil
	}
	return &store.Attempt{DeliveryID: deliveryID, Number: number, At: fromMS(c.at.Int64),
		Duration: time.Duration(c.dur.Int64) * time.Millisecond, StatusCode: int(c.code.Int64),
		ErrorClass: c.class.String, Error: c.err.String, ResponseBody: c.body.String}
}

// ListAttempts implements store.Store.
func (s *Store) ListAttempts(ctx context.Context, accountID string, deliveryID int64) ([]*store.Attempt, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.delivery_id, a.at, a.duration_ms, coalesce(a.status_code, 0), a.error_class, a.error, a.response_body
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE a.delivery_id = ? AND d.account_id = ? ORDER BY a.id`, deliveryID, accountID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", interpret(err))
	}
	defer rows.Close()
	out := []*store.Attempt{}
	for rows.Next() {
		var a store.Attempt
		var at, dur int64
		if err := rows.Scan(&a.DeliveryID, &at, &dur, &a.StatusCode, &a.ErrorClass, &a.Error, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("list attempts: %w", interpret(err))
		}
		a.At, a.Duration, a.Number = fromMS(at), time.Duration(dur)*time.Millisecond, len(out)+1
		out = append(out, &a)
	}
	return out, interpret(rows.Err())
}

// ListDeliveryAttempts implements store.Store.
func (s *Store) ListDeliveryAttempts(ctx context.Context, p *store.ListDeliveryAttemptsParams) ([]*store.Attempt, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE e.account_id = ? AND e.id = ? AND d.webhook_uuid = ? AND d.account_id = ?`,
		p.AccountID, p.EventID, p.WebhookUUID, p.AccountID).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", interpret(err))
	}
	limit := p.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT n, at, duration_ms, coalesce(status_code, 0), error_class, error, response_body
		FROM (SELECT row_number() OVER (ORDER BY id) AS n, * FROM attempts WHERE delivery_id = ?)
		WHERE n > ? ORDER BY n LIMIT ?`, id, p.AfterNumber, limit)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", interpret(err))
	}
	defer rows.Close()
	out := []*store.Attempt{}
	for rows.Next() {
		a := store.Attempt{DeliveryID: id}
		var at, dur int64
		if err := rows.Scan(&a.Number, &at, &dur, &a.StatusCode, &a.ErrorClass, &a.Error, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("list delivery attempts: %w", interpret(err))
		}
		a.At, a.Duration = fromMS(at), time.Duration(dur)*time.Millisecond
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", interpret(err))
	}
	return out, nil
}

// ReplayDeliveries implements store.Store.
func (s *Store) ReplayDeliveries(ctx context.Context, p *store.ReplayParams) (*store.ReplayResult, error) {
	where := []string{"d.account_id = ?"}
	args := []any{p.AccountID}
	if p.EventID != "" {
		where, args = append(where, "e.id = ?"), append(args, p.EventID)
	} else {
		where, args = append(where, "e.source_uid = ?"), append(args, p.SourceUID)
	}
	if p.WebhookUUID != "" {
		where, args = append(where, "d.webhook_uuid = ?"), append(args, p.WebhookUUID)
	}
	var res store.ReplayResult
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT d.id, e.id FROM deliveries d
			JOIN events e ON e.seq = d.event_seq
			JOIN webhooks w ON w.uuid = d.webhook_uuid AND w.account_id = d.account_id
			WHERE `+strings.Join(where, " AND ")+` ORDER BY e.created_at DESC, e.seq DESC`, args...)
		if err != nil {
			return interpret(err)
		}
		var ids []any
		for rows.Next() {
			var id int64
			var eventID string
			if err := rows.Scan(&id, &eventID); err != nil {
				rows.Close()
				return interpret(err)
			}
			if res.EventID == "" {
				res.EventID = eventID
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpret(err)
		}
		if len(ids) == 0 {
			return store.ErrNotFound
		}
		nowMS := ms(p.Now)
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', round_attempts = 0, next_attempt_at = ?,
				lease_owner = NULL, claim_seq = claim_seq + 1, updated_at = ?, replayed = 1 WHERE id IN (`+placeholders(len(chunk))+`)`,
				append([]any{nowMS, nowMS}, chunk...)...)
			if err != nil {
				return interpret(err)
			}
		}
		if err := s.requeueReplayed(ctx, tx, ids, nowMS); err != nil {
			return err
		}
		res.Deliveries = len(ids)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay deliveries: %w", err)
	}
	return &res, nil
}

// QueueStats implements store.Store.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (*store.QueueStats, error) {
	var st store.QueueStats
	var oldest sql.NullInt64
	nowMS := ms(now)
	err := s.r.QueryRowContext(ctx, `SELECT
			coalesce(sum(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN next_attempt_at > ? THEN 1 ELSE 0 END), 0),
			min(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)
		FROM deliveries WHERE status IN ('pending', 'retry')`, nowMS, nowMS, nowMS).Scan(&st.Due, &st.Scheduled, &oldest)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", interpret(err))
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE status = 'failed'`).Scan(&st.Dead); err != nil {
		return nil, fmt.Errorf("queue stats: %w", interpret(err))
	}
	if oldest.Valid {
		st.OldestDue = fromMS(oldest.Int64)
	}
	return &st, nil
}

// farFuture keeps test deliveries out of the engine's due range.
const farFuture = int64(1) << 62

// CreateTestDelivery implements store.Store.
func (s *Store) CreateTestDelivery(ctx context.Context, e *store.Event, webhookUUID string, now time.Time) (*store.Claim, error) {
	var c *store.Claim
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var url, secret, prev string
		var enabled bool
		var prevExp sql.NullInt64
		var headers *string
		if err := tx.QueryRowContext(ctx, `SELECT url, secret, enabled, coalesce(previous_secret, ''), previous_secret_expires_at,
			headers
			FROM webhooks WHERE uuid = ? AND account_id = ?`, webhookUUID, e.AccountID).Scan(&url, &secret, &enabled, &prev, &prevExp,
			&headers); err != nil {
			return interpret(err)
		}
		hdrs, err := store.DecodeHeaders(headers)
		if err != nil {
			return err
		}
		if !prevExp.Valid || prevExp.Int64 <= ms(now) {
			prev = ""
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO events
			(id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`, e.ID, e.AccountID, e.Type, e.Service, e.User, e.Domain,
			e.SourceUID, e.SourceAction, e.Data, e.Body, ms(e.CreatedAt)).Scan(&seq); err != nil {
			return interpret(err)
		}
		nowMS := ms(now)
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO deliveries
			(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, claim_seq, lease_owner, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'pending', ?, 1, 'test', ?, ?) RETURNING id`, seq, e.AccountID, webhookUUID, url, farFuture, nowMS, nowMS).Scan(&id); err != nil {
			return interpret(err)
		}
		c = &store.Claim{DeliveryID: id, ClaimSeq: 1, Status: store.StatusPending, EventID: e.ID, AccountID: e.AccountID, WebhookUUID: webhookUUID,
			URL: url, Secret: secret, Secrets: store.SigningSecrets(secret, prev), Enabled: enabled, Body: e.Body, Attempt: 1,
			Headers: hdrs}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create test delivery: %w", err)
	}
	return c, nil
}
