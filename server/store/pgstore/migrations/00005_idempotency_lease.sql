-- +goose Up
-- A reservation holds a lease (a request that died no longer locks its key
-- until the record expires), the token of the request holding it, and, for a
-- finished create, the webhook it made: that answer is rendered again from
-- current state at replay, so no secret is kept with the key.
ALTER TABLE idempotency_keys ADD COLUMN lease_token TEXT NOT NULL DEFAULT '',
    ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN resource_uuid TEXT;
-- Answers of creates recorded before this version hold the new webhook's
-- secret in clear: keep only the webhook's uuid.
UPDATE idempotency_keys
   SET resource_uuid = convert_from(body, 'UTF8')::jsonb -> 'webhook' ->> 'uuid', body = NULL
 WHERE scope LIKE 'account:%' AND status BETWEEN 200 AND 299 AND body IS NOT NULL;
UPDATE idempotency_keys SET body = NULL WHERE scope LIKE 'account:%' AND body IS NOT NULL;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN resource_uuid, DROP COLUMN lease_until, DROP COLUMN lease_token;
