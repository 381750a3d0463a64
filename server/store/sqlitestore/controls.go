package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Delivery controls: ordered (FIFO) delivery and per-webhook rate limits.
//
// A delivery of a controlled webhook is "gated". It is queued held
// (next_attempt_at = heldAt, never due, so the claim query and its index are
// exactly those of ungated deliveries) and released, in fifo_seq order, by
// release whenever its webhook's window has room: one delivery at a time for
// a FIFO webhook, about a second's worth for a rate-limited one. Released
// deliveries are claimed like any other; the claim of a rate-limited one is
// admitted against the webhook's pace (claimPaced), which is what keeps the
// attempts under the limit. Everything here runs inside the caller's
// transaction: SQLite has one writer, so it is serialised.

// heldAt is the next_attempt_at of a held delivery: 2^61 ms, far past any
// real time and below farFuture (test deliveries).
const heldAt = int64(1) << 61

// The statements the queue runs on every publish and completion of a gated
// delivery, prepared at Open with the multi-row ones (see stmt).
const (
	loadGateSQL = `SELECT uuid, enabled, ordering, rate_limit, pace_at, slow_until, fifo_tail FROM webhooks WHERE uuid = ?`
	// releaseNextSQL releases the held deliveries among the first ?3 of the
	// queue (its window: the released ones are always its head), all due at
	// once.
	releaseNextSQL = `UPDATE deliveries SET next_attempt_at = ?1 WHERE id IN (
		SELECT id FROM (SELECT id, next_attempt_at FROM deliveries
			WHERE webhook_uuid = ?2 AND gated = 1 AND status IN ('pending', 'retry')
			ORDER BY fifo_seq, id LIMIT ?3)
		WHERE next_attempt_at = ?4)`
	// queueHeadSQL reads the first ?2 deliveries of a queue.
	queueHeadSQL = `SELECT id, next_attempt_at FROM deliveries
		WHERE webhook_uuid = ? AND gated = 1 AND status IN ('pending', 'retry')
		ORDER BY fifo_seq, id LIMIT ?`
	setTailSQL = `UPDATE webhooks SET fifo_tail = ? WHERE uuid = ?`
	setDueSQL  = `UPDATE deliveries SET next_attempt_at = ? WHERE id = ?`
)

// insertHeldSQL inserts n held deliveries.
func insertHeldSQL(n int) string {
	return `INSERT INTO deliveries
		(event_seq, account_id, webhook_uuid, webhook_url, status, next_attempt_at, created_at, updated_at, gated, fifo_seq)
		VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, 'pending', ?, ?, ?, 1, ?),", n), ",")
}

// prepareControls prepares the queue's statements into s.stmts.
func (s *Store) prepareControls(ctx context.Context) error {
	qs := []string{loadGateSQL, releaseNextSQL, queueHeadSQL, setTailSQL, setDueSQL, claimIDsSQL, healthySQL, failingSQL, disableSQL}
	for n := 1; n <= publishChunk; n++ {
		qs = append(qs, insertHeldSQL(n))
	}
	for _, q := range qs {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// setControls stores a new webhook's delivery controls (the insert leaves
// the defaults: unordered, no limit).
func setControls(ctx context.Context, tx *sql.Tx, w *store.Webhook) error {
	if !store.Controlled(w) {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE webhooks SET ordering = ?, rate_limit = ? WHERE uuid = ?`, store.OrderingOf(w), w.RateLimit, w.UUID)
	return interpret(err)
}

// gate is a webhook's control state.
type gate struct {
	w                 store.Webhook
	paceAt, slowUntil int64
	tail              int64
}

func (s *Store) loadGate(ctx context.Context, tx *sql.Tx, uuid string) (*gate, error) {
	g := &gate{}
	st, err := s.stmt(ctx, tx, loadGateSQL)
	if err != nil {
		return nil, err
	}
	err = st.QueryRowContext(ctx, uuid).Scan(&g.w.UUID, &g.w.Enabled, &g.w.Ordering, &g.w.RateLimit, &g.paceAt, &g.slowUntil, &g.tail)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return g, interpret(err)
}

// interval is the webhook's pace at now.
func (g *gate) interval(now int64) int64 {
	return store.PaceInterval(g.w.RateLimit, now < g.slowUntil).Milliseconds()
}

// release moves webhook uuid's queue on at now: it releases the held
// deliveries among the first of its queue (by fifo_seq) that its window
// allows. Held deliveries only join at the tail and are released from the
// head, so the released ones are always the head of the queue, and those
// first rows are all it reads. A disabled or no longer controlled webhook
// releases all of them at once (they then go, or fail without an attempt,
// like ungated ones).
func (s *Store) release(ctx context.Context, tx *sql.Tx, uuid string, now int64) error {
	return s.releaseFor(ctx, tx, uuid, now, nil)
}

