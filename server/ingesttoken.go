package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// ingestTokenSourceSetting records where the stored ingest token hash came
// from, for `jetwebhooks ingest-token status`.
const ingestTokenSourceSetting = "ingest_token_source"

// IngestTokenRefresh bounds how long a running server keeps accepting an
// ingest token after another process rotated it: every server re-reads the
// stored hash this often (like API keys through the key cache).
const IngestTokenRefresh = 2 * time.Second

// Where the ingest token hash in the database came from.
const (
	IngestTokenConfigured = "configured" // serve --ingest-token / JETWEBHOOKS_INGEST_TOKEN
	IngestTokenGenerated  = "generated"  // generated at the first start
	IngestTokenRotated    = "rotated"    // jetwebhooks ingest-token rotate
)

// IngestTokenInfo says whether an ingest token is set and where it came from;
// the token itself is never stored, only its SHA-256.
type IngestTokenInfo struct {
	Set       bool
	Source    string    // one of the IngestToken* constants; "" if unknown (a database from before they were recorded)
	ChangedAt time.Time // when Source last set it; zero if unknown
}

type ingestTokenSource struct {
	Source string `json:"source"`
	At     int64  `json:"at"`
}

// recordIngestToken stores the token's hash, which every server re-reads,
// and where it came from.
func recordIngestToken(ctx context.Context, st store.Store, hash []byte, source string, now time.Time) error {
	if err := st.PutSetting(ctx, ingestTokenSetting, hash); err != nil {
		return fmt.Errorf("ingest token: %w", err)
	}
	src, _ := json.Marshal(ingestTokenSource{Source: source, At: now.Unix()})
	if err := st.PutSetting(ctx, ingestTokenSourceSetting, src); err != nil {
		return fmt.Errorf("ingest token: %w", err)
	}
	return nil
}

// RotateIngestToken replaces the ingest token with a new one and returns it;
// only its hash is stored. Running servers accept the new token, and refuse
// the old one, within IngestTokenRefresh.
func RotateIngestToken(ctx context.Context, st store.Store, now time.Time) (string, error) {
	tok, err := randomToken("ing_")
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(tok))
	if err := recordIngestToken(ctx, st, h[:], IngestTokenRotated, now); err != nil {
		return "", err
	}
	return tok, nil
}

// IngestTokenStatus reports whether the database holds an ingest token and
// where it came from.
func IngestTokenStatus(ctx context.Context, st store.Store) (IngestTokenInfo, error) {
	var info IngestTokenInfo
	if _, err := st.GetSetting(ctx, ingestTokenSetting); errors.Is(err, store.ErrNotFound) {
		return info, nil
	} else if err != nil {
		return info, fmt.Errorf("ingest token: %w", err)
	}
	info.Set = true
	b, err := st.GetSetting(ctx, ingestTokenSourceSetting)
	if errors.Is(err, store.ErrNotFound) {
		return info, nil
	} else if err != nil {
		return info, fmt.Errorf("ingest token: %w", err)
	}
	var src ingestTokenSource
	if json.Unmarshal(b, &src) == nil {
		info.Source = src.Source
		if src.At > 0 {
			info.ChangedAt = time.Unix(src.At, 0)
		}
	}
	return info, nil
}

// watchIngestToken passes a changed stored hash on to the API every
// IngestTokenRefresh, so a rotation by another process or node takes effect
// without a restart.
func (s *Server) watchIngestToken(ctx context.Context, current []byte) {
	repeat(ctx, IngestTokenRefresh, false, func(ctx context.Context) {
		h, err := s.store.GetSetting(ctx, ingestTokenSetting)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("re-read the ingest token", "err", err)
			}
			return
		}
		if bytes.Equal(h, current) {
			return
		}
		if err := s.api.SetIngestTokenHash(h); err != nil {
			s.log.Warn("re-read the ingest token", "err", err)
			return
		}
		current = h
		s.log.Info("the ingest token was changed in the database (ingest-token rotate); using the new one")
	})
}
