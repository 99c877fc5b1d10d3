package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// MigrationsDir is where `migrate create` writes, relative to the repository.
const MigrationsDir = "db/migrations"

// Migrations returns the SQL migrations compiled into the binary.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	return sub
}

// NewMigrator returns a goose provider over the embedded migrations.
func NewMigrator(sqlDB *sql.DB, engine Engine) (*goose.Provider, error) {
	return NewMigratorFS(sqlDB, engine, Migrations())
}

// NewMigratorFS returns a goose provider over the migrations in fsys. On
// PostgreSQL a session lock keeps two starting instances from migrating at
// once; SQLite migrates with foreign keys deferred (sqliteMigrating).
func NewMigratorFS(sqlDB *sql.DB, engine Engine, fsys fs.FS) (*goose.Provider, error) {
	if engine == SQLite {
		store, err := database.NewStore(database.DialectSQLite3, goose.DefaultTablename)
		if err != nil {
			return nil, err
		}
		ext, ok := store.(database.StoreExtender)
		if !ok {
			return nil, fmt.Errorf("goose's SQLite store %T lacks TableExists", store)
		}
		return goose.NewProvider(goose.DialectCustom, sqlDB, fsys,
			goose.WithStore(sqliteMigrating{ext}), goose.WithSessionLocker(sqliteMigrating{ext}))
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithSessionLocker(locker))
}

// sqliteMigrating runs SQLite migrations the way SQLite's own procedure for
// schema changes asks: with foreign keys off, because with them on dropping
// or rebuilding a table cascades into every table referencing it (deleting
// their rows), and some changes are refused outright. PRAGMA foreign_keys
// cannot change inside goose's transaction, so it is set on the connection
// goose runs a batch of migrations on (goose's SessionLocker is the hook for
// that connection). What foreign keys would have caught is checked instead
// in each migration's own transaction, just before goose records its version
// (the store's Insert and Delete), so such a migration rolls back whole, as
// on PostgreSQL. The stock goose CLI's SQLite connections also have foreign
// keys off, without that check.
type sqliteMigrating struct{ database.StoreExtender }

// SessionLock turns foreign keys off for the batch.
func (sqliteMigrating) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF")
	return err
}

// SessionUnlock turns them back on, as db.Open has them. A connection it
// cannot turn them back on for is discarded, never returned to the pool.
func (sqliteMigrating) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = ON"); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return fmt.Errorf("turn foreign keys back on: %w", err)
	}
	return nil
}

// Insert records an applied migration once its foreign keys check out.
func (s sqliteMigrating) Insert(ctx context.Context, tx database.DBTxConn, req database.InsertRequest) error {
	if err := foreignKeyCheck(ctx, tx); err != nil {
		return err
	}
	return s.StoreExtender.Insert(ctx, tx, req)
}

// Delete records a rolled-back migration once its foreign keys check out.
func (s sqliteMigrating) Delete(ctx context.Context, tx database.DBTxConn, version int64) error {
	if err := foreignKeyCheck(ctx, tx); err != nil {
		return err
	}
	return s.StoreExtender.Delete(ctx, tx, version)
}

// foreignKeyCheck fails when any row references a missing parent.
func foreignKeyCheck(ctx context.Context, tx database.DBTxConn) error {
	rows, err := tx.QueryContext(ctx, `SELECT "table", parent, count(*) FROM pragma_foreign_key_check GROUP BY 1, 2`)
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var table, parent string
		var n int64
		if err := rows.Scan(&table, &parent, &n); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		bad = append(bad, fmt.Sprintf("%d in %s without their %s", n, table, parent))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("foreign key violation: rows referencing missing parents: %s", strings.Join(bad, ", "))
	}
	return nil
}

// MigrateUp applies every pending migration.
func MigrateUp(ctx context.Context, sqlDB *sql.DB, engine Engine) error {
	p, err := NewMigrator(sqlDB, engine)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// RunMigrate carries out `migrate up|down|status|version`, reporting to out.
func RunMigrate(ctx context.Context, p *goose.Provider, cmd string, out io.Writer) error {
	switch cmd {
	case "up":
		res, err := p.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(out, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(1e6))
		}
		if err == nil && len(res) == 0 {
			fmt.Fprintln(out, "no pending migrations")
		}
		return err
	case "down":
		r, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			fmt.Fprintln(out, "no migration to roll back")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rolled back %s\n", r.Source.Path)
		return nil
	case "status":
		list, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range list {
			applied := "pending"
			if s.State == goose.StateApplied {
				applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(out, "%-40s %s\n", s.Source.Path, applied)
		}
		return nil
	case "version":
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, v)
		return nil
	}
	return fmt.Errorf("unknown migrate command %q", cmd)
}

var (
	migrationName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	versionPrefix = regexp.MustCompile(`^(\d+)_`)
)

// CreateMigration writes the next sequential SQL migration file into dir and
// returns its path. Sequential numbers keep the order obvious in review.
func CreateMigration(dir, name string) (string, error) {
	if !migrationName.MatchString(name) {
		return "", errors.New("migration name must be 1-64 characters of a-z, 0-9 and _")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read %s (run it from the repository root): %w", dir, err)
	}
	var last int64
	for _, e := range entries {
		if m := versionPrefix.FindStringSubmatch(e.Name()); m != nil && strings.HasSuffix(e.Name(), ".sql") {
			if v, _ := strconv.ParseInt(m[1], 10, 64); v > last {
				last = v
			}
		}
	}
	path := filepath.Join(dir, fmt.Sprintf("%05d_%s.sql", last+1, name))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString("-- +goose Up\n\n-- +goose Down\n")
	return path, err
}
