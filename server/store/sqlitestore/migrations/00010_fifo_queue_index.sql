-- +goose Up
-- A webhook's queue of gated deliveries, in queue order, without
-- next_attempt_at: releasing and claiming a gated delivery change only
-- next_attempt_at, so they no longer rewrite this index (SQLite updates an
-- index only when one of its columns changes). The queue's released
-- deliveries are always its head (held ones are inserted, or replayed, at
-- the tail and released from the head), so the first "window" rows of this
-- index are all a release has to look at.
DROP INDEX deliveries_gated;
CREATE INDEX deliveries_queue ON deliveries (webhook_uuid, fifo_seq)
    WHERE gated = 1 AND status IN ('pending', 'retry');

-- +goose Down
DROP INDEX deliveries_queue;
CREATE INDEX deliveries_gated ON deliveries (webhook_uuid, next_attempt_at, fifo_seq, id)
    WHERE gated = 1 AND status IN ('pending', 'retry');
