-- +goose Up
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    owner_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL
);

CREATE INDEX projects_owner_id_idx ON projects (owner_id);
CREATE INDEX projects_created_at_idx ON projects (created_at);

-- +goose Down
DROP TABLE projects;
