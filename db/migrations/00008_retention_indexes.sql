-- Indexes the retention purge (`purge`, PURGE_INTERVAL) walks, so each of its
-- batches is an index range scan, not a scan of the whole table.
-- login_events already has login_events_created_at_idx; account_tokens stays
-- small once purged (tokens live a day at most), so a scan of it is cheap.
-- Plain CREATE INDEX (one file for both engines: SQLite has no CONCURRENTLY)
-- blocks writes to refresh_tokens while it builds: 0.9-2.5 s for a million
-- rows on the 2-core development machine (bench/purge.sh).

-- +goose Up
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
-- Partial: only unverified accounts, few at any time, are in it.
CREATE INDEX users_unverified_created_at_idx ON users (created_at) WHERE NOT email_verified;

-- +goose Down
DROP INDEX users_unverified_created_at_idx;
DROP INDEX refresh_tokens_expires_at_idx;
