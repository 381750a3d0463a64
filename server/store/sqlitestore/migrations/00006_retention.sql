-- +goose Up
-- The newest creation time of each account's events the retention purge has
-- deleted, so that a replay of an unknown event can say it may be past
-- retention. The purge itself needs no new index: it walks events_created
-- per account and finds deliveries and attempts through the indexes the hot
-- path already keeps.
CREATE TABLE purge_watermarks (
    account_id     TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    purged_through INTEGER NOT NULL
);

-- +goose Down
DROP TABLE purge_watermarks;
