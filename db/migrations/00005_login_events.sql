-- One row per successful login, for /analytics.

-- +goose Up
CREATE TABLE login_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX login_events_created_at_idx ON login_events (created_at);
CREATE INDEX login_events_user_id_idx ON login_events (user_id);

-- +goose Down
DROP TABLE login_events;
