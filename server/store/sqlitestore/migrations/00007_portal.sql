-- +goose Up
-- The customer portal: single-use sign-in links and the sessions they open.
-- Tokens and session ids are stored as their SHA-256 only.
CREATE TABLE portal_links (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX portal_links_account ON portal_links (account_id);

CREATE TABLE portal_sessions (
    id_hash         BLOB PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX portal_sessions_account ON portal_sessions (account_id);

-- +goose Down
DROP TABLE portal_sessions;
DROP TABLE portal_links;
