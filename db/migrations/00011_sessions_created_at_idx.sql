-- The retention purge deletes sessions past SESSION_MAX_AGE by their login
-- time: an index range scan per batch, not a scan of the whole table.

-- +goose Up
CREATE INDEX sessions_created_at_idx ON sessions (created_at);

-- +goose Down
DROP INDEX sessions_created_at_idx;