// handoff collects the deliveries a completion moves up from FIFO queues
// for its caller to claim (store.Handoff), up to limit.
type handoff struct {
	limit int
	ids   []int64
}

// releaseFor is release that, with h and room in it, leaves the next
// delivery of a FIFO queue held and hands its id to h instead: the caller
// claims it in the same transaction.
func (s *Store) releaseFor(ctx context.Context, tx *sql.Tx, uuid string, now int64, h *handoff) error {
	g, err := s.loadGate(ctx, tx, uuid)
	if err != nil || g == nil {
		return err
	}
	if !g.w.Enabled || !store.Controlled(&g.w) {
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ?
			WHERE webhook_uuid = ? AND next_attempt_at = ? AND gated = 1 AND status IN ('pending', 'retry')`, now, uuid, heldAt)
		return interpret(err)
	}
	if g.w.RateLimit <= 0 && (h == nil || len(h.ids) >= h.limit) {
		// FIFO without a limit: due at once, one statement.
		return s.exec(ctx, tx, releaseNextSQL, now, uuid, store.ReleaseWindow(&g.w), heldAt)
	}
	st, err := s.stmt(ctx, tx, queueHeadSQL)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, uuid, store.ReleaseWindow(&g.w))
	if err != nil {
		return interpret(err)
	}
	var ids []int64
	for rows.Next() {
		var id, at int64
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return interpret(err)
		}
		if at == heldAt {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpret(err)
	}
	if g.w.RateLimit <= 0 {
		// FIFO, handed off (window 1: at most one id).
		h.ids = append(h.ids, ids...)
		return nil
	}
	// Released deliveries are due when the pace will admit them, claimed a
	// little ahead of their slots (an estimate: the claim decides).
	at, step := now, int64(0)
	if g.w.RateLimit > 0 {
		at, step = max(now, g.paceAt), g.interval(now)
		at -= store.PaceAhead(time.Duration(step) * time.Millisecond).Milliseconds()
	}
	for i, id := range ids {
		if err := s.exec(ctx, tx, setDueSQL, at+int64(i)*step, id); err != nil {
			return err
		}
	}
	return nil
}

// heldDelivery is a gated delivery to insert for one event.
type heldDelivery struct {
	seq     int64
	account string
	w       *store.Webhook
}

// insertHeld queues gated deliveries, in the given (ingest) order, at the
// tail of their webhooks' queues, then releases what the windows allow.
func (s *Store) insertHeld(ctx context.Context, tx *sql.Tx, held []heldDelivery, now int64) error {
	if len(held) == 0 {
		return nil
	}
	var order []string
	tails := map[string]int64{}
	args := make([]any, 0, min(len(held), publishChunk)*8)
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		st, err := s.stmt(ctx, tx, insertHeldSQL(rows))
		if err != nil {
			return err
		}
		_, err = st.ExecContext(ctx, args...)
		args, rows = args[:0], 0
		return interpret(err)
	}
	for _, h := range held {
		tail, ok := tails[h.w.UUID]
		if !ok {
			g, err := s.loadGate(ctx, tx, h.w.UUID)
			if err != nil {
				return err
			}
			if g == nil {
				continue // deleted meanwhile
			}
			tail = g.tail
			order = append(order, h.w.UUID)
		}
		tail++
		tails[h.w.UUID] = tail
		args = append(args, h.seq, h.account, h.w.UUID, h.w.URL, heldAt, now, now, tail)
		if rows++; rows == publishChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	st, err := s.stmt(ctx, tx, setTailSQL)
	if err != nil {
		return err
	}
	for _, uuid := range order {
		if _, err := st.ExecContext(ctx, tails[uuid], uuid); err != nil {
			return interpret(err)
		}
		if err := s.release(ctx, tx, uuid, now); err != nil {
			return err
		}
	}
	return nil
}

// admitPaced admits the claims of rate-limited webhooks against their pace
// (a GCRA without burst: an attempt may start when pace_at has passed, and
// moves it one interval past its start). A claim made up to PaceAhead
// before the slot is admitted with NotBefore = the slot. The others go back to the queue, due
// when the pace will admit them; they are returned so the caller leaves them
// out. Only claims of enabled, rate-limited, gated deliveries are checked:
// the fast path never gets here.
func (s *Store) admitPaced(ctx context.Context, tx *sql.Tx, paced []*store.Claim, now int64) (map[int64]bool, error) {
	refused := map[int64]bool{}
	gates := map[string]*gate{}
	var order []string
	next := map[string]int64{}
	waiting := map[string]int64{}
	for _, c := range paced {
		g, ok := gates[c.WebhookUUID]
		if !ok {
			var err error
			if g, err = s.loadGate(ctx, tx, c.WebhookUUID); err != nil {
				return nil, err
			}
			gates[c.WebhookUUID] = g
			if g != nil {
				order = append(order, c.WebhookUUID)
				next[c.WebhookUUID] = g.paceAt
			}
		}
		if g == nil || g.w.RateLimit <= 0 {
			continue
		}
		tat, iv := next[c.WebhookUUID], g.interval(now)
		if n, ok := store.AdmitPaced(c, tat, now, iv); ok {
			next[c.WebhookUUID] = n
			continue
		}
		// Refused: due a little ahead of the next free slot (and later ones
		// after it).
		refused[c.DeliveryID] = true
		if err := s.exec(ctx, tx, setDueSQL, store.RefusedDueAt(tat, iv, waiting[c.WebhookUUID]), c.DeliveryID); err != nil {
			return nil, err
		}
		waiting[c.WebhookUUID]++
	}
	for _, uuid := range order {
		if next[uuid] != gates[uuid].paceAt {
			if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET pace_at = ? WHERE uuid = ?`, next[uuid], uuid); err != nil {
				return nil, interpret(err)
			}
		}
	}
	return refused, nil
}

