package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PutSettingIfAbsent implements store.Store. It is two statements, on
// purpose not one: when another node inserts the same key at the same moment,
// the INSERT waits for that transaction and then does nothing, and only a
// statement started afterwards has a snapshot that sees the winner's row (a
// single CTE statement would find no row at all). Settings are never
// deleted, so the SELECT always finds a row; a PutSetting between the two
// statements makes it return the newer value, which is what is stored.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	var stored []byte
	err := s.pool.QueryRow(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO NOTHING RETURNING value`, key, orEmptyBytes(value)).Scan(&stored)
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("put setting: %w", interpret(err))
	}
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&stored); err != nil {
		return nil, false, fmt.Errorf("put setting: %w", interpret(err))
	}
	return stored, false, nil
}

// GetSetting implements store.Store.
func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return nil, fmt.Errorf("get setting: %w", interpret(err))
	}
	return v, nil
}

// PutSetting implements store.Store.
func (s *Store) PutSetting(ctx context.Context, key string, value []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, orEmptyBytes(value))
	if err != nil {
		return fmt.Errorf("put setting: %w", interpret(err))
	}
	return nil
}
