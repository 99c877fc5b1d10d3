-- Marks of ended sessions: every access token whose sid is here is refused.
-- This is the source of truth each instance loads at start and re-reads
-- while its pub/sub channel may have lost messages (app/revocation). No
-- foreign key: a mark must outlive the deletion of its user. Rows matter
-- for an access-token lifetime and are deleted some time after.

-- +goose Up
CREATE TABLE session_revocations (
    session_id TEXT PRIMARY KEY,
    revoked_at TIMESTAMP NOT NULL
);

CREATE INDEX session_revocations_revoked_at_idx ON session_revocations (revoked_at);

-- +goose Down
DROP TABLE session_revocations;
