package db_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"apisec/db"
	"apisec/db/dbtest"
)

func TestMigrationsRunUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gdb, engine := dbtest.Open(t, 2)
	sqlDB, _ := gdb.DB()
	p, err := db.NewMigrator(sqlDB, engine)
	if err != nil {
		t.Fatal(err)
	}
	total := len(p.ListSources())
	if total == 0 {
		t.Fatal("no migrations embedded")
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("first up: %v", err)
	}
	created := schemaObjects(t, gdb, engine)
	if !slices.Contains(created, "users") {
		t.Fatalf("the catalog query found no users table after up: %v", created)
	}
	for i := 0; i < total; i++ {
		if _, err := p.Down(ctx); err != nil {
			t.Fatalf("down #%d: %v", i+1, err)
		}
	}
	if v, _ := p.GetDBVersion(ctx); v != 0 {
		t.Fatalf("version after all downs = %d, want 0", v)
	}
	if left := schemaObjects(t, gdb, engine); len(left) != 0 {
		t.Fatalf("left after every down: %v", left)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("second up: %v", err)
	}
	var out bytes.Buffer
	if err := db.RunMigrate(ctx, p, "status", &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "applied") != total {
		t.Fatalf("status after up:\n%s", out.String())
	}
	if again := schemaObjects(t, gdb, engine); !slices.Equal(again, created) {
		t.Fatalf("second up made %v, the first %v", again, created)
	}
}

// schemaObjects lists, from the database's own catalog, every table, index,
// view and sequence but goose's bookkeeping, so a migration whose Down
// forgets something fails the round trip without this test naming it.
func schemaObjects(t *testing.T, gdb *gorm.DB, engine db.Engine) []string {
	t.Helper()
	q := `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'i', 'v', 'm', 'S') AND c.relname NOT LIKE ? ORDER BY 1`
	if engine == db.SQLite {
		q = "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND tbl_name NOT LIKE ? ORDER BY 1"
	}
	var names []string
	if err := gdb.Raw(q, goose.DefaultTablename+"%").Scan(&names).Error; err != nil {
		t.Fatal(err)
	}
	return names
}

func TestSchemaEnforcesCaseInsensitiveEmailAndRoles(t *testing.T) {
	t.Parallel()
	gdb, _ := dbtest.New(t)
	insert := "INSERT INTO users (id, email, password_hash, role, plan, email_verified, created_at, updated_at) VALUES (?, ?, 'h', ?, 'free', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
	if err := gdb.Exec(insert, "1", "a@example.com", "viewer").Error; err != nil {
		t.Fatal(err)
	}
	if err := gdb.Exec(insert, "2", "A@Example.COM", "viewer").Error; err == nil {
		t.Fatal("a second user with the same e-mail in another case was accepted")
	}
	if err := gdb.Exec(insert, "3", "b@example.com", "root").Error; err == nil {
		t.Fatal("an unknown role was accepted")
	}
}

func TestCreateMigrationNumbersSequentially(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00007_old.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := db.CreateMigration(dir, "add_index")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "00008_add_index.sql" {
		t.Fatalf("created %s", path)
	}
	for _, bad := range []string{"", "Drop Table", "../escape", strings.Repeat("x", 65)} {
		if _, err := db.CreateMigration(dir, bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}
