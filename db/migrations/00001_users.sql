-- Shared by PostgreSQL and SQLite: ids are UUID text made in Go, and every
-- TIMESTAMP holds UTC (the app writes UTC only), so plain text comparison in
-- SQLite and timestamp comparison in PostgreSQL agree.

-- +goose Up
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'editor', 'admin')),
    plan           TEXT NOT NULL DEFAULT 'free' CHECK (plan <> ''),
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

-- E-mail addresses are unique case-insensitively, whatever the app stores.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- +goose Down
DROP TABLE users;
