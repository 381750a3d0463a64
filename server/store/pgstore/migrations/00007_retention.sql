-- +goose Up
-- See the SQLite backend's 00006_retention.sql: the newest creation time of
-- each account's events the retention purge has deleted.
CREATE TABLE purge_watermarks (
    account_id     TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    purged_through BIGINT NOT NULL
);

-- +goose Down
DROP TABLE purge_watermarks;
