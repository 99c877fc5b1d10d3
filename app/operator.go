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
	"apisec/app/revocation"
)

// Operator is what the operator commands need: the storage, the accounts
// operator and the purge, without keys or mail, so `users create` and
// `purge` work on a box that only reaches the database. Redis, when
// configured and reachable, carries the revocations of `users set-role` and
// `users delete` to the running instances at once; without it they read
// them from the database within revocation.DefaultPoll.
type Operator struct {
	Storage
	Accounts *accounts.Operator
	Purger   *retention.Purger
	resources
}

// NewOperator opens the storage as serve does (migrating it outside
// production, refusing pending migrations in it) and builds the operator's
// services.
func NewOperator(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Operator, err error) {
	o := &Operator{}
	defer func() {
		if err != nil {
			o.Close()
		}
	}()
	now := func() time.Time { return time.Now().UTC() }
	o.Storage, err = o.openStorage(ctx, cfg, log, now, storageUse{
		maxOpen: 2, maxIdle: 1, migrate: !cfg.Production(), redisOptional: true,
	})
	if err != nil {
		return nil, err
	}
	hasher, err := passwords.NewHasher(cfg.BcryptCost, 1, time.Minute)
	if err != nil {
		return nil, err
	}
	marks := revocation.New(revocation.Config{DB: o.DB, Redis: o.Redis, Now: now, Keep: revocationKeep(cfg), Log: log})
	o.Accounts = accounts.NewOperator(o.DB, hasher, log, now, cfg.AccessTokenTTL, marks)
	o.Purger = newPurger(o.DB, now, log, cfg)
	return o, nil
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
