-- +goose Up
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at BIGINT;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at BIGINT;
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
CREATE INDEX webhooks_failing ON webhooks (failing_since) WHERE failing_since IS NOT NULL AND enabled;
CREATE INDEX webhooks_previous_secret ON webhooks (previous_secret_expires_at) WHERE previous_secret IS NOT NULL;

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    body         BYTEA,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP INDEX webhooks_previous_secret;
DROP INDEX webhooks_failing;
ALTER TABLE webhooks DROP COLUMN failing_since, DROP COLUMN disabled_at, DROP COLUMN disabled_reason,
    DROP COLUMN previous_secret_expires_at, DROP COLUMN previous_secret;
