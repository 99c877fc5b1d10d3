package db

import (
	"context"
	"database/sql"
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

// NewMigrator returns a goose provider over the embedded migrations. On
// PostgreSQL a session lock keeps two starting instances from migrating at once.
func NewMigrator(sqlDB *sql.DB, engine Engine) (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if engine == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, sqlDB, Migrations(), opts...)
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
