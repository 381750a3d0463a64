-- +goose Up
-- Custom headers sent with every delivery of a webhook: a JSON object, name →
-- value, or NULL for none. The server seals each value (secretbox) before it
-- gets here, so the column holds names in clear and values only encrypted.
ALTER TABLE webhooks ADD COLUMN headers TEXT;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN headers;
