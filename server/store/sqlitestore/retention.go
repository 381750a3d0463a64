package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// purgeCandidatesSQL finds an account's oldest events past the horizon none
// of whose deliveries is unfinished or changed since. It walks
// events_created, so it stops at the horizon however long the history is; an
// event skipped for a pending delivery costs one index probe per batch.
const purgeCandidatesSQL = `SELECT e.seq, e.created_at FROM events e
	WHERE e.account_id = ? AND e.created_at < ?
	AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq
		AND (d.status IN ('pending', 'retry') OR d.updated_at >= ?))
	ORDER BY e.created_at LIMIT ?`

// PurgeHistory implements store.Store. The batch is one write operation of
// the group writer: selection and deletion see the same state, so a
// delivery replayed a moment earlier keeps its event, and deliveries keep
// flowing between batches.
func (s *Store) PurgeHistory(ctx context.Context, p *store.PurgeParams) (*store.PurgeResult, error) {
	res := &store.PurgeResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	before := ms(p.Before)
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		*res = store.PurgeResult{}
		accounts, err := accountIDs(ctx, tx)
		if err != nil {
			return err
		}
		var seqs []int64
		newest := map[string]int64{}
		for _, acc := range accounts {
			if len(seqs) >= p.Limit {
				break
			}
			rows, err := tx.QueryContext(ctx, purgeCandidatesSQL, acc, before, before, p.Limit-len(seqs))
			if err != nil {
				return interpret(err)
			}
			for rows.Next() {
				var seq, created int64
				if err := rows.Scan(&seq, &created); err != nil {
					rows.Close()
					return interpret(err)
				}
				seqs = append(seqs, seq)
				newest[acc] = max(newest[acc], created)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return interpret(err)
			}
		}
		if len(seqs) == 0 {
			return nil
		}
		list := jsonInts(seqs)
		for _, step := range []struct {
			n     *int
			query string
		}{
			{&res.Attempts, `DELETE FROM attempts WHERE delivery_id IN
				(SELECT id FROM deliveries WHERE event_seq IN (SELECT value FROM json_each(?)))`},
			{&res.Deliveries, `DELETE FROM deliveries WHERE event_seq IN (SELECT value FROM json_each(?))`},
			{&res.Events, `DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?))`},
		} {
			r, err := tx.ExecContext(ctx, step.query, list)
			if err != nil {
				return interpret(err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return interpret(err)
			}
			*step.n = int(n)
		}
		for acc, t := range newest {
			if _, err := tx.ExecContext(ctx, `INSERT INTO purge_watermarks (account_id, purged_through) VALUES (?, ?)
				ON CONFLICT (account_id) DO UPDATE SET purged_through = max(purged_through, excluded.purged_through)`, acc, t); err != nil {
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

func accountIDs(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM accounts ORDER BY id`)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, interpret(err)
		}
		out = append(out, id)
	}
	return out, interpret(rows.Err())
}

// jsonInts encodes ids as a JSON array for json_each: one statement text
// whatever the batch size.
func jsonInts(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// PurgedThrough implements store.Store.
func (s *Store) PurgedThrough(ctx context.Context, accountID string) (time.Time, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT purged_through FROM purge_watermarks WHERE account_id = ?`, accountID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("purged through: %w", interpret(err))
	}
	return fromMS(v), nil
}

// OldestEventAt implements store.Store: the minimum of each account's
// minimum, each one probe of events_created (a global min(created_at) would
// scan the table).
func (s *Store) OldestEventAt(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(m) FROM
		(SELECT (SELECT min(created_at) FROM events e WHERE e.account_id = a.id) AS m FROM accounts a)`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("oldest event: %w", interpret(err))
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(v.Int64), true, nil
}

// DatabaseSize implements store.Sizer: the database file and its
// write-ahead log, whose size between checkpoints is part of the disk the
// store needs.
func (s *Store) DatabaseSize(context.Context) (int64, error) {
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		fi, err := os.Stat(s.path + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("database size: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}
