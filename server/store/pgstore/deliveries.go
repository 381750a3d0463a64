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
	"github.com/jackc/pgx/v5/pgxpool"

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

// PublishEvents implements store.Store. Whatever the batch size it costs two
// round trips and no explicit transaction: one to check the accounts and load
// their enabled webhooks, then publishSQL (events and their deliveries in one
// statement) pipelined with the NOTIFY. Statements sent together before one
// Sync form an implicit transaction, so the events, their deliveries and the
// wake-up commit together or not at all.
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
	// The webhooks are read outside the writing transaction: under READ
	// COMMITTED a transaction would not hold them still either (see
	// loadHooks), and an account deleted meanwhile fails the events' foreign
	// key, reported as not found all the same.
	hooks, err := loadHooks(ctx, s.pool, accounts)
	if err != nil {
		return nil, fmt.Errorf("publish events: %w", err)
	}
	for i, e := range events {
		if _, ok := hooks[e.AccountID]; !ok {
			return nil, fmt.Errorf("publish events: event %d: account %q: %w", i, e.AccountID, store.ErrNotFound)
		}
	}
	// Fan-out is decided before the insert, for the events not repeated
	// within the batch; an event already stored gets no deliveries because
	// publishSQL only joins the events it actually inserted.
	ev := newEventRows(events, first)
	var d deliveryRows
	var gated []gatedDelivery
	planned := make([]int, len(events))
	for i, e := range events {
		if first[eventKey{e.AccountID, e.ID}] != i {
			continue
		}
		for _, w := range hooks[e.AccountID] {
			if store.Matches(w, e) && store.Controlled(w) {
				gated = append(gated, gatedDelivery{account: e.AccountID, eventID: e.ID, w: w})
				planned[i]++
			} else if store.Matches(w, e) {
				d.add(e.AccountID, e.ID, w)
				planned[i]++
			}
		}
	}
	var seqs map[eventKey]bool
	for try := 1; ; try++ {
		if len(gated) > 0 {
			seqs, err = s.publishGated(ctx, ev, &d, gated, ms(now))
			break
		}
		seqs, err = s.insertEvents(ctx, ev, &d, ms(now))
		if err == nil || !retryable(err) || try == maxTxTries || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("publish events: %w", interpret(err))
	}
	for i, e := range events {
		k := eventKey{e.AccountID, e.ID}
		if !seqs[k] || first[k] != i {
			results[i] = store.PublishResult{EventID: e.ID, Duplicate: true}
			continue
		}
		results[i] = store.PublishResult{EventID: e.ID, Deliveries: planned[i]}
	}
	return results, nil
}

// publishSQL inserts the first occurrence of every event of a batch
// ($1…$11) and the deliveries of those actually inserted ($12…$15, keyed by
// the event's account and id; an event already stored is skipped by ON
// CONFLICT and so gets none), and returns the events it inserted. WITH
// ORDINALITY … ORDER BY assigns seqs and delivery ids in batch order, so the
// events of one batch sort by seq, and are delivered, as they were published.
const publishSQL = `WITH ev AS (
		INSERT INTO events
			(id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at)
		SELECT id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::bytea[], $10::bytea[], $11::bigint[]) WITH ORDINALITY
			AS e (id, account_id, type, service, user_name, domain, source_uid, source_action, data, body, created_at, ord)
		ORDER BY ord
		ON CONFLICT (account_id, id) DO NOTHING
		RETURNING seq, account_id, id
	), del AS (
		INSERT INTO deliveries
			(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, created_at, updated_at)
		SELECT ev.seq, ev.account_id, d.uuid, d.url, 'pending', $16::bigint, $16::bigint, $16::bigint
		FROM unnest($12::text[], $13::text[], $14::text[], $15::text[]) WITH ORDINALITY AS d (account_id, event_id, uuid, url, ord)
		JOIN ev ON ev.account_id = d.account_id AND ev.id = d.event_id
		ORDER BY d.ord
	)
	SELECT account_id, id FROM ev`

