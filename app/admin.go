package app

import (
	"context"
	"log/slog"
	"time"

	"apisec/app/accounts"
	"apisec/app/config"
	"apisec/app/passwords"
	"apisec/db"
)

// Admin is what the operator commands need: the database and the accounts
// service, without Redis, keys or mail, so `users create` works on a box
// that only reaches the database.
type Admin struct {
	Accounts *accounts.Service
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
	return &Admin{Accounts: accounts.NewOperator(gdb, hasher, log, now), close: sqlDB.Close}, nil
}

// Close closes the database.
func (a *Admin) Close() error { return a.close() }
