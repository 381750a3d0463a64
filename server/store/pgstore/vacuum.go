package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// vacuumLockID lets one node vacuum the queue at a time (the bytes
// "jetwhvac" read as a big-endian int64).
const vacuumLockID int64 = 0x6a6574_77687661_63

// The deliveries table is a queue: every delivery is updated as it is
// claimed and completed, each update leaving a dead row version and, since
// the claim's index columns change, dead index entries. The claim walks those
// until a vacuum removes them, so the cost of a claim grows with the churn
// since the last vacuum. Autovacuum lags behind such a table, or is off.
// The service therefore vacuums what it churns itself, once dead versions
// reach a share of the live rows, which keeps the claim's cost bounded
// whatever autovacuum does. A vacuum of the queue is short: its dead versions
// are recent and the visibility map covers the rest. The retention purge
// churns events and attempts (and deliveries) the same way, by deleting, and
// their space is reused only once a vacuum has freed it.
const (
	vacuumMinDead = 5000
	vacuumShare   = 0.2
)

// vacuumTables are the tables the service itself churns: deliveries on
// every claim and completion, and the three the retention purge deletes from.
var vacuumTables = []string{"deliveries", "attempts", "events"}

// VacuumQueue implements store.QueueVacuumer: it vacuums (and analyzes) each
// table the service churns whose dead row versions exceed vacuumMinDead and
// vacuumShare of its live rows, on one node at a time, and reports whether it
// vacuumed any.
func (s *Store) VacuumQueue(ctx context.Context) (bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT relname, n_dead_tup, n_live_tup FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = ANY($1)`, vacuumTables)
	if err != nil {
		return false, fmt.Errorf("vacuum queue: statistics: %w", interpret(err))
	}
	var due []string
	for rows.Next() {
		var name string
		var dead, live int64
		if err := rows.Scan(&name, &dead, &live); err != nil {
			rows.Close()
			return false, fmt.Errorf("vacuum queue: statistics: %w", interpret(err))
		}
		if dead >= vacuumMinDead && float64(dead) >= vacuumShare*float64(live) {
			due = append(due, name)
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("vacuum queue: statistics: %w", interpret(err))
	}
	if len(due) == 0 {
		return false, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("vacuum queue: %w", interpret(err))
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, vacuumLockID).Scan(&locked); err != nil {
		return false, fmt.Errorf("vacuum queue: lock: %w", interpret(err))
	}
	if !locked {
		return false, nil // another node is at it
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, vacuumLockID)
	for _, table := range due {
		// VACUUM cannot run in a transaction block; pgx sends it on its own.
		// The name comes from vacuumTables, never from input.
		if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{table}.Sanitize()); err != nil {
			return false, fmt.Errorf("vacuum queue: %s: %w", table, interpret(err))
		}
	}
	return true, nil
}
