-- One-time tokens mailed to users: e-mail verification and password reset.
-- Only the SHA-256 of a token is stored.

-- +goose Up
CREATE TABLE account_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX account_tokens_user_id_idx ON account_tokens (user_id);

-- +goose Down
DROP TABLE account_tokens;
