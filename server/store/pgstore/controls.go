package pgstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Delivery controls: ordered (FIFO) delivery and per-webhook rate limits;
// the same model as the SQLite backend (see its controls.go).
//
// A delivery of a controlled webhook is "gated": queued held
// (next_attempt_at = heldAt, never due, so the claim statement and its index
// serve ungated deliveries exactly as before) and released by release, in
// fifo_seq order, while its webhook's window has room. Every change to a
// webhook's queue — publish, release, replay, pace admission — runs in a
// transaction holding the webhook's row lock (FOR UPDATE), taken before
// anything else of the queue, so across nodes:
//   - fifo_seq follows the order in which publishes committed (a publish
//     takes the lock before its events get their seqs), and a FIFO
//     webhook's deliveries are released in that order;
//   - at most one delivery of a FIFO webhook is released (leased, in flight
//     or retrying) at a time: release counts the released ones under the
//     lock, and a released one stays released until its outcome is final;
//   - the pace of a rate-limited webhook (pace_at) is one value that every
//     node's claims advance in turn.

// heldAt is the next_attempt_at of a held delivery: 2^61 ms, far past any
// real time and below farFuture (test deliveries).
const heldAt = int64(1) << 61

// gate is a webhook's control state, read under its row lock.
type gate struct {
	w                 store.Webhook
	paceAt, slowUntil int64
}

// lockGate locks webhook uuid's row and reads its control state; nil when
// the webhook is gone.
func lockGate(ctx context.Context, tx pgx.Tx, uuid string) (*gate, error) {
	gs, err := lockGates(ctx, tx, []string{uuid})
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	return gs[0], nil
}

// lockGates locks the rows of webhooks uuids, in uuid order (the order every
// queue change takes them in, so that two transactions cannot deadlock), and
// reads their control state; webhooks that are gone are left out.
func lockGates(ctx context.Context, tx pgx.Tx, uuids []string) ([]*gate, error) {
	rows, err := tx.Query(ctx, `SELECT uuid, enabled, ordering, rate_limit, pace_at, slow_until FROM webhooks
		WHERE uuid = ANY($1) ORDER BY uuid FOR UPDATE`, uuids)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	var gs []*gate
	for rows.Next() {
		g := &gate{}
		if err := rows.Scan(&g.w.UUID, &g.w.Enabled, &g.w.Ordering, &g.w.RateLimit, &g.paceAt, &g.slowUntil); err != nil {
			return nil, interpret(err)
		}
		gs = append(gs, g)
	}
	return gs, interpret(rows.Err())
}

func (g *gate) interval(now int64) int64 {
	return store.PaceInterval(g.w.RateLimit, now < g.slowUntil).Milliseconds()
}

// The release statements. A queue's released deliveries are its head (see
// the migration of deliveries_queue), so each reads the first rows of a
// queue in that index and releases the held ones among them.
const (
	// releaseAllSQL releases every held delivery of a disabled or no longer
	// controlled webhook.
	releaseAllSQL = `UPDATE deliveries SET next_attempt_at = $3
		WHERE webhook_uuid = $1 AND next_attempt_at = $2 AND gated AND status IN ('pending', 'retry')`
	// releaseHeadsSQL releases the head of each FIFO queue $1 (window 1) if
	// it is held, in one statement for all of them.
	releaseHeadsSQL = `UPDATE deliveries d SET next_attempt_at = $3
		FROM unnest($1::text[]) AS q (uuid)
		CROSS JOIN LATERAL (
			SELECT id, next_attempt_at FROM deliveries
			WHERE webhook_uuid = q.uuid AND gated AND status IN ('pending', 'retry')
			ORDER BY fifo_seq, id LIMIT 1) AS head
		WHERE head.next_attempt_at = $2 AND d.id = head.id`
	// claimHeadsSQL claims the head of each FIFO queue $2 if it is held,
	// for $5 until $4, and returns what the worker needs (claimSelectSQL).
	claimHeadsSQL = `WITH head AS (
			SELECT h.id FROM unnest($2::text[]) AS q (uuid)
			CROSS JOIN LATERAL (
				SELECT id, next_attempt_at FROM deliveries
				WHERE webhook_uuid = q.uuid AND gated AND status IN ('pending', 'retry')
				ORDER BY fifo_seq, id LIMIT 1) AS h
			WHERE h.next_attempt_at = $3
		), claimed AS (
			UPDATE deliveries d SET claim_seq = d.claim_seq + 1, next_attempt_at = $4, lease_owner = $5, updated_at = $1
			FROM head WHERE d.id = head.id
			RETURNING d.id, d.claim_seq, false AS taken_over, d.round_attempts, d.status, d.webhook_uuid, d.event_seq, d.account_id,
				d.gated, d.replayed
		)
		` + claimSelectSQL + `
		ORDER BY c.id`
	// releasePacedSQL releases the held deliveries among the first $3 of
	// queue $1, due one pace step ($5) apart from $4: an estimate, the claim
	// decides.
	releasePacedSQL = `WITH head AS (
			SELECT id, next_attempt_at FROM deliveries
			WHERE webhook_uuid = $1 AND gated AND status IN ('pending', 'retry')
			ORDER BY fifo_seq, id LIMIT $3
		), next AS (
			SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM head WHERE next_attempt_at = $2
		)
		UPDATE deliveries d SET next_attempt_at = $4 + next.i * $5 FROM next WHERE d.id = next.id`
)

