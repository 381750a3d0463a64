-- +goose Up
-- Claims order due deliveries by (next_attempt_at, id). With next_attempt_at
-- alone indexed, PostgreSQL sorted every due row sharing one time (a batch
-- published in the same millisecond, a large replay) before taking the first
-- 128: 55 ms for 200,000 such rows, against 0.3 ms with the index below.
-- Building it blocks writes to deliveries while it runs.
CREATE INDEX deliveries_due_order ON deliveries (next_attempt_at, id) WHERE status IN ('pending', 'retry');
DROP INDEX deliveries_due;

-- +goose Down
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retry');
DROP INDEX deliveries_due_order;
