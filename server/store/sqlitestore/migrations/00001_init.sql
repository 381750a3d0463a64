-- +goose Up
-- Times are unix milliseconds (INTEGER) everywhere: one canonical encoding, so
-- comparisons and ordering are plain integer comparisons.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    users      TEXT NOT NULL DEFAULT '[]',
    domains    TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_hash   BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);

CREATE TABLE webhooks (
    uuid           TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    url            TEXT NOT NULL,
    secret         TEXT NOT NULL,
    events         TEXT NOT NULL,
    enabled        INTEGER NOT NULL,
    filter_users   TEXT,
    filter_domains TEXT,
    created_at     INTEGER NOT NULL,
    last_modified  INTEGER NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id, created_at);

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    type          TEXT NOT NULL,
    service       TEXT NOT NULL,
    user_name     TEXT NOT NULL DEFAULT '',
    domain        TEXT NOT NULL DEFAULT '',
    source_uid    TEXT NOT NULL DEFAULT '',
    source_action TEXT NOT NULL DEFAULT '',
    data          BLOB NOT NULL,
    body          BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (account_id, id)
);
CREATE INDEX events_source ON events (account_id, source_uid);
CREATE INDEX events_created ON events (account_id, created_at);

-- One row per event x webhook. webhook_uuid has no foreign key on purpose: the
-- history outlives a deleted webhook.
CREATE TABLE deliveries (
    id                 INTEGER PRIMARY KEY,
    event_seq          INTEGER NOT NULL REFERENCES events (seq),
    account_id         TEXT NOT NULL,
    webhook_uuid       TEXT NOT NULL,
    webhook_url        TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'retry', 'success', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    round_attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL,
    claim_seq          INTEGER NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    last_response_code INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (event_seq, webhook_uuid)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retry');
CREATE INDEX deliveries_account ON deliveries (account_id, event_seq);
CREATE INDEX deliveries_webhook ON deliveries (webhook_uuid);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY,
    delivery_id   INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
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
