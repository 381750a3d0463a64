package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// CreatePortalLink implements store.Store.
func (s *Store) CreatePortalLink(ctx context.Context, l *store.PortalLink) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, l.AccountID).Scan(&one); err != nil {
			return interpret(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_links (token_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			l.TokenHash, l.AccountID, ms(l.CreatedAt), ms(l.ExpiresAt))
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("create portal link: %w", err)
	}
	return nil
}

// RedeemPortalLink implements store.Store. Deleting the link is what makes
// it single-use: of two redemptions at once, one deletes the row and the
// other finds none.
func (s *Store) RedeemPortalLink(ctx context.Context, tokenHash []byte, sess *store.PortalSession) (*store.PortalSession, error) {
	out := *sess
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `DELETE FROM portal_links WHERE token_hash = ? AND expires_at > ? RETURNING account_id`,
			tokenHash, ms(sess.CreatedAt)).Scan(&out.AccountID); err != nil {
			return interpret(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_sessions (id_hash, account_id, created_at, last_seen_at, idle_expires_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, out.IDHash, out.AccountID, ms(out.CreatedAt), ms(out.LastSeenAt), ms(out.IdleExpiresAt), ms(out.ExpiresAt))
		return interpret(err)
	})
	if err != nil {
		return nil, fmt.Errorf("redeem portal link: %w", err)
	}
	return &out, nil
}

// TouchPortalSession implements store.Store.
func (s *Store) TouchPortalSession(ctx context.Context, p *store.TouchPortalSessionParams) (*store.PortalSession, error) {
	out := &store.PortalSession{IDHash: p.IDHash}
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var created, seen, idle, abs int64
		err := tx.QueryRowContext(ctx, `UPDATE portal_sessions SET last_seen_at = ?, idle_expires_at = MIN(?, expires_at)
			WHERE id_hash = ? AND idle_expires_at > ? AND expires_at > ?
			RETURNING account_id, created_at, last_seen_at, idle_expires_at, expires_at`,
			ms(p.Now), ms(p.IdleUntil), p.IDHash, ms(p.Now), ms(p.Now)).Scan(&out.AccountID, &created, &seen, &idle, &abs)
		if err != nil {
			return interpret(err)
		}
		out.CreatedAt, out.LastSeenAt, out.IdleExpiresAt, out.ExpiresAt = fromMS(created), fromMS(seen), fromMS(idle), fromMS(abs)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("touch portal session: %w", err)
	}
	return out, nil
}

// DeletePortalSession implements store.Store.
func (s *Store) DeletePortalSession(ctx context.Context, idHash []byte) error {
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE id_hash = ?`, idHash)
		return interpret(err)
	})
	if err != nil {
		return fmt.Errorf("delete portal session: %w", err)
	}
	return nil
}

// RevokePortalSessions implements store.Store.
func (s *Store) RevokePortalSessions(ctx context.Context, accountID string) (int, error) {
	var n int64
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM portal_links WHERE account_id = ?`, accountID); err != nil {
			return interpret(err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE account_id = ?`, accountID)
		if err != nil {
			return interpret(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("revoke portal sessions: %w", err)
	}
	return int(n), nil
}

// PurgePortalSessions implements store.Store.
func (s *Store) PurgePortalSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM portal_links WHERE expires_at <= ?`, ms(now))
		if err != nil {
			return interpret(err)
		}
		links, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE expires_at <= ? OR idle_expires_at <= ?`, ms(now), ms(now))
		if err != nil {
			return interpret(err)
		}
		sessions, _ := res.RowsAffected()
		n = links + sessions
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge portal sessions: %w", err)
	}
	return int(n), nil
}
