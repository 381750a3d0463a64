-- +goose Up
-- A reservation holds a lease (a request that died no longer locks its key
-- until the record expires), the token of the request holding it, and, for a
-- finished create, the webhook it made: that answer is rendered again from
-- current state at replay, so no secret is kept with the key.
ALTER TABLE idempotency_keys ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN resource_uuid TEXT;
-- Answers of creates recorded before this version hold the new webhook's
-- secret in clear: keep only the webhook's uuid, and have the freed bytes
-- overwritten.
PRAGMA secure_delete = ON;
UPDATE idempotency_keys
   SET resource_uuid = json_extract(CAST(body AS TEXT), '$.webhook.uuid'), body = NULL
 WHERE scope LIKE 'account:%' AND status BETWEEN 200 AND 299 AND body IS NOT NULL
   AND json_valid(CAST(body AS TEXT));
UPDATE idempotency_keys SET body = NULL WHERE scope LIKE 'account:%' AND body IS NOT NULL;
PRAGMA secure_delete = OFF;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN resource_uuid;
ALTER TABLE idempotency_keys DROP COLUMN lease_until;
ALTER TABLE idempotency_keys DROP COLUMN lease_token;
