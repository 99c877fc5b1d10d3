package app

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"apisec/app/accounts"
	"apisec/app/config"
	"apisec/app/passwords"
	"apisec/app/retention"
	"apisec/db"
)

// Admin is what the operator commands need: the database, the accounts
// service and the purge, without Redis, keys or mail, so `users create` and
// `purge` work on a box that only reaches the database.
type Admin struct {
	Accounts *accounts.Service
	Purger   *retention.Purger
	close    func() error
}

// NewAdmin opens the database (migrating it outside production, as serve
// does) and builds the accounts service for operator commands.
func NewAdmin(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Admin, error) {
	now := func() time.Time { return time.Now().UTC() }
	gdb, engine, err := db.Open(ctx, cfg.DatabaseURL, db.Options{MaxOpenConns: 2, MaxIdleConns: 1, QueryTimeout: cfg.DBQueryTimeout, Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	sqlDB, _ := gdb.DB()
	if !cfg.Production() {
		if err := db.MigrateUp(ctx, sqlDB, engine); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	hasher, err := passwords.NewHasher(cfg.BcryptCost, 1, time.Minute)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	return &Admin{
		Accounts: accounts.NewOperator(gdb, hasher, log, now),
		Purger:   newPurger(gdb, now, log, cfg),
		close:    sqlDB.Close,
	}, nil
}

// newPurger applies the configured retention with the default batching.
func newPurger(gdb *gorm.DB, now func() time.Time, log *slog.Logger, cfg *config.Config) *retention.Purger {
	return retention.New(gdb, now, log, retention.Config{
		LoginEventsRetention: cfg.LoginEventsRetention,
		UnverifiedAccountTTL: cfg.UnverifiedAccountTTL,
		Pause:                retention.DefaultPause,
	})
}

// Close closes the database.
func (a *Admin) Close() error { return a.close() }
