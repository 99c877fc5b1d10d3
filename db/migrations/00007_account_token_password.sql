-- A verification link carries the password hash of the registration that
-- sent it: verifying makes that password the account's, so whoever
-- registered an address first gains nothing when its owner registers too.
-- NULL (resend links) keeps the account's password.

-- +goose Up
ALTER TABLE account_tokens ADD COLUMN password_hash TEXT;

-- +goose Down
ALTER TABLE account_tokens DROP COLUMN password_hash;