// insertEvents runs publishSQL, with the NOTIFY when there are deliveries,
// and reports which events it inserted (the others were already stored).
// The NOTIFY goes out whenever deliveries were planned: if every event of the
// batch turns out to be stored already, the wake-up is spurious, which costs
// the nodes an empty claim and is rare (a retried publish).
func (s *Store) insertEvents(ctx context.Context, ev *eventRows, d *deliveryRows, nowMS int64) (map[eventKey]bool, error) {
	inserted := make(map[eventKey]bool, len(ev.ids))
	b := &pgx.Batch{}
	b.Queue(publishSQL, ev.ids, ev.accounts, ev.types, ev.services, ev.users, ev.domains, ev.uids, ev.actions,
		ev.data, ev.bodies, ev.created, d.accounts, d.events, d.uuids, d.urls, nowMS).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k eventKey
			if err := rows.Scan(&k.account, &k.id); err != nil {
				return err
			}
			inserted[k] = true
		}
		return rows.Err()
	})
	if len(d.uuids) > 0 {
		b.Queue(notifySQL)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return inserted, nil
}

// eventRows are the columns of the events to insert, as arrays for unnest.
type eventRows struct {
	ids, accounts, types, services []string
	users, domains, uids, actions  []string
	data, bodies                   [][]byte
	created                        []int64
}

// newEventRows takes the first occurrence of every event.
func newEventRows(events []*store.Event, first map[eventKey]int) *eventRows {
	n := len(first)
	r := &eventRows{
		ids: make([]string, 0, n), accounts: make([]string, 0, n), types: make([]string, 0, n), services: make([]string, 0, n),
		users: make([]string, 0, n), domains: make([]string, 0, n), uids: make([]string, 0, n), actions: make([]string, 0, n),
		data: make([][]byte, 0, n), bodies: make([][]byte, 0, n), created: make([]int64, 0, n),
	}
	for i, e := range events {
		if first[eventKey{e.AccountID, e.ID}] != i {
			continue
		}
		r.ids, r.accounts, r.types, r.services = append(r.ids, e.ID), append(r.accounts, e.AccountID), append(r.types, e.Type), append(r.services, e.Service)
		r.users, r.domains, r.uids, r.actions = append(r.users, e.User), append(r.domains, e.Domain), append(r.uids, e.SourceUID), append(r.actions, e.SourceAction)
		// The columns are NOT NULL; a nil slice would be sent as NULL.
		r.data, r.bodies = append(r.data, orEmptyBytes(e.Data)), append(r.bodies, orEmptyBytes(e.Body))
		r.created = append(r.created, ms(e.CreatedAt))
	}
	return r
}

// loadHooks checks that the accounts exist and loads their enabled webhooks,
// once per account per call, in one round trip. The map has an entry (maybe
// empty) for every existing account and none for a missing one.
//
// The webhooks are not locked: a webhook deleted or disabled while the
// publish runs may still receive a pending delivery from it. That race is
// benign and already part of the contract: the claim reports the webhook as
// deleted (empty URL) or disabled and the worker fails the delivery without
// an attempt. Locking them (FOR KEY SHARE) would close it, at the price of a
// row lock, hence a tuple write and often a MultiXact, on every webhook of
// the account in every publish of every node.
func loadHooks(ctx context.Context, db *pgxpool.Pool, accounts []string) (map[string][]*store.Webhook, error) {
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
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpret(err)
	}
	return hooks, nil
}

func orEmptyBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// deliveryRows are the columns of the deliveries to insert, as arrays for
// unnest; each names its event by account and id, its seq being unknown
// until the event is inserted.
type deliveryRows struct {
	accounts, events, uuids, urls []string
}

