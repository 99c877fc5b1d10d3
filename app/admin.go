package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"apisec/app/accounts"
	"apisec/app/config"
	"apisec/app/passwords"
	"apisec/app/retention"
	"apisec/app/revocation"
	"apisec/db"
)

// Admin is what the operator commands need: the database, the accounts
// service and the purge, without keys or mail, so `users create` and
// `purge` work on a box that only reaches the database. Redis, when
// configured and reachable, carries the revocations of `users set-role` and
// `users delete` to the running instances at once; without it they read
// them from the database within revocation.DefaultPoll.
type Admin struct {
	Accounts *accounts.Service
	Purger   *retention.Purger
	closers  []func() error
}

// NewAdmin opens the database (migrating it outside production, as serve
// does) and builds the accounts service for operator commands.
func NewAdmin(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Admin, err error) {
	a := &Admin{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	now := func() time.Time { return time.Now().UTC() }
	gdb, engine, err := db.Open(ctx, cfg.DatabaseURL, db.Options{MaxOpenConns: 2, MaxIdleConns: 1, QueryTimeout: cfg.DBQueryTimeout, Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	sqlDB, _ := gdb.DB()
	a.closers = append(a.closers, sqlDB.Close)
	if !cfg.Production() {
		if err := db.MigrateUp(ctx, sqlDB, engine); err != nil {
			return nil, err
		}
	}
	hasher, err := passwords.NewHasher(cfg.BcryptCost, 1, time.Minute)
	if err != nil {
		return nil, err
	}
	rc := revocation.Config{DB: gdb, Now: now, Keep: revocationKeep(cfg), Log: log}
	if cfg.RedisURL != "" {
		rdb, err := db.OpenRedis(ctx, cfg.RedisURL, cfg.RedisClusterAddrs)
		if err != nil {
			log.Warn("Redis unreachable: revocations reach the running instances through the database", slog.String("error", err.Error()))
		} else {
			rc.Redis = rdb
			a.closers = append(a.closers, rdb.Close)
		}
	}
	a.Accounts = accounts.NewOperator(gdb, hasher, log, now, cfg.AccessTokenTTL, revocation.New(rc))
	a.Purger = newPurger(gdb, now, log, cfg)
	return a, nil
}

// newPurger applies the configured retention with the default batching.
func newPurger(gdb *gorm.DB, now func() time.Time, log *slog.Logger, cfg *config.Config) *retention.Purger {
	return retention.New(gdb, now, log, retention.Config{
		LoginEventsRetention: cfg.LoginEventsRetention,
		UnverifiedAccountTTL: cfg.UnverifiedAccountTTL,
		SessionMaxAge:        cfg.SessionMaxAge,
		RevocationKeep:       revocationKeep(cfg),
		Pause:                retention.DefaultPause,
	})
}

// Close closes the database and Redis.
func (a *Admin) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
