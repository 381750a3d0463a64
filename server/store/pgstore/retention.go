package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// purgeLockID is the advisory lock key that lets one node purge at a time
// (the bytes "jetwhprg" read as a big-endian int64).
const purgeLockID int64 = 0x6a6574_77687072_67

// purgeWindowSQL reads the next window of an account's events past the
// horizon, oldest first, after the cursor (created_at, seq), through
// events_created. The check of their deliveries is a separate statement on
// purpose: folded into this one as NOT EXISTS, PostgreSQL turns it into an
// anti join that scans the whole deliveries table (no index serves "pending
// or changed since"), and with stale statistics sorts every old event
// first; both grow with the history the purge exists to bound.
const purgeWindowSQL = `SELECT seq, created_at FROM events
	WHERE account_id = $1 AND created_at < $2 AND created_at >= $3 AND (created_at > $3 OR seq > $4)
	ORDER BY created_at, seq LIMIT $5`

// purgeWindowsPerAccount bounds the windows one batch reads per account, so
// that a long run of old events still retrying costs a bounded amount per
// batch (the next batch starts from the oldest again).
const purgeWindowsPerAccount = 8

// PurgeHistory implements store.Store. A transaction-level advisory lock,
// tried and never waited for, keeps a second node from purging at the same
// time (it gets Busy and tries again at its next interval). The candidates'
// deliveries are then locked in id order, the order completions and replays
// lock them in, and read again: a delivery replayed after the candidates
// were chosen keeps its whole event.
func (s *Store) PurgeHistory(ctx context.Context, p *store.PurgeParams) (*store.PurgeResult, error) {
	res := &store.PurgeResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	before := ms(p.Before)
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		*res = store.PurgeResult{} // withTx may run this again after a deadlock
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, purgeLockID).Scan(&locked); err != nil {
			return interpret(err)
		}
		if !locked {
			res.Busy = true
			return nil
		}
		// Every statement below must find its rows through an index, whatever
		// the statistics say: a sequential scan here would cost as much as
		// the history the purge exists to bound (see purgeWindowSQL).
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return interpret(err)
		}
		accRows, err := tx.Query(ctx, `SELECT id FROM accounts ORDER BY id`)
		if err != nil {
			return interpret(err)
		}
		accounts, err := pgx.CollectRows(accRows, pgx.RowTo[string])
		if err != nil {
			return interpret(err)
		}
		type candidate struct {
			account string
			created int64
		}
		cands := map[int64]candidate{}
		var seqs []int64
		window := max(4*p.Limit, 256)
		for _, acc := range accounts {
			cursorAt, cursorSeq := int64(math.MinInt64), int64(-1)
			for w := 0; w < purgeWindowsPerAccount && len(seqs) < p.Limit; w++ {
				// Walk events_created in order (an index scan, ties sorted
				// incrementally) rather than collect every old event and
				// sort them, which is what stale statistics choose.
				if _, err := tx.Exec(ctx, `SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off`); err != nil {
					return interpret(err)
				}
				rows, err := tx.Query(ctx, purgeWindowSQL, acc, before, cursorAt, cursorSeq, window)
				if err != nil {
					return interpret(err)
				}
				var ws []int64
				var seq, created int64
				_, err = pgx.ForEachRow(rows, []any{&seq, &created}, func() error {
					ws = append(ws, seq)
					cands[seq] = candidate{acc, created}
					cursorAt, cursorSeq = created, seq
					return nil
				})
				if err != nil {
					return interpret(err)
				}
				if _, err := tx.Exec(ctx, `SET LOCAL enable_bitmapscan = on; SET LOCAL enable_sort = on`); err != nil {
					return interpret(err)
				}
				if len(ws) == 0 {
					break
				}
				busy, err := unfinishedEvents(ctx, tx, ws, before)
				if err != nil {
					return err
				}
				for _, seq := range ws {
					if !busy[seq] && len(seqs) < p.Limit {
						seqs = append(seqs, seq)
					}
				}
				if len(ws) < window {
					break
				}
			}
			if len(seqs) >= p.Limit {
				break
			}
		}
		if len(seqs) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT id, event_seq, status, updated_at FROM deliveries
			WHERE event_seq = ANY($1) ORDER BY id FOR UPDATE`, seqs)
		if err != nil {
			return interpret(err)
		}
		spared := map[int64]bool{}
		byEvent := map[int64][]int64{}
		var id, seq, updated int64
		var status string
		_, err = pgx.ForEachRow(rows, []any{&id, &seq, &status, &updated}, func() error {
			if (status != store.StatusSuccess && status != store.StatusFailed) || updated >= before {
				spared[seq] = true
			}
			byEvent[seq] = append(byEvent[seq], id)
			return nil
		})
		if err != nil {
			return interpret(err)
		}
		var events, deliveries []int64
		newest := map[string]int64{}
		for _, seq := range seqs {
			if spared[seq] {
				continue
			}
			events = append(events, seq)
			deliveries = append(deliveries, byEvent[seq]...)
			c := cands[seq]
			newest[c.account] = max(newest[c.account], c.created)
		}
		if len(events) == 0 {
			return nil
		}
		for _, step := range []struct {
			n     *int
			query string
			ids   []int64
		}{
			{&res.Attempts, `DELETE FROM attempts WHERE delivery_id = ANY($1)`, deliveries},
			{&res.Deliveries, `DELETE FROM deliveries WHERE id = ANY($1)`, deliveries},
			{&res.Events, `DELETE FROM events WHERE seq = ANY($1)`, events},
		} {
			tag, err := tx.Exec(ctx, step.query, step.ids)
			if err != nil {
				return interpret(err)
			}
			*step.n = int(tag.RowsAffected())
		}
		for acc, t := range newest {
			if _, err := tx.Exec(ctx, `INSERT INTO purge_watermarks (account_id, purged_through) VALUES ($1, $2)
				ON CONFLICT (account_id) DO UPDATE SET purged_through = greatest(purge_watermarks.purged_through, excluded.purged_through)`,
				acc, t); err != nil {
				return interpret(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("purge history: %w", err)
	}
	return res, nil
}

// unfinishedEvents returns which of the events have a delivery pending,
// retrying or changed at or after before: one index probe per event.
func unfinishedEvents(ctx context.Context, tx pgx.Tx, seqs []int64, before int64) (map[int64]bool, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT event_seq FROM deliveries WHERE event_seq = ANY($1)
		AND (status IN ('pending', 'retry') OR updated_at >= $2)`, seqs, before)
	if err != nil {
		return nil, interpret(err)
	}
	busy := map[int64]bool{}
	var seq int64
	if _, err := pgx.ForEachRow(rows, []any{&seq}, func() error { busy[seq] = true; return nil }); err != nil {
		return nil, interpret(err)
	}
	return busy, nil
}

// PurgedThrough implements store.Store.
func (s *Store) PurgedThrough(ctx context.Context, accountID string) (time.Time, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT purged_through FROM purge_watermarks WHERE account_id = $1`, accountID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("purged through: %w", interpret(err))
	}
	return fromMS(v), nil
}

// OldestEventAt implements store.Store: one probe of events_created per
// account (a global min(created_at) would scan the table).
func (s *Store) OldestEventAt(ctx context.Context) (time.Time, bool, error) {
	var v *int64
	if err := s.pool.QueryRow(ctx, `SELECT min(m) FROM
		(SELECT (SELECT min(created_at) FROM events e WHERE e.account_id = a.id) AS m FROM accounts a) t`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("oldest event: %w", interpret(err))
	}
	if v == nil {
		return time.Time{}, false, nil
	}
	return fromMS(*v), true, nil
}

// DatabaseSize implements store.Sizer: pg_database_size of the store's
// database (tables, indexes, TOAST and free space autovacuum keeps for reuse).
func (s *Store) DatabaseSize(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return 0, fmt.Errorf("database size: %w", interpret(err))
	}
	return n, nil
}
