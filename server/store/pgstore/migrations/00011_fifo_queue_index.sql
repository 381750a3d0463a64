-- +goose Up
-- A webhook's queue of gated deliveries, in queue order, without
-- next_attempt_at. The released deliveries of a queue are always its head
-- (held ones join at the tail, by publish or replay, and are released from
-- the head), so a release reads the first "window" rows of this index, for
-- many webhooks at once, whatever the backlog behind them.
DROP INDEX deliveries_gated;
CREATE INDEX deliveries_queue ON deliveries (webhook_uuid, fifo_seq, id)
    WHERE gated AND status IN ('pending', 'retry');

-- +goose Down
DROP INDEX deliveries_queue;
CREATE INDEX deliveries_gated ON deliveries (webhook_uuid, next_attempt_at, fifo_seq, id)
    WHERE gated AND status IN ('pending', 'retry');
