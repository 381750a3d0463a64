package api

import (
	"crypto/sha256"
	"errors"
	"sync/atomic"
)

// ingestHash holds the SHA-256 of the ingest token. It changes while the
// API serves: the token can be rotated from another process (jetwebhooks
// ingest-token rotate), and the server passes the stored hash on through
// SetIngestTokenHash.
type ingestHash struct{ p atomic.Pointer[[]byte] }

func (h *ingestHash) get() []byte {
	if v := h.p.Load(); v != nil {
		return *v
	}
	return nil
}

func (h *ingestHash) set(v []byte) { h.p.Store(&v) }

// SetIngestTokenHash replaces the SHA-256 of the token that authorises POST
// /events; requests from then on are checked against it.
func (a *API) SetIngestTokenHash(hash []byte) error {
	if len(hash) != sha256.Size {
		return errors.New("api: ingest token hash must be a SHA-256 (32 bytes)")
	}
	a.ingestHash.set(append([]byte(nil), hash...))
	return nil
}
