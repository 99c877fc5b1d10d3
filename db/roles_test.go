package db_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"apisec/db"
	"apisec/db/dbtest"
	"apisec/models"
)

func TestTheRolesTableHoldsExactlyTheGoList(t *testing.T) {
	t.Parallel()
	gdb, _ := dbtest.New(t)
	var got []string
	if err := gdb.Raw("SELECT name FROM roles ORDER BY name").Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range models.Roles() {
		want = append(want, string(r))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("roles table %q, models.Roles() %q: add the missing ones with a migration or to the list", got, want)
	}
}

// An added role is one INSERT migration; moving the role check into data
// (the roles migration) and back keeps every row of every table, and a
// migration that would leave a user without their role rolls back.
func TestAddingARoleIsADataMigrationThatDeletesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gdb, engine := dbtest.Open(t, 2)
	sqlDB, _ := gdb.DB()
	// test_role: a name no real role takes, so a team adding its own role
	// (auditor, billing, ...) does not collide with this test.
	fsys, addRole := withMigration(t, db.Migrations(), "add_test_role",
		"-- +goose Up\nINSERT INTO roles (name) VALUES ('test_role');\n\n-- +goose Down\nDELETE FROM roles WHERE name = 'test_role';\n")
	p, err := db.NewMigratorFS(sqlDB, engine, fsys)
	if err != nil {
		t.Fatal(err)
	}
	beforeRoles := sourceVersion(t, p, "_roles.sql") - 1
	if _, err := p.UpTo(ctx, beforeRoles); err != nil {
		t.Fatal(err)
	}
	roles := seed(t, gdb)
	want := rowCounts(t, gdb, engine)
	for table, n := range want {
		if n == 0 {
			t.Fatalf("seed left %s empty", table)
		}
	}
	check := func(step string) {
		t.Helper()
		got := rowCounts(t, gdb, engine)
		for table, n := range want {
			if got[table] != n {
				t.Errorf("%s: %s has %d rows, want %d", step, table, got[table], n)
			}
		}
		for id, role := range roles {
			var got string
			if err := gdb.Raw("SELECT role FROM users WHERE id = ?", id).Scan(&got).Error; err != nil || got != role {
				t.Errorf("%s: user %s has role %q (%v), want %q", step, id, got, err, role)
			}
		}
		if engine == db.SQLite { // the migrations turned them off on the pool's one connection
			var on int
			if err := gdb.Raw("PRAGMA foreign_keys").Scan(&on).Error; err != nil || on != 1 {
				t.Errorf("%s: foreign_keys = %d (%v) after migrating, want 1", step, on, err)
			}
		}
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	check("up")
	var viewer string
	for id, role := range roles {
		if models.Role(role) == models.RoleViewer {
			viewer = id
		}
	}
	now := time.Now().UTC()
	if err := models.UpdateUser(gdb, viewer, now, models.UserChanges{Role: new(models.Role("test_role"))}); err != nil {
		t.Fatalf("a user cannot be given the added role: %v", err)
	}
	if err := models.UpdateUser(gdb, viewer, now, models.UserChanges{Role: new(models.Role("root"))}); err == nil {
		t.Fatal("a role missing from the roles table was accepted")
	}
	roles[viewer] = "test_role"
	if _, err := p.Down(ctx); err == nil {
		t.Fatal("removing a role a user holds succeeded")
	}
	if v, _ := p.GetDBVersion(ctx); v != addRole {
		t.Fatalf("version %d after the refused down, want %d", v, addRole)
	}
	check("refused down")

	if err := models.UpdateUser(gdb, viewer, now, models.UserChanges{Role: new(models.RoleViewer)}); err != nil {
		t.Fatal(err)
	}
	roles[viewer] = string(models.RoleViewer)
	if _, err := p.DownTo(ctx, beforeRoles); err != nil {
		t.Fatalf("down to %d: %v", beforeRoles, err)
	}
	check("down")
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	check("up again")
}

// withMigration is base plus one more migration numbered after its last;
// it returns the new migration's version.
func withMigration(t *testing.T, base fs.FS, name, sql string) (fs.FS, int64) {
	t.Helper()
	out := fstest.MapFS{}
	var last int64
	err := fs.WalkDir(base, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(base, path)
		if err != nil {
			return err
		}
		out[path] = &fstest.MapFile{Data: b}
		if v, err := goose.NumericComponent(path); err == nil && v > last {
			last = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out[fmt.Sprintf("%05d_%s.sql", last+1, name)] = &fstest.MapFile{Data: []byte(sql)}
	return out, last + 1
}

// sourceVersion is the version of the one migration whose file name ends in suffix.
func sourceVersion(t *testing.T, p *goose.Provider, suffix string) int64 {
	t.Helper()
	for _, s := range p.ListSources() {
		if strings.HasSuffix(s.Path, suffix) {
			return s.Version
		}
	}
	t.Fatalf("no migration *%s", suffix)
	return 0
}

// seed gives the schema as it was before roles were data one user of each
// role it allowed, each with a row in every table that references users, and
// returns their roles by id.
func seed(t *testing.T, gdb *gorm.DB) map[string]string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	roles := map[string]string{}
	for i, role := range []string{"viewer", "editor", "admin"} {
		id := models.NewID()
		roles[id] = role
		stmts := []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO users (id, email, password_hash, role, plan, email_verified, created_at, updated_at) VALUES (?, ?, 'h', ?, 'free', TRUE, ?, ?)",
				[]any{id, fmt.Sprintf("u%d@example.com", i), role, now, now}},
			{"INSERT INTO account_tokens (id, user_id, purpose, token_hash, expires_at, created_at) VALUES (?, ?, 'verify_email', ?, ?, ?)",
				[]any{models.NewID(), id, "a" + id, now, now}},
			{"INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				[]any{models.NewID(), id, models.NewID(), "r" + id, now, now}},
			{"INSERT INTO projects (id, name, owner_id, created_at) VALUES (?, 'p', ?, ?)", []any{models.NewID(), id, now}},
			{"INSERT INTO login_events (id, user_id, created_at) VALUES (?, ?, ?)", []any{models.NewID(), id, now}},
		}
		for _, s := range stmts {
			if err := gdb.Exec(s.sql, s.args...).Error; err != nil {
				t.Fatalf("seed: %v", err)
			}
		}
	}
	return roles
}

// rowCounts counts the rows of every table the migrations made, found in
// the catalog rather than listed, so a new table is counted too.
func rowCounts(t *testing.T, gdb *gorm.DB, engine db.Engine) map[string]int64 {
	t.Helper()
	q := "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
	if engine == db.SQLite {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	}
	var tables []string
	if err := gdb.Raw(q).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, table := range tables {
		if table == goose.DefaultTablename {
			continue
		}
		var n int64
		if err := gdb.Raw(`SELECT count(*) FROM "` + table + `"`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}
