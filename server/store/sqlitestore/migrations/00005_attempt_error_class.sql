-- +goose Up
-- Why an attempt failed, from the small set the API documents (see
-- store.ErrorClass*); '' for a success or an attempt that sent no request.
ALTER TABLE attempts ADD COLUMN error_class TEXT NOT NULL DEFAULT '';
-- Attempts recorded before this column existed get the class their status
-- code and message imply (the engine's earlier messages, word for word).
-- What cannot be told apart is left '' and reported as null.
UPDATE attempts SET error_class = CASE
        WHEN status_code BETWEEN 300 AND 399 THEN 'redirect'
        WHEN status_code IS NOT NULL AND (status_code < 200 OR status_code > 299) THEN 'http_status'
        WHEN status_code IS NOT NULL THEN ''
        WHEN error LIKE 'timed out%' THEN 'timeout'
        WHEN error LIKE 'connection refused%' THEN 'connection_refused'
        WHEN error LIKE 'TLS handshake failed%' THEN 'tls'
        WHEN error LIKE 'destination refused%' OR error LIKE 'DNS lookup failed%' THEN 'destination_refused'
        WHEN error LIKE 'connection closed by the receiver%' OR error LIKE 'host unreachable%'
            OR error LIKE 'request failed%' THEN 'connection_failed'
        ELSE '' END
    WHERE status_code IS NULL OR status_code < 200 OR status_code > 299;

-- +goose Down
ALTER TABLE attempts DROP COLUMN error_class;
