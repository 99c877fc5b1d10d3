-- Roles become data: users.role references roles (name) instead of a CHECK
-- listing them, so adding a role is one INSERT migration (and an entry in
-- models' role list; a test checks that both agree).
--
-- SQLite can change neither a CHECK nor a foreign key in place, and the usual
-- table rebuild (create, copy, drop, rename) cascades: dropping users with
-- foreign keys on deletes every project and token. So the column is swapped
-- instead (add, copy, drop, rename), which both engines do in place and in
-- goose's transaction, and no row of any table is deleted.
--
-- SQLite refuses to add a REFERENCES column with a default to a non-empty
-- table while foreign keys are on ("Cannot add a REFERENCES column with
-- non-NULL default value"): the app migrates SQLite with them off (see
-- sqliteMigrating in db/migrate.go), as the stock goose CLI does; a
-- connection with them on fails here, in the transaction, changing nothing.

-- +goose Up
CREATE TABLE roles (
    name TEXT PRIMARY KEY CHECK (name <> '')
);
INSERT INTO roles (name) VALUES ('viewer'), ('editor'), ('admin');

ALTER TABLE users ADD COLUMN role_ref TEXT NOT NULL DEFAULT 'viewer' CONSTRAINT users_role_fkey REFERENCES roles (name);
UPDATE users SET role_ref = role;
ALTER TABLE users DROP COLUMN role;
ALTER TABLE users RENAME COLUMN role_ref TO role;

-- +goose Down
-- Fails, changing nothing, while a user holds a role the CHECK does not list.
ALTER TABLE users ADD COLUMN role_check TEXT NOT NULL DEFAULT 'viewer' CONSTRAINT users_role_check CHECK (role_check IN ('viewer', 'editor', 'admin'));
UPDATE users SET role_check = role;
ALTER TABLE users DROP COLUMN role;
ALTER TABLE users RENAME COLUMN role_check TO role;
DROP TABLE roles;
