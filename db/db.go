// Package db opens the storage the app runs on — PostgreSQL or an embedded
// SQLite file through GORM, Redis — and runs the embedded goose migrations.
package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Engine names the SQL engine behind a URL.
type Engine string

// The engines the app runs on.
const (
	Postgres Engine = "postgres"
	SQLite   Engine = "sqlite"
)

// Options tune the connection pool.
type Options struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// QueryTimeout bounds every statement that has no earlier deadline, and
	// every Transaction from BEGIN to COMMIT; on PostgreSQL it is also the
	// connect, statement and idle-in-transaction timeout, so the server lets
	// go of what a client that gave up was doing. 0: no bound.
	QueryTimeout time.Duration
	Now          func() time.Time // GORM's clock for autoCreateTime fields
	Logger       *slog.Logger     // slow and failed queries; nil to stay silent
}

// EngineOf tells which engine a DATABASE_URL names.
func EngineOf(url string) (Engine, error) {
	switch {
	case url == "":
		return "", errors.New("is not set")
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Postgres, nil
	case strings.HasPrefix(url, "sqlite:"):
		return SQLite, nil
	}
	return "", errors.New("must start with postgres://, postgresql:// or sqlite:")
}

// Open connects to url (postgres://… or sqlite:PATH) and checks the
// connection, so a wrong URL fails here with one clear line.
func Open(ctx context.Context, url string, opt Options) (*gorm.DB, Engine, error) {
	engine, err := EngineOf(url)
	if err != nil {
		return nil, "", fmt.Errorf("DATABASE_URL %w", err) // "DATABASE_URL is not set"
	}
	var dialector gorm.Dialector
	switch engine {
	case Postgres:
		cfg, err := pgxConfig(url, opt.QueryTimeout)
		if err != nil {
			return nil, "", fmt.Errorf("DATABASE_URL: %w", redact(err, url))
		}
		dialector = postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)})
	case SQLite:
		dsn, err := sqliteDSN(strings.TrimPrefix(url, "sqlite:"), opt.QueryTimeout)
		if err != nil {
			return nil, "", err
		}
		dialector = sqlite.Open(dsn)
	}
	gdb, err := gorm.Open(dialector, &gorm.Config{
		// Every write that needs a transaction opens one explicitly.
		SkipDefaultTransaction: true,
		// No PrepareStmt: pgx already prepares and caches each statement
		// per connection, and GORM's prepared statements inside a
		// transaction are deallocated at COMMIT by a round trip that pgx
		// bounds only by its own 5 s, not by DB_QUERY_TIMEOUT.
		NowFunc:               utcNow(opt.Now),
		Logger:                newGormLogger(opt.Logger),
		TranslateError:        true,
		DefaultContextTimeout: opt.QueryTimeout,
	})
	if err != nil {
		return nil, "", fmt.Errorf("open %s database: %w", engine, redact(err, url))
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, "", err
	}
	maxOpen, maxIdle := opt.MaxOpenConns, opt.MaxIdleConns
	if engine == SQLite {
		// SQLite has one writer; a single connection turns lock contention
		// into an orderly queue instead of SQLITE_BUSY errors.
		maxOpen, maxIdle = 1, 1
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	sqlDB.SetConnMaxLifetime(opt.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(opt.ConnMaxIdleTime)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, "", fmt.Errorf("connect to %s database: %w", engine, redact(err, url))
	}
	return gdb, engine, nil
}

// Transaction runs fn in one transaction on ctx, bounded as a whole by the
// QueryTimeout gdb was opened with: a black-holed server cannot hold a
// request, nor a row lock, for longer.
func Transaction(ctx context.Context, gdb *gorm.DB, fn func(tx *gorm.DB) error) error {
	if d := gdb.DefaultContextTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err := gdb.WithContext(ctx).Transaction(fn)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// database/sql rolls back a transaction whose context ends, and the
		// statements after that say only "transaction has already been
		// committed or rolled back": keep the reason.
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// pgxConfig parses a postgres:// URL and bounds, unless the URL sets them,
// how long connecting, a statement, and a transaction left idle may take.
// The server-side limits matter after a network fault: the server may never
// hear that the client gave up, and would keep the query running and its
// row locks held.
func pgxConfig(url string, timeout time.Duration) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil || timeout <= 0 {
		return cfg, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = timeout
	}
	ms := strconv.FormatInt(timeout.Milliseconds(), 10)
	for _, p := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		if _, set := cfg.RuntimeParams[p]; !set {
			cfg.RuntimeParams[p] = ms
		}
	}
	return cfg, nil
}

// sqliteDSN creates the file's folder and turns on what the schema relies on:
// foreign keys (cascades) and a busy timeout, which is how long a write
// waits for another process's lock (SQLITE_BUSY after it).
func sqliteDSN(path string, busyTimeout time.Duration) (string, error) {
	if path == "" {
		return "", errors.New("DATABASE_URL sqlite: needs a file path, e.g. sqlite:data/app.db")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create database folder: %w", err)
		}
	}
	if busyTimeout <= 0 {
		busyTimeout = 10 * time.Second
	}
	return fmt.Sprintf("%s?_pragma=foreign_keys(1)&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_txlock=immediate",
		path, busyTimeout.Milliseconds()), nil
}

func utcNow(now func() time.Time) func() time.Time {
	if now == nil {
		now = time.Now
	}
	return func() time.Time { return now().UTC() }
}

// redact keeps a password in the URL out of error messages and logs.
func redact(err error, url string) error {
	if i := strings.Index(url, "@"); i > 0 {
		if j := strings.Index(url, "://"); j > 0 && j < i {
			return errors.New(strings.ReplaceAll(err.Error(), url[j+3:i], "***"))
		}
	}
	return err
}

// newGormLogger logs failed queries (never their values: they may hold hashes)
// and slow ones; record-not-found is an answer, not an error.
func newGormLogger(l *slog.Logger) logger.Interface {
	if l == nil {
		return logger.Discard
	}
	return quietLogger{logger.NewSlogLogger(l, logger.Config{
		SlowThreshold:             slowQuery,
		IgnoreRecordNotFoundError: true,
		LogLevel:                  logger.Warn,
	})}
}

// slowQuery is the duration past which a query is logged.
const slowQuery = 200 * time.Millisecond

// quietLogger skips GORM's Trace for queries that neither failed nor were
// slow: GORM's logger renders the statement and its fields before deciding
// not to log it, a few per cent of a simple read's CPU.
type quietLogger struct{ logger.Interface }

func (q quietLogger) LogMode(level logger.LogLevel) logger.Interface {
	return quietLogger{q.Interface.LogMode(level)}
}

// ParamsFilter keeps a logged statement's values out of the log.
func (quietLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (q quietLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if (err == nil || errors.Is(err, gorm.ErrRecordNotFound)) && time.Since(begin) <= slowQuery {
		return
	}
	q.Interface.Trace(ctx, begin, fc, err)
}
