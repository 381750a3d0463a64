-- +goose Up
-- The same tables and columns as the SQLite backend's 00001_init.sql, in
-- PostgreSQL types. Times are unix milliseconds (BIGINT) here too, not
-- timestamptz: one canonical encoding in both backends, so the conformance
-- suite and every comparison behave identically at millisecond precision.
--
-- Lists are JSONB. A NULL filter means "all" and '[]' means "none": the
-- nil-versus-empty distinction of store.Webhook survives the round trip.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    users      JSONB NOT NULL DEFAULT '[]',
    domains    JSONB NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_hash   BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE webhooks (
    uuid           TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    url            TEXT NOT NULL,
    secret         TEXT NOT NULL,
    events         JSONB NOT NULL,
    enabled        BOOLEAN NOT NULL,
    filter_users   JSONB,
    filter_domains JSONB,
    created_at     BIGINT NOT NULL,
    last_modified  BIGINT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id, created_at);

-- "user" is a reserved word in PostgreSQL (and awkward in SQLite), hence user_name.
CREATE TABLE events (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    type          TEXT NOT NULL,
    service       TEXT NOT NULL,
    user_name     TEXT NOT NULL DEFAULT '',
    domain        TEXT NOT NULL DEFAULT '',
    source_uid    TEXT NOT NULL DEFAULT '',
    source_action TEXT NOT NULL DEFAULT '',
    data          BYTEA NOT NULL,
    body          BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (account_id, id)
);
CREATE INDEX events_source ON events (account_id, source_uid);
CREATE INDEX events_created ON events (account_id, created_at);

-- One row per event x webhook. webhook_uuid has no foreign key on purpose: the
-- history outlives a deleted webhook.
CREATE TABLE deliveries (
    id                 BIGSERIAL PRIMARY KEY,
    event_seq          BIGINT NOT NULL REFERENCES events (seq),
    account_id         TEXT NOT NULL,
    webhook_uuid       TEXT NOT NULL,
    webhook_url        TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'retry', 'success', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    round_attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL,
    claim_seq          BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    last_response_code INTEGER,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (event_seq, webhook_uuid)
);
-- The claim query and NextDueAt/QueueStats read only undelivered rows; the
-- partial index keeps them fast however long the delivered history grows.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retry');
CREATE INDEX deliveries_account ON deliveries (account_id, event_seq);
CREATE INDEX deliveries_webhook ON deliveries (webhook_uuid);

CREATE TABLE attempts (
    id            BIGSERIAL PRIMARY KEY,
    delivery_id   BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    at            BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   INTEGER,
    error         TEXT NOT NULL DEFAULT '',
    response_body TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE webhooks;
DROP TABLE api_keys;
DROP TABLE accounts;