// afterComplete moves the queues of webhooks whose gated deliveries were
// finished and applies 429 slow-downs. Only gated outcomes get here, and
// those that disable their webhook (410 Gone): a delivery queued before the
// webhook became controlled is not gated, and its webhook's held deliveries
// must not wait for another completion to learn that it is disabled.
func (s *Store) afterComplete(ctx context.Context, tx *sql.Tx, outcomes []*store.Outcome, h *handoff) error {
	seen := map[string]bool{}
	for _, o := range outcomes {
		if (!o.Gated && o.DisableReason == "") || o.WebhookUUID == "" {
			continue
		}
		if o.SlowDown {
			if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET slow_until = max(slow_until, ?), pace_at = max(pace_at, ?)
				WHERE uuid = ? AND rate_limit > 0`, ms(o.At.Add(store.SlowDownFor)), ms(maxTime(o.PauseUntil, o.At)), o.WebhookUUID); err != nil {
				return interpret(err)
			}
		}
		if (o.Status == store.StatusSuccess || o.Status == store.StatusFailed) && !seen[o.WebhookUUID] {
			seen[o.WebhookUUID] = true
			if err := s.releaseFor(ctx, tx, o.WebhookUUID, ms(o.At), h); err != nil {
				return err
			}
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// requeueReplayed puts replayed deliveries of controlled webhooks (ids, just
// re-queued by a replay) at the tail of their queues, marked as replays, in
// event order, and releases what the windows allow.
func (s *Store) requeueReplayed(ctx context.Context, tx *sql.Tx, ids []any, now int64) error {
	var held []struct {
		id   int64
		uuid string
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		rows, err := tx.QueryContext(ctx, `SELECT d.id, d.webhook_uuid FROM deliveries d JOIN webhooks w ON w.uuid = d.webhook_uuid
			WHERE d.id IN (`+placeholders(len(chunk))+`) AND (w.ordering = 'fifo' OR w.rate_limit > 0)
			ORDER BY d.event_seq, d.id`, chunk...)
		if err != nil {
			return interpret(err)
		}
		for rows.Next() {
			var h struct {
				id   int64
				uuid string
			}
			if err := rows.Scan(&h.id, &h.uuid); err != nil {
				rows.Close()
				return interpret(err)
			}
			held = append(held, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return interpret(err)
		}
	}
	var order []string
	seen := map[string]bool{}
	for _, h := range held {
		var tail int64
		if err := tx.QueryRowContext(ctx, `UPDATE webhooks SET fifo_tail = fifo_tail + 1 WHERE uuid = ? RETURNING fifo_tail`, h.uuid).Scan(&tail); err != nil {
			return interpret(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET gated = 1, replayed = 1, fifo_seq = ?, next_attempt_at = ? WHERE id = ?`,
			tail, heldAt, h.id); err != nil {
			return interpret(err)
		}
		if !seen[h.uuid] {
			seen[h.uuid] = true
			order = append(order, h.uuid)
		}
	}
	for _, uuid := range order {
		if err := s.release(ctx, tx, uuid, now); err != nil {
			return err
		}
	}
	return nil
}
