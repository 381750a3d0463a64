package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// CreatePortalLink implements store.Store.
func (s *Store) CreatePortalLink(ctx context.Context, l *store.PortalLink) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO portal_links (token_hash, account_id, created_at, expires_at)
		SELECT $1, id, $3, $4 FROM accounts WHERE id = $2`, l.TokenHash, l.AccountID, ms(l.CreatedAt), ms(l.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create portal link: %w", interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create portal link: %w", store.ErrNotFound)
	}
	return nil
}

// RedeemPortalLink implements store.Store. Deleting the link is what makes
// it single-use: of two redemptions at once, one deletes the row and the
// other finds none.
func (s *Store) RedeemPortalLink(ctx context.Context, tokenHash []byte, sess *store.PortalSession) (*store.PortalSession, error) {
	out := *sess
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `DELETE FROM portal_links WHERE token_hash = $1 AND expires_at > $2 RETURNING account_id`,
			tokenHash, ms(sess.CreatedAt)).Scan(&out.AccountID); err != nil {
			return interpret(err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_sessions (id_hash, account_id, created_at, last_seen_at, idle_expires_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, out.IDHash, out.AccountID, ms(out.CreatedAt), ms(out.LastSeenAt), ms(out.IdleExpiresAt), ms(out.ExpiresAt))
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
	var created, seen, idle, abs int64
	err := s.pool.QueryRow(ctx, `UPDATE portal_sessions SET last_seen_at = $1, idle_expires_at = LEAST($2, expires_at)
		WHERE id_hash = $3 AND idle_expires_at > $1 AND expires_at > $1
		RETURNING account_id, created_at, last_seen_at, idle_expires_at, expires_at`,
		ms(p.Now), ms(p.IdleUntil), p.IDHash).Scan(&out.AccountID, &created, &seen, &idle, &abs)
	if err != nil {
		return nil, fmt.Errorf("touch portal session: %w", interpret(err))
	}
	out.CreatedAt, out.LastSeenAt, out.IdleExpiresAt, out.ExpiresAt = fromMS(created), fromMS(seen), fromMS(idle), fromMS(abs)
	return out, nil
}

// DeletePortalSession implements store.Store.
func (s *Store) DeletePortalSession(ctx context.Context, idHash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM portal_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete portal session: %w", interpret(err))
	}
	return nil
}

// RevokePortalSessions implements store.Store.
func (s *Store) RevokePortalSessions(ctx context.Context, accountID string) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM portal_links WHERE account_id = $1`, accountID); err != nil {
			return interpret(err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM portal_sessions WHERE account_id = $1`, accountID)
		if err != nil {
			return interpret(err)
		}
		n = tag.RowsAffected()
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
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM portal_links WHERE expires_at <= $1`, ms(now))
		if err != nil {
			return interpret(err)
		}
		n = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `DELETE FROM portal_sessions WHERE expires_at <= $1 OR idle_expires_at <= $1`, ms(now))
		if err != nil {
			return interpret(err)
		}
		n += tag.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge portal sessions: %w", err)
	}
	return int(n), nil
}
