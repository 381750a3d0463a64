package server

import (
	"context"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Retention defaults; see Config.
const (
	defaultRetention     = 30 * 24 * time.Hour
	defaultPurgeInterval = time.Minute
	defaultPurgeBatch    = 128
	// shortRetention is the retention under which the log warns: fine for a
	// test or a soak benchmark, surprising in production.
	shortRetention = time.Hour
)

func (c *Config) applyRetentionDefaults() {
	if c.Retention == 0 {
		c.Retention = defaultRetention
	}
	if c.PurgeInterval <= 0 {
		c.PurgeInterval = defaultPurgeInterval
	}
	if c.PurgeBatch <= 0 {
		c.PurgeBatch = defaultPurgeBatch
	}
}

func (s *Server) warnShortRetention() {
	if r := s.cfg.Retention; r > 0 && r < shortRetention {
		s.log.Warn("retention is very short: delivery history is deleted soon after it finishes", "retention", r.String())
	}
}

// Purge deletes the history past retention (see Config.Retention), one
// batch of at most PurgeBatch events per transaction, each followed by a
// pause as long as the batch took, until nothing is left or another node is
// purging (PostgreSQL: one node at a time), and returns what it deleted. Run
// calls it every PurgeInterval.
func (s *Server) Purge(ctx context.Context) (store.PurgeResult, error) {
	var total store.PurgeResult
	if s.cfg.Retention < 0 {
		return total, nil
	}
	// One horizon for the whole run, so that a run under steady load ends.
	p := &store.PurgeParams{Before: s.cfg.Now().Add(-s.cfg.Retention), Limit: s.cfg.PurgeBatch}
	for ctx.Err() == nil {
		start := time.Now()
		res, err := s.store.PurgeHistory(ctx, p)
		if err != nil {
			return total, err
		}
		took := time.Since(start)
		total.Events += res.Events
		total.Deliveries += res.Deliveries
		total.Attempts += res.Attempts
		s.metrics.Purged(res.Events, res.Deliveries, res.Attempts)
		if res.Busy {
			total.Busy = true
			break
		}
		if res.Events < p.Limit {
			break
		}
		// Pace the batches: the store is idle for the purge as long as the
		// last batch held it, so the purge takes at most half of the
		// database's write time and deliveries' latency barely notices.
		select {
		case <-ctx.Done():
		case <-time.After(took):
		}
	}
	return total, nil
}

func (s *Server) purger(ctx context.Context) {
	if s.cfg.Retention < 0 {
		return
	}
	repeat(ctx, s.cfg.PurgeInterval, true, func(ctx context.Context) {
		res, err := s.Purge(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("retention purge", "err", err)
		case res.Events > 0:
			s.log.Debug("retention purge", "events", res.Events, "deliveries", res.Deliveries, "attempts", res.Attempts)
		}
	})
}
