package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"apisec/app/config"
	"apisec/db"
)

// Storage is the database and Redis a process runs on. serve (App) and the
// operator commands (Operator) both open it with openStorage, so the pool's
// timeouts, the migration rule and the Redis client are decided once.
type Storage struct {
	DB     *gorm.DB
	Engine db.Engine
	Redis  redis.UniversalClient // nil: in-process rate-limit stores, revocations through the database only
}

// storageUse is what differs between the processes that open storage.
type storageUse struct {
	maxOpen, maxIdle int
	// migrate applies pending migrations; without it a schema with pending
	// ones is refused, since only `migrate up` may apply them (production).
	migrate bool
	// redisOptional goes on without an unreachable Redis, logging it,
	// instead of failing.
	redisOptional bool
}

// openStorage opens the database (migrated or checked, as use says) and
// Redis when configured. What it opens is added to r, so r.Close closes it
// also when openStorage fails half-way.
func (r *resources) openStorage(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time, use storageUse) (Storage, error) {
	var s Storage
	gdb, engine, err := db.Open(ctx, cfg.DatabaseURL, db.Options{
		MaxOpenConns:    use.maxOpen,
		MaxIdleConns:    use.maxIdle,
		ConnMaxLifetime: 30 * time.Minute,
		// Idle connections are the first a network fault leaves dead.
		ConnMaxIdleTime: 5 * time.Minute,
		QueryTimeout:    cfg.DBQueryTimeout,
		Now:             now,
		Logger:          log,
	})
	if err != nil {
		return s, err
	}
	s.DB, s.Engine = gdb, engine
	sqlDB, _ := gdb.DB()
	r.closers = append(r.closers, sqlDB.Close)
	if err := migrate(ctx, cfg.DatabaseURL, sqlDB, engine, use.migrate); err != nil {
		return s, err
	}
	if cfg.RedisURL != "" {
		rdb, err := db.OpenRedis(ctx, cfg.RedisURL, cfg.RedisClusterAddrs)
		switch {
		case err != nil && use.redisOptional:
			log.Warn("Redis unreachable: revocations reach the running instances through the database", slog.String("error", err.Error()))
		case err != nil:
			return s, err
		default:
			s.Redis = rdb
			r.closers = append(r.closers, rdb.Close)
		}
	}
	return s, nil
}

// migrate applies pending migrations, or, where only `migrate up` may
// apply them (production), refuses to run against an older schema.
func migrate(ctx context.Context, url string, sqlDB *sql.DB, engine db.Engine, apply bool) error {
	if apply {
		// On a connection of its own: the pool's DB_QUERY_TIMEOUT (a
		// statement_timeout on PostgreSQL) is for requests, not for DDL.
		mdb, _, err := db.Open(ctx, url, db.Options{MaxOpenConns: 1, MaxIdleConns: 1})
		if err != nil {
			return err
		}
		msql, _ := mdb.DB()
		defer msql.Close()
		return db.MigrateUp(ctx, msql, engine)
	}
	p, err := db.NewMigrator(sqlDB, engine)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if pending {
		return errors.New("the database has pending migrations: run `migrate up` first")
	}
	return nil
}

// resources closes what a process opened.
type resources struct{ closers []func() error }

// Close releases everything opened, newest first.
func (r *resources) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}
