-- One row per login: the session, whose id is the refresh-token family id
-- (refresh_tokens.family_id) and the access tokens' sid claim. created_at is
-- the login time that SESSION_MAX_AGE counts from, however often the family
-- rotated.

-- +goose Up
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Families started before this migration: their first token's time is the login.
INSERT INTO sessions (id, user_id, created_at)
SELECT family_id, MIN(user_id), MIN(created_at) FROM refresh_tokens GROUP BY family_id;

-- +goose Down
DROP TABLE sessions;
