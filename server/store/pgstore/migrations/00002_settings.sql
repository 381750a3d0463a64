-- +goose Up
-- Node-wide settings, such as secrets generated on first start; see
-- store.Store.PutSettingIfAbsent. Rows are written once and never changed.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- +goose Down
DROP TABLE settings;
