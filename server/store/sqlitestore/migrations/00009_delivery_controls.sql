-- +goose Up
-- Delivery controls (optional extensions of the JetEmail schema): ordered
-- (FIFO) delivery and a per-webhook rate limit.
--
-- webhooks: ordering and rate_limit are the settings. pace_at is when the
-- next attempt to a rate-limited webhook may start (the theoretical arrival
-- time of a GCRA, advanced at every claim, so the limit holds across nodes);
-- slow_until is the end of the slow-down a 429 answer starts; fifo_tail is
-- the webhook's own queue sequence, handed out under the webhook's row lock
-- at publish and replay, so the queue order is the order events were
-- accepted in, whatever the clocks say.
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'unordered';
ALTER TABLE webhooks ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN pace_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN slow_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN fifo_tail INTEGER NOT NULL DEFAULT 0;

-- deliveries: gated marks a delivery of a controlled webhook. A gated
-- delivery waits "held" (next_attempt_at = 2^61, never due for the claim
-- query, which stays as it was) until its webhook's queue releases it;
-- fifo_seq is its place in that queue; replayed marks a replay queued into
-- a controlled webhook. Ungated deliveries never look at these columns.
ALTER TABLE deliveries ADD COLUMN gated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN fifo_seq INTEGER;
ALTER TABLE deliveries ADD COLUMN replayed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_gated ON deliveries (webhook_uuid, next_attempt_at, fifo_seq, id)
    WHERE gated = 1 AND status IN ('pending', 'retry');

-- +goose Down
DROP INDEX deliveries_gated;
ALTER TABLE deliveries DROP COLUMN replayed;
ALTER TABLE deliveries DROP COLUMN fifo_seq;
ALTER TABLE deliveries DROP COLUMN gated;
ALTER TABLE webhooks DROP COLUMN fifo_tail;
ALTER TABLE webhooks DROP COLUMN slow_until;
ALTER TABLE webhooks DROP COLUMN pace_at;
ALTER TABLE webhooks DROP COLUMN rate_limit;
ALTER TABLE webhooks DROP COLUMN ordering;