func (d *deliveryRows) add(account, eventID string, w *store.Webhook) {
	d.accounts = append(d.accounts, account)
	d.events = append(d.events, eventID)
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
			RETURNING d.id, d.claim_seq, due.taken_over, due.due_at, d.round_attempts, d.status, d.webhook_uuid, d.event_seq, d.account_id,
				d.gated, d.replayed
		)
		`+claimSelectSQL+`
		ORDER BY c.due_at, c.id`,
		nowMS, p.Limit, nowMS+p.Lease.Milliseconds(), p.Owner)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", interpret(err))
	}
	claims, paced, err := scanClaims(rows)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if len(paced) > 0 {
		// Claims of rate-limited webhooks are admitted against their pace;
		// the refused ones went back to the queue, unclaimed.
		refused, err := s.admitPaced(ctx, paced, nowMS)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: admit: %w", err)
		}
		kept := claims[:0]
		for _, c := range claims {
			if !refused[c.DeliveryID] {
				kept = append(kept, c)
			}
		}
		claims = kept
	}
	return claims, nil
}

// claimSelectSQL is the final SELECT of a claim statement: what a worker
// needs of the claimed rows (the CTE "claimed"), their events and webhooks.
const claimSelectSQL = `SELECT c.id, c.claim_seq, c.taken_over, c.round_attempts, c.status, c.webhook_uuid, e.id, c.account_id, e.body,
			coalesce(w.url, ''), coalesce(w.secret, ''), coalesce(w.enabled, false),
			CASE WHEN w.previous_secret_expires_at > $1 THEN coalesce(w.previous_secret, '') ELSE '' END,
			w.headers, c.gated, c.replayed, coalesce(w.rate_limit, 0)
		FROM claimed c
		JOIN events e ON e.seq = c.event_seq
		LEFT JOIN webhooks w ON w.uuid = c.webhook_uuid AND w.account_id = c.account_id`

// scanClaims reads the rows of claimSelectSQL; paced are the claims of
// enabled, rate-limited webhooks' queues, which the pace must admit.
func scanClaims(rows pgx.Rows) (claims, paced []*store.Claim, err error) {
	defer rows.Close()
	for rows.Next() {
		c := &store.Claim{}
		var round, rate int
		var prev string
		var headers *string
		if err := rows.Scan(&c.DeliveryID, &c.ClaimSeq, &c.TakenOver, &round, &c.Status, &c.WebhookUUID, &c.EventID,
			&c.AccountID, &c.Body, &c.URL, &c.Secret, &c.Enabled, &prev,
			&headers, &c.Gated, &c.Replay, &rate); err != nil {
			return nil, nil, interpret(err)
		}
		if c.Headers, err = store.DecodeHeaders(headers); err != nil {
			return nil, nil, err
		}
		c.Secrets = store.SigningSecrets(c.Secret, prev)
		c.Attempt = round + 1
		claims = append(claims, c)
		if c.Gated && rate > 0 && c.Enabled {
			paced = append(paced, c)
		}
	}
	return claims, paced, interpret(rows.Err())
}

// completeSQL applies a batch of outcomes, records their attempts and, when
// every outcome applied, the webhooks' health, all in one statement: atomic
// without an explicit transaction, and one round trip.
//
//   - locked takes the row locks first, in delivery id order, whatever join
//     order the planner picks for the UPDATE, so two nodes completing
//     overlapping batches cannot deadlock. Only rows whose claim is still
//     current are locked; a row changed meanwhile is re-checked against its
//     newest version (READ COMMITTED's EvalPlanQual), so a claim taken over
//     in the meantime is left alone.
//   - upd applies the outcomes whose claim_seq still matches and bumps it, so
//     an outcome applies at most once. It applies nothing unless at least $13
//     rows were locked: the caller passes the batch size to ask for all or
//     nothing (the health updates it sends assume every outcome applies), or
//     0 in its fallback transaction to apply whatever still matches.
//   - ins records an attempt for exactly the applied, attempted outcomes.
//   - the health CTEs write the precomputed updates ($14…) only if all $13
//     outcomes applied; they run after upd, so deliveries are always locked
//     before webhooks.
var completeSQL = `WITH v AS (
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::integer[], $6::integer[],
			$7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[])
			AS v (id, claim_seq, status, next_attempt_at, inc, status_code, url, at, duration_ms, error, response_body, error_class)
	), locked AS MATERIALIZED (
		SELECT d.id FROM deliveries d JOIN v ON v.id = d.id AND v.claim_seq = d.claim_seq
		ORDER BY d.id
		FOR UPDATE OF d
	), upd AS (
		UPDATE deliveries d SET status = v.status, next_attempt_at = v.next_attempt_at,
			attempts = d.attempts + v.inc, round_attempts = d.round_attempts + v.inc, lease_owner = NULL,
			claim_seq = d.claim_seq + 1,
			last_response_code = CASE WHEN v.inc = 1 THEN v.status_code ELSE d.last_response_code END,
			webhook_url = CASE WHEN v.url <> '' THEN v.url ELSE d.webhook_url END, updated_at = v.at
		FROM v
		WHERE d.id = v.id AND d.claim_seq = v.claim_seq AND (SELECT count(*) FROM locked) >= $13::bigint
		RETURNING d.id, v.claim_seq, v.inc, v.at, v.duration_ms, v.status_code, v.error_class, v.error, v.response_body
	), ins AS (
		INSERT INTO attempts (delivery_id, at, duration_ms, status_code, error_class, error, response_body)
		SELECT id, at, duration_ms, status_code, error_class, error, response_body FROM upd WHERE inc = 1 ORDER BY id
	), ` + healthCTEs(14, `(SELECT count(*) FROM upd) = $13::bigint`) + `
	SELECT id, claim_seq FROM upd`

// healthSQL writes webhook health alone: CompleteDeliveries' fallback, once
// it knows which outcomes applied.
var healthSQL = `WITH ` + healthCTEs(1, `true`) + `
	SELECT count(*) FROM hlocked`

// healthCTEs writes store.HealthUpdates, passed as five arrays from parameter
// $p on, when guard holds. Only rows whose state changes are locked and
// written (a healthy webhook succeeding again costs an index probe and no
// tuple write), in uuid order, so concurrent completions lock webhook rows
// in the same order. A failing webhook keeps its first failure time; a
// disable applies only to an enabled webhook.
func healthCTEs(p int, guard string) string {
	arg := func(i int, typ string) string { return "$" + strconv.Itoa(p+i) + "::" + typ }
	return `hv AS (
		SELECT * FROM unnest(` + arg(0, "text[]") + `, ` + arg(1, "boolean[]") + `, ` + arg(2, "bigint[]") + `, ` +
		arg(3, "text[]") + `, ` + arg(4, "bigint[]") + `) AS h (uuid, healthy, failed_at, reason, disable_at)
	), hlocked AS MATERIALIZED (
		SELECT h.* FROM webhooks w JOIN hv h ON h.uuid = w.uuid
		WHERE ` + guard + ` AND (CASE WHEN h.healthy THEN w.failing_since IS NOT NULL ELSE w.failing_since IS NULL END
			OR (h.reason <> '' AND w.enabled))
		ORDER BY w.uuid
		FOR UPDATE OF w
	), hupd AS (
		UPDATE webhooks w SET
			failing_since = CASE WHEN h.healthy THEN NULL ELSE coalesce(w.failing_since, h.failed_at) END,
			enabled = w.enabled AND h.reason = '',
			disabled_reason = CASE WHEN h.reason <> '' AND w.enabled THEN h.reason ELSE w.disabled_reason END,
			disabled_at = CASE WHEN h.reason <> '' AND w.enabled THEN h.disable_at ELSE w.disabled_at END
		FROM hlocked h WHERE w.uuid = h.uuid
	)`
}

// outcomeRows are the columns of completeSQL's outcomes, as arrays for unnest.
type outcomeRows struct {
	ids, seqs, nexts, ats, durations []int64
	incs                             []int32
	codes                            []*int32
	statuses, urls, errs, bodies     []string
	classes                          []string
}

func newOutcomeRows(outcomes []*store.Outcome) *outcomeRows {
	n := len(outcomes)
	r := &outcomeRows{
		ids: make([]int64, 0, n), seqs: make([]int64, 0, n), nexts: make([]int64, 0, n), ats: make([]int64, 0, n),
		durations: make([]int64, 0, n), incs: make([]int32, 0, n), codes: make([]*int32, 0, n),
		statuses: make([]string, 0, n), urls: make([]string, 0, n), errs: make([]string, 0, n), bodies: make([]string, 0, n),
		classes: make([]string, 0, n),
	}
	for _, o := range outcomes {
		inc := int32(0)
		if o.Attempted {
			inc = 1
		}
		// The attempt's status_code is NULL without an answer (a network
		// error), and last_response_code keeps its value without an attempt.
		var code *int32
		if o.StatusCode > 0 {
			c := int32(o.StatusCode)
			code = &c
		}
		next := ms(o.NextAttemptAt)
		if o.Status == store.StatusSuccess || o.Status == store.StatusFailed {
			next = ms(o.At)
		}
		r.ids, r.seqs, r.nexts = append(r.ids, o.DeliveryID), append(r.seqs, o.ClaimSeq), append(r.nexts, next)
		r.ats, r.durations = append(r.ats, ms(o.At)), append(r.durations, o.Duration.Milliseconds())
		r.incs, r.codes = append(r.incs, inc), append(r.codes, code)
		r.statuses, r.urls, r.errs, r.bodies = append(r.statuses, o.Status), append(r.urls, o.URL), append(r.errs, o.Error), append(r.bodies, o.ResponseBody)
		r.classes = append(r.classes, o.ErrorClass)
	}
	return r
}

// healthRows are the columns of store.HealthUpdates, as arrays for unnest.
type healthRows struct {
	uuids, reasons      []string
	healthy             []bool
	failedAt, disableAt []int64
}

func newHealthRows(updates []store.HealthUpdate) *healthRows {
	r := &healthRows{uuids: []string{}, reasons: []string{}, healthy: []bool{}, failedAt: []int64{}, disableAt: []int64{}}
	for _, h := range updates {
		r.uuids, r.reasons, r.healthy = append(r.uuids, h.WebhookUUID), append(r.reasons, h.DisableReason), append(r.healthy, h.Healthy)
		r.failedAt, r.disableAt = append(r.failedAt, ms(h.FailedAt)), append(r.disableAt, ms(h.DisableAt))
	}
	return r
}

// outcomeKey identifies a claim an outcome is for.
type outcomeKey struct{ id, seq int64 }

// CompleteDeliveries implements store.Store. Usually it costs one statement
// (completeSQL) and one round trip whatever the batch size: the outcomes are
// applied all or nothing, with the health updates computed in advance for
// all of them. When some claim is no longer current (taken over, voided by a
// replay, or an older claim of a delivery whose current claim is in the batch
// too) nothing was applied, and a transaction applies whatever still matches,
// then the health updates of exactly those.
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
	if len(outcomes) == 0 {
		return 0, nil, nil
	}
	// Stable delivery id order: of two outcomes for the same claim the first
	// given counts (the other is dropped here, so each claim is sent once),
	// and HealthUpdates breaks ties in At by id.
	sorted := slices.Clone(outcomes)
	slices.SortStableFunc(sorted, func(a, b *store.Outcome) int { return cmp.Compare(a.DeliveryID, b.DeliveryID) })
	byKey := make(map[outcomeKey]*store.Outcome, len(sorted))
	uniq := sorted[:0]
	for _, o := range sorted {
		k := outcomeKey{o.DeliveryID, o.ClaimSeq}
		if _, dup := byKey[k]; !dup {
			byKey[k] = o
			uniq = append(uniq, o)
		}
	}
	rows := newOutcomeRows(uniq)
	args := func(n int, h *healthRows) []any {
		return []any{rows.ids, rows.seqs, rows.statuses, rows.nexts, rows.incs, rows.codes, rows.urls, rows.ats,
			rows.durations, rows.errs, rows.bodies, rows.classes, n, h.uuids, h.healthy, h.failedAt, h.reasons, h.disableAt}
	}

	if needsQueue(uniq) {
		n, claims, err := s.completeGated(ctx, uniq, byKey, args, p)
		if err != nil {
			return 0, nil, fmt.Errorf("complete deliveries: %w", err)
		}
		return n, claims, nil
	}

	// Fast path: everything applies in one autocommit statement.
	early, err := collectApplied(s.pool.Query(ctx, completeSQL, args(len(uniq), newHealthRows(store.HealthUpdates(uniq)))...))
	switch {
	case err == nil && len(early) == len(uniq):
		return len(early), nil, nil
	case err != nil && !retryable(err):
		return 0, nil, fmt.Errorf("complete deliveries: %w", interpret(err))
	case err != nil:
		early = nil // a deadlock victim: rolled back
	}

	// Slow path: nothing was applied. (early is empty: the rows locked are
	// exactly the rows updated. Should that ever not hold, the outcomes it
	// did apply still get their health updates here.)
	n := 0
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		n = 0 // withTx may run this again after a deadlock
		applied, err := collectApplied(tx.Query(ctx, completeSQL, args(0, newHealthRows(nil))...))
		if err != nil {
			return interpret(err)
		}
		applied = append(applied, early...)
		n = len(applied) // the others were taken over or voided; their new owners decide
		// HealthUpdates breaks ties in At by input order: keep the id order.
		slices.SortFunc(applied, func(a, b outcomeKey) int { return cmp.Compare(a.id, b.id) })
		done := make([]*store.Outcome, 0, len(applied))
		for _, k := range applied {
			done = append(done, byKey[k])
		}
		updates := store.HealthUpdates(done)
		if len(updates) == 0 {
			return nil
		}
		h := newHealthRows(updates)
		_, err = tx.Exec(ctx, healthSQL, h.uuids, h.healthy, h.failedAt, h.reasons, h.disableAt)
		return interpret(err)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("complete deliveries: %w", err)
	}
	return n, nil, nil
}

// collectApplied reads completeSQL's result: the claims it applied.
func collectApplied(rows pgx.Rows, err error) ([]outcomeKey, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (outcomeKey, error) {
		var k outcomeKey
		err := row.Scan(&k.id, &k.seq)
		return k, err
	})
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
		var headers *string
		if err := tx.QueryRow(ctx, `SELECT url, secret, enabled, coalesce(previous_secret, ''), previous_secret_expires_at,
			headers
			FROM webhooks WHERE uuid = $1 AND account_id = $2`, webhookUUID, e.AccountID).Scan(&url, &secret, &enabled, &prev, &prevExp,
			&headers); err != nil {
			return interpret(err)
		}
		hdrs, err := store.DecodeHeaders(headers)
		if err != nil {
			return err
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
			URL: url, Secret: secret, Secrets: store.SigningSecrets(secret, prev), Enabled: enabled, Body: e.Body, Attempt: 1,
			Headers: hdrs}
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
	cond := ` WHERE ` + strings.Join(where, " AND ")
	from := ` FROM deliveries d JOIN events e ON e.seq = d.event_seq` + cond
	n := len(args)
	// The last attempt comes with each record: the delivery's newest
	// attempts row, one probe of attempts_delivery per record of the page.
	page := `SELECT d.id, e.id, d.webhook_uuid, e.service, e.type, e.source_uid, e.source_action,
			e.data, CASE WHEN length(e.data) = 0 THEN e.body END, d.webhook_url, e.created_at, d.status, d.attempts, d.last_response_code,
			a.at, a.duration_ms, a.status_code, a.error_class, a.error, a.response_body, d.replayed
		FROM deliveries d JOIN events e ON e.seq = d.event_seq
		LEFT JOIN LATERAL (SELECT * FROM attempts WHERE delivery_id = d.id ORDER BY id DESC LIMIT 1) a ON true` + cond +
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
			var la lastAttemptCols
			var envelope []byte
			if err := rows.Scan(&r.DeliveryID, &r.EventID, &r.WebhookUUID, &r.Service, &r.EventType, &r.SourceUID,
				&r.SourceAction, &r.Data, &envelope, &r.WebhookURL, &created, &r.Status, &r.Attempts, &r.LastResponseCode,
				&la.at, &la.dur, &la.code, &la.class, &la.err, &la.body, &r.Replayed); err != nil {
				return err
			}
			r.CreatedAt = fromMS(created)
			if envelope != nil {
				r.Data = store.EnvelopeData(envelope)
			}
			r.LastAttempt = la.attempt(r.DeliveryID, r.Attempts)
			out = append(out, &r)
		}
		return rows.Err()
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, fmt.Errorf("query deliveries: %w", interpret(err))
	}
	return out, total, nil
}

// lastAttemptCols scans the LEFT JOINed last attempt of a query row.
type lastAttemptCols struct {
	at, dur          *int64
	code             *int32
	class, err, body *string
}

// attempt is the scanned attempt, or nil when the delivery has none. Its
// number is the delivery's attempt count: the newest is the last one.
func (c *lastAttemptCols) attempt(deliveryID int64, number int) *store.Attempt {
	if c.at == nil {
		return nil
	}
	a := &store.Attempt{DeliveryID: deliveryID, Number: number, At: fromMS(*c.at),
		Duration: time.Duration(*c.dur) * time.Millisecond, ErrorClass: *c.class, Error: *c.err, ResponseBody: *c.body}
	if c.code != nil {
		a.StatusCode = int(*c.code)
	}
	return a
}

// ListAttempts implements store.Store.
func (s *Store) ListAttempts(ctx context.Context, accountID string, deliveryID int64) ([]*store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.delivery_id, a.at, a.duration_ms, coalesce(a.status_code, 0), a.error_class, a.error, a.response_body
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
		if err := rows.Scan(&a.DeliveryID, &at, &dur, &a.StatusCode, &a.ErrorClass, &a.Error, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("list attempts: %w", interpret(err))
		}
		a.At, a.Duration, a.Number = fromMS(at), time.Duration(dur)*time.Millisecond, len(out)+1
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts: %w", interpret(err))
	}
	return out, nil
}

// ListDeliveryAttempts implements store.Store.
func (s *Store) ListDeliveryAttempts(ctx context.Context, p *store.ListDeliveryAttemptsParams) ([]*store.Attempt, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE e.account_id = $1 AND e.id = $2 AND d.webhook_uuid = $3 AND d.account_id = $1`,
		p.AccountID, p.EventID, p.WebhookUUID).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", interpret(err))
	}
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	rows, err := s.pool.Query(ctx, `SELECT n, at, duration_ms, coalesce(status_code, 0), error_class, error, response_body
		FROM (SELECT row_number() OVER (ORDER BY id) AS n, * FROM attempts WHERE delivery_id = $1) a
		WHERE n > $2 ORDER BY n LIMIT $3`, id, p.AfterNumber, limit)
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

// ReplayDeliveries implements store.Store in one statement plus the NOTIFY:
// the target CTE locks the matching deliveries (whose webhook still exists)
// in id order, the UPDATE re-queues them with a fresh schedule, marked as
// replays, and the newest matching event is reported.
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
				lease_owner = NULL, claim_seq = d.claim_seq + 1, updated_at = $4, replayed = true
			FROM target WHERE d.id = target.id
			RETURNING d.id
		)
		SELECT (SELECT count(*) FROM upd),
			coalesce((SELECT event_id FROM target ORDER BY created_at DESC, seq DESC LIMIT 1), ''),
			coalesce((SELECT array_agg(id) FROM upd), '{}')`
	var res store.ReplayResult
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		res = store.ReplayResult{} // withTx may run this again after a deadlock
		var ids []int64
		if err := tx.QueryRow(ctx, query, p.AccountID, key, p.WebhookUUID, ms(p.Now)).Scan(&res.Deliveries, &res.EventID, &ids); err != nil {
			return interpret(err)
		}
		if res.Deliveries == 0 {
			return store.ErrNotFound
		}
		if err := requeueReplayed(ctx, tx, ids, ms(p.Now)); err != nil {
			return err
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