// release moves webhook uuid's queue on at now and reports how many
// deliveries it released (see the SQLite backend's release).
func release(ctx context.Context, tx pgx.Tx, uuid string, now int64) (int, error) {
	return releaseMany(ctx, tx, []string{uuid}, now)
}

// releaseMany locks webhooks uuids and moves their queues on at now; it
// reports how many deliveries it released.
func releaseMany(ctx context.Context, tx pgx.Tx, uuids []string, now int64) (int, error) {
	gs, err := lockGates(ctx, tx, uuids)
	if err != nil {
		return 0, err
	}
	return releaseLocked(ctx, tx, gs, now)
}

// handoff carries a completion's store.Handoff request through the release
// of the queues it moves, and the claims it made.
type handoff struct {
	p      *store.ClaimParams
	claims []*store.Claim
}

// releaseLocked moves the queues of gates (locked by this transaction) on
// at now. FIFO queues, the common case, all move with one statement.
func releaseLocked(ctx context.Context, tx pgx.Tx, gates []*gate, now int64) (int, error) {
	return releaseLockedFor(ctx, tx, gates, now, nil)
}

// releaseLockedFor is releaseLocked that, with h, claims the next deliveries
// of up to h.p.Limit FIFO queues for h's caller instead of releasing them
// (they are reported in h.claims, not in the count released).
func releaseLockedFor(ctx context.Context, tx pgx.Tx, gates []*gate, now int64, h *handoff) (int, error) {
	n := 0
	var fifo []string
	for _, g := range gates {
		var tag pgconn.CommandTag
		var err error
		switch {
		case !g.w.Enabled || !store.Controlled(&g.w):
			tag, err = tx.Exec(ctx, releaseAllSQL, g.w.UUID, heldAt, now)
		case g.w.RateLimit <= 0:
			fifo = append(fifo, g.w.UUID)
			continue
		default:
			iv := g.interval(now)
			first := max(now, g.paceAt) - store.PaceAhead(time.Duration(iv)*time.Millisecond).Milliseconds()
			tag, err = tx.Exec(ctx, releasePacedSQL, g.w.UUID, heldAt, store.ReleaseWindow(&g.w), first, iv)
		}
		if err != nil {
			return n, interpret(err)
		}
		n += int(tag.RowsAffected())
	}
	if h != nil && len(fifo) > 0 {
		k := min(len(fifo), h.p.Limit)
		rows, err := tx.Query(ctx, claimHeadsSQL, ms(h.p.Now), fifo[:k], heldAt, ms(h.p.Now)+h.p.Lease.Milliseconds(), h.p.Owner)
		if err != nil {
			return n, interpret(err)
		}
		claims, _, err := scanClaims(rows)
		if err != nil {
			return n, err
		}
		h.claims, fifo = claims, fifo[k:]
	}
	if len(fifo) > 0 {
		tag, err := tx.Exec(ctx, releaseHeadsSQL, fifo, heldAt, now)
		if err != nil {
			return n, interpret(err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// gatedRows are the gated deliveries of a publish, as arrays for unnest.
type gatedRows struct {
	accounts, events, uuids, urls []string
	seqs                          []int64
}

// publishGated publishes a batch with deliveries to controlled webhooks, in
// one transaction: lock those webhooks (uuid order), insert the events and
// the ungated deliveries (publishSQL), queue the gated deliveries of the
// events actually inserted at the tails of their webhooks' queues, release
// what the windows allow, and wake the nodes.
func (s *Store) publishGated(ctx context.Context, ev *eventRows, d *deliveryRows, gated []gatedDelivery, nowMS int64) (map[eventKey]bool, error) {
	var uuids []string
	for _, g := range gated {
		if !slices.Contains(uuids, g.w.UUID) {
			uuids = append(uuids, g.w.UUID)
		}
	}
	slices.Sort(uuids)
	var inserted map[eventKey]bool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		inserted = make(map[eventKey]bool, len(ev.ids))
		tails := map[string]int64{}
		rows, err := tx.Query(ctx, `SELECT uuid, fifo_tail FROM webhooks WHERE uuid = ANY($1) ORDER BY uuid FOR UPDATE`, uuids)
		if err != nil {
			return interpret(err)
		}
		for rows.Next() {
			var u string
			var tail int64
			if err := rows.Scan(&u, &tail); err != nil {
				rows.Close()
				return interpret(err)
			}
			tails[u] = tail
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpret(err)
		}
		rows, err = tx.Query(ctx, publishSQL, ev.ids, ev.accounts, ev.types, ev.services, ev.users, ev.domains, ev.uids, ev.actions,
			ev.data, ev.bodies, ev.created, d.accounts, d.events, d.uuids, d.urls, nowMS)
		if err != nil {
			return interpret(err)
		}
		for rows.Next() {
			var k eventKey
			if err := rows.Scan(&k.account, &k.id); err != nil {
				rows.Close()
				return interpret(err)
			}
			inserted[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpret(err)
		}
		var g gatedRows
		for _, h := range gated {
			if !inserted[eventKey{h.account, h.eventID}] {
				continue
			}
			if _, ok := tails[h.w.UUID]; !ok {
				continue // deleted meanwhile: no delivery, as if it were
			}
			tails[h.w.UUID]++
			g.accounts, g.events, g.uuids = append(g.accounts, h.account), append(g.events, h.eventID), append(g.uuids, h.w.UUID)
			g.urls, g.seqs = append(g.urls, h.w.URL), append(g.seqs, tails[h.w.UUID])
		}
		if len(g.uuids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deliveries
				(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, created_at, updated_at, gated, fifo_seq)
			SELECT e.seq, g.account_id, g.uuid, g.url, 'pending', $6, $7, $7, true, g.fifo_seq
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY
				AS g (account_id, event_id, uuid, url, fifo_seq, ord)
			JOIN events e ON e.account_id = g.account_id AND e.id = g.event_id
			ORDER BY g.ord`, g.accounts, g.events, g.uuids, g.urls, g.seqs, heldAt, nowMS); err != nil {
			return interpret(err)
		}
		live := make([]string, 0, len(tails))
		liveTails := make([]int64, 0, len(tails))
		for _, u := range uuids {
			if t, ok := tails[u]; ok {
				live, liveTails = append(live, u), append(liveTails, t)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE webhooks w SET fifo_tail = t.tail
			FROM unnest($1::text[], $2::bigint[]) AS t (uuid, tail) WHERE w.uuid = t.uuid`, live, liveTails); err != nil {
			return interpret(err)
		}
		if _, err := releaseMany(ctx, tx, live, nowMS); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, notifySQL)
		return interpret(err)
	})
	return inserted, err
}

// gatedDelivery is a planned delivery of one event to a controlled webhook.
type gatedDelivery struct {
	account, eventID string
	w                *store.Webhook
}

// admitPaced admits the claims of rate-limited webhooks against their pace
// (a GCRA without burst, see the SQLite backend) and hands the refused ones
// back to the queue, due at the next free slot, voiding their claims. It
// returns the refused delivery ids. Only claims of enabled, rate-limited,
// gated deliveries get here: the fast path never does.
func (s *Store) admitPaced(ctx context.Context, paced []*store.Claim, now int64) (map[int64]bool, error) {
	var refused map[int64]bool
	sorted := slices.Clone(paced)
	slices.SortStableFunc(sorted, func(a, b *store.Claim) int { return cmp.Compare(a.WebhookUUID, b.WebhookUUID) })
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		refused = map[int64]bool{}
		var g *gate
		var tat, waiting int64
		flush := func() error {
			if g == nil || tat == g.paceAt {
				return nil
			}
			_, err := tx.Exec(ctx, `UPDATE webhooks SET pace_at = $2 WHERE uuid = $1`, g.w.UUID, tat)
			return interpret(err)
		}
		for _, c := range sorted {
			if g == nil || g.w.UUID != c.WebhookUUID {
				if err := flush(); err != nil {
					return err
				}
				var err error
				if g, err = lockGate(ctx, tx, c.WebhookUUID); err != nil {
					return err
				}
				if g == nil {
					g = &gate{w: store.Webhook{UUID: c.WebhookUUID}}
				}
				tat, waiting = g.paceAt, 0
			}
			if g.w.RateLimit <= 0 {
				continue
			}
			iv := g.interval(now)
			if n, ok := store.AdmitPaced(c, tat, now, iv); ok {
				tat = n
				continue
			}
			refused[c.DeliveryID] = true
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $3, lease_owner = NULL, claim_seq = claim_seq + 1
				WHERE id = $1 AND claim_seq = $2`, c.DeliveryID, c.ClaimSeq, store.RefusedDueAt(tat, iv, waiting)); err != nil {
				return interpret(err)
			}
			waiting++
		}
		return flush()
	})
	return refused, err
}

// afterComplete moves the queues of webhooks whose gated deliveries were
// finished and applies 429 slow-downs, in the completion's transaction. It
// locks all those webhooks first, in uuid order, and releases their queues
// together. It reports whether it released anything. An ungated outcome
// that disables its webhook (410 Gone) counts too: the webhook's held
// deliveries are then released at once (see needsQueue).
func afterComplete(ctx context.Context, tx pgx.Tx, outcomes []*store.Outcome, h *handoff) (bool, error) {
	var uuids []string
	finished := map[string]int64{}
	for _, o := range outcomes {
		if (!o.Gated && o.DisableReason == "") || o.WebhookUUID == "" {
			continue
		}
		if !slices.Contains(uuids, o.WebhookUUID) {
			uuids = append(uuids, o.WebhookUUID)
		}
		if o.Status == store.StatusSuccess || o.Status == store.StatusFailed {
			if _, ok := finished[o.WebhookUUID]; !ok {
				finished[o.WebhookUUID] = ms(o.At)
			}
		}
	}
	if len(uuids) == 0 {
		return false, nil
	}
	gates, err := lockGates(ctx, tx, uuids)
	if err != nil {
		return false, err
	}
	for _, o := range outcomes {
		if !o.Gated || o.WebhookUUID == "" || !o.SlowDown {
			continue
		}
		pause := o.At
		if o.PauseUntil.After(pause) {
			pause = o.PauseUntil
		}
		if _, err := tx.Exec(ctx, `UPDATE webhooks SET slow_until = greatest(slow_until, $2), pace_at = greatest(pace_at, $3)
			WHERE uuid = $1 AND rate_limit > 0`, o.WebhookUUID, ms(o.At.Add(store.SlowDownFor)), ms(pause)); err != nil {
			return false, interpret(err)
		}
		for _, g := range gates {
			if g.w.UUID == o.WebhookUUID && g.w.RateLimit > 0 {
				g.slowUntil, g.paceAt = max(g.slowUntil, ms(o.At.Add(store.SlowDownFor))), max(g.paceAt, ms(pause))
			}
		}
	}
	// Queues move at the time of their first finished outcome, as the
	// outcomes' clock says.
	var moving []*gate
	now := int64(0)
	for _, g := range gates {
		if at, ok := finished[g.w.UUID]; ok {
			moving = append(moving, g)
			now = max(now, at)
		}
	}
	if len(moving) == 0 {
		return false, nil
	}
	n, err := releaseLockedFor(ctx, tx, moving, now, h)
	return n > 0, err
}

// needsQueue reports whether a batch of outcomes takes completeGated's
// path: it has a gated outcome, or one that disables its webhook (410 Gone;
// rare), whose held deliveries must be released in the same transaction —
// a delivery queued before its webhook became FIFO or rate-limited is not
// gated, yet its 410 disables a webhook that may have a queue.
func needsQueue(outcomes []*store.Outcome) bool {
	for _, o := range outcomes {
		if o.Gated || o.DisableReason != "" {
			return true
		}
	}
	return false
}

// completeGated is CompleteDeliveries for a batch with gated outcomes: the
// slow path's transaction (apply what still matches, then health), plus
// moving the queues on in the same transaction, so a crash cannot leave a
// FIFO webhook with its head finished and nothing released.
func (s *Store) completeGated(ctx context.Context, uniq []*store.Outcome, byKey map[outcomeKey]*store.Outcome, args func(int, *healthRows) []any, p *store.ClaimParams) (int, []*store.Claim, error) {
	n := 0
	var claims []*store.Claim
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		claims = nil // withTx may run this again after a deadlock
		applied, err := collectApplied(tx.Query(ctx, completeSQL, args(0, newHealthRows(nil))...))
		if err != nil {
			return interpret(err)
		}
		n = len(applied)
		slices.SortFunc(applied, func(a, b outcomeKey) int { return cmp.Compare(a.id, b.id) })
		done := make([]*store.Outcome, 0, len(applied))
		for _, k := range applied {
			done = append(done, byKey[k])
		}
		if updates := store.HealthUpdates(done); len(updates) > 0 {
			h := newHealthRows(updates)
			if _, err := tx.Exec(ctx, healthSQL, h.uuids, h.healthy, h.failedAt, h.reasons, h.disableAt); err != nil {
				return interpret(err)
			}
		}
		var h *handoff
		if p != nil && p.Limit > 0 {
			h = &handoff{p: p}
		}
		released, err := afterComplete(ctx, tx, uniq, h)
		if err != nil {
			return err
		}
		if h != nil {
			claims = h.claims
		}
		if !released {
			return nil
		}
		_, err = tx.Exec(ctx, notifySQL)
		return interpret(err)
	})
	return n, claims, err
}

// requeueReplayed puts the deliveries a replay just re-queued that belong to
// controlled webhooks at the tails of their queues, marked as replays, in
// event order, and releases what the windows allow. The webhooks are locked
// first (uuid order), as in every queue change.
func requeueReplayed(ctx context.Context, tx pgx.Tx, ids []int64, now int64) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT d.id, d.webhook_uuid FROM deliveries d JOIN webhooks w ON w.uuid = d.webhook_uuid
		WHERE d.id = ANY($1) AND (w.ordering = 'fifo' OR w.rate_limit > 0)
		ORDER BY d.event_seq, d.id`, ids)
	if err != nil {
		return interpret(err)
	}
	type held struct {
		id   int64
		uuid string
	}
	var hs []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.id, &h.uuid); err != nil {
			rows.Close()
			return interpret(err)
		}
		hs = append(hs, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpret(err)
	}
	var uuids []string
	for _, h := range hs {
		if !slices.Contains(uuids, h.uuid) {
			uuids = append(uuids, h.uuid)
		}
	}
	gates, err := lockGates(ctx, tx, uuids)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if _, err := tx.Exec(ctx, `WITH t AS (UPDATE webhooks SET fifo_tail = fifo_tail + 1 WHERE uuid = $2 RETURNING fifo_tail)
			UPDATE deliveries SET gated = true, replayed = true, fifo_seq = (SELECT fifo_tail FROM t), next_attempt_at = $3
			WHERE id = $1`, h.id, h.uuid, heldAt); err != nil {
			return interpret(err)
		}
	}
	_, err = releaseLocked(ctx, tx, gates, now)
	return err
}

// setControls stores a new webhook's delivery controls.
func setControls(ctx context.Context, db execer, w *store.Webhook) error {
	if !store.Controlled(w) {
		return nil
	}
	_, err := db.Exec(ctx, `UPDATE webhooks SET ordering = $2, rate_limit = $3 WHERE uuid = $1`, w.UUID, store.OrderingOf(w), w.RateLimit)
	return interpret(err)
}

// rowQuerier is the pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// controlsTx returns the pool when the update leaves the delivery controls
// and enabled alone, and otherwise a new transaction (also as the querier).
func (s *Store) controlsTx(ctx context.Context, p *store.UpdateWebhookParams) (rowQuerier, pgx.Tx, error) {
	if p.Ordering == nil && p.RateLimit == nil && p.Enabled == nil {
		return s.pool, nil, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, nil, interpret(err)
	}
	return tx, tx, nil
}

func rateParam(r *int) *int32 {
	if r == nil {
		return nil
	}
	v := int32(*r)
	return &v
}
