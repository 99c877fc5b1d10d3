// Package app wires the application: it owns the database, Redis, clock,
// logger and the services built on them. Handlers and the CLI reach every
// dependency through an *App; nothing is global.
package app

import (
	"context"
	"crypto/rsa"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"apisec/app/accounts"
	"apisec/app/analytics"
	"apisec/app/config"
	"apisec/app/mail"
	"apisec/app/metrics"
	"apisec/app/passwords"
	"apisec/app/projects"
	"apisec/app/ratelimit"
	"apisec/app/retention"
	"apisec/app/revocation"
	"apisec/app/tokens"
	"apisec/db"
)

// App holds the running application's dependencies and services.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	Now    func() time.Time // UTC; tests inject a fake

	DB     *gorm.DB
	Engine db.Engine
	Redis  redis.UniversalClient // nil: in-process rate-limit stores

	Tokens      *tokens.Service
	Revocations *revocation.Marks // sessions ended early, checked on every token
	Hasher      *passwords.Hasher
	Limits      *ratelimit.Limiters
	Mail        *mail.Async // every e-mail goes through it; Close waits for those under way
	Accounts    *accounts.Service
	Projects    *projects.Service
	Analytics   *analytics.Service
	Purger      *retention.Purger
	Metrics     *metrics.Metrics // nil unless METRICS_ADDR is set

	monotonic func() time.Time // Now before UTC(), which strips the monotonic reading
	rlPrefix  string
	closers   []func() error
}

// Options change how New builds the App; the zero value is production wiring.
type Options struct {
	Now     func() time.Time // default time.Now
	Mailer  mail.Mailer      // default: SMTP when SMTP_HOST is set, else the log
	Migrate bool             // apply pending migrations after connecting
	// RateLimitPrefix is put before each limiter's name in its Redis keys,
	// so parallel tests sharing one Redis do not count each other.
	RateLimitPrefix string
	// RevocationPoll is how often revocations are re-read from the
	// database (revocation.DefaultPoll when zero). Tests sharing one Redis
	// share its channel too: marks name random session ids, so one test's
	// never touch another's.
	RevocationPoll time.Duration
}

// New connects to storage and builds the services. On error everything
// already opened is closed.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opt Options) (_ *App, err error) {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	a := &App{Config: cfg, Log: log, Now: func() time.Time { return now().UTC() }, monotonic: now}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.openStorage(ctx, opt.Migrate); err != nil {
		return nil, err
	}
	a.watch()
	a.rlPrefix = opt.RateLimitPrefix
	a.Revocations = revocation.New(revocation.Config{
		DB: a.DB, Redis: a.Redis, Now: a.Now,
		Keep: revocationKeep(cfg), Poll: opt.RevocationPoll, Log: a.Log,
	})
	if err := a.buildServices(opt.Mailer); err != nil {
		return nil, err
	}
	if err := a.Revocations.Start(ctx); err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	a.closers = append(a.closers, a.Revocations.Close)
	return a, nil
}

func (a *App) openStorage(ctx context.Context, migrate bool) error {
	cfg := a.Config
	gdb, engine, err := db.Open(ctx, cfg.DatabaseURL, db.Options{
		MaxOpenConns:    cfg.DBMaxOpenConns,
		MaxIdleConns:    cfg.DBMaxIdleConns,
		ConnMaxLifetime: 30 * time.Minute,
		// Idle connections are the first a network fault leaves dead.
		ConnMaxIdleTime: 5 * time.Minute,
		QueryTimeout:    cfg.DBQueryTimeout,
		Now:             a.Now,
		Logger:          a.Log,
	})
	if err != nil {
		return err
	}
	a.DB, a.Engine = gdb, engine
	sqlDB, _ := gdb.DB()
	a.closers = append(a.closers, sqlDB.Close)
	if err := a.migrate(ctx, sqlDB, migrate); err != nil {
		return err
	}
	if cfg.RedisURL != "" {
		rdb, err := db.OpenRedis(ctx, cfg.RedisURL, cfg.RedisClusterAddrs)
		if err != nil {
			return err
		}
		a.Redis = rdb
		a.closers = append(a.closers, rdb.Close)
	}
	return nil
}

// migrate applies pending migrations, or, where only `migrate up` may
// apply them (production), refuses to run against an older schema.
func (a *App) migrate(ctx context.Context, sqlDB *sql.DB, apply bool) error {
	if apply {
		// On a connection of its own: the pool's DB_QUERY_TIMEOUT (a
		// statement_timeout on PostgreSQL) is for requests, not for DDL.
		mdb, _, err := db.Open(ctx, a.Config.DatabaseURL, db.Options{MaxOpenConns: 1, MaxIdleConns: 1})
		if err != nil {
			return err
		}
		msql, _ := mdb.DB()
		defer msql.Close()
		return db.MigrateUp(ctx, msql, a.Engine)
	}
	p, err := db.NewMigrator(sqlDB, a.Engine)
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

func (a *App) buildServices(mailer mail.Mailer) error {
	cfg := a.Config
	priv, err := a.loadKeys()
	if err != nil {
		return err
	}
	previous, err := tokens.LoadPublicKeys(cfg.PreviousPublicKeyPaths)
	if err != nil {
		return fmt.Errorf("JWT_PREVIOUS_PUBLIC_KEY_PATHS: %w", err)
	}
	if a.Tokens, err = tokens.New(tokens.Config{
		PrivateKey: priv, PreviousKeys: previous,
		Issuer: cfg.Issuer, Audience: cfg.Audience,
		TTL: cfg.AccessTokenTTL, ClockSkew: cfg.ClockSkew, Clock: a.Now,
		Revocations: a.Revocations,
	}); err != nil {
		return err
	}
	successors, err := tokens.NewSuccessorKey(priv)
	if err != nil {
		return err
	}
	dummyKey, err := tokens.DeriveKey(priv, "apisec dummy bcrypt cost v1")
	if err != nil {
		return err
	}
	if a.Hasher, err = passwords.NewHasher(cfg.BcryptCost, cfg.BcryptConcurrency, cfg.BcryptWait); err != nil {
		return fmt.Errorf("BCRYPT_COST: %w", err)
	}
	if mailer == nil {
		if mailer, err = a.newMailer(); err != nil {
			return err
		}
	}
	a.Mail = mail.NewAsync(mailer, a.Log, 0)
	a.Mail.Observe = a.Metrics.Mail
	a.closers = append(a.closers, a.Mail.Close)
	if a.Limits, err = ratelimit.NewLimiters(cfg.Rates, a.newStore, a.Now); err != nil {
		return err
	}
	a.closers = append(a.closers, a.Limits.Close)
	a.Limits.Metrics = a.Metrics
	var cooldown accounts.Cooldown
	if cfg.MailCooldown > 0 {
		store, err := a.newStore("mail")
		if err != nil {
			return err
		}
		c := ratelimit.NewCooldown(store, cfg.MailCooldown)
		a.closers = append(a.closers, c.Close)
		cooldown = c
	}
	a.Accounts = accounts.New(accounts.Deps{
		DB: a.DB, Tokens: a.Tokens, Successors: successors, Hasher: a.Hasher, Mailer: a.Mail,
		Log: a.Log, Now: a.Now, BaseURL: cfg.BaseURL,
		RefreshTTL: cfg.RefreshTokenTTL, ReuseGrace: cfg.RefreshReuseGrace, SessionMaxAge: cfg.SessionMaxAge,
		DeviceTTL: cfg.DeviceTokenTTL, Cooldown: cooldown, DummyKey: dummyKey,
		ExposeTokens: cfg.ExposesTokens(), Revocations: a.Revocations, Metrics: a.Metrics,
	})
	// Make the dummy hashes now, not in the first unknown-e-mail login, whose
	// extra bcrypt run would otherwise stand out in its timing.
	a.Accounts.StartWarmUp()
	a.closers = append(a.closers, func() error { a.Accounts.Close(); return nil })
	a.Projects = projects.New(a.DB, a.Now)
	a.Analytics = analytics.New(a.DB, a.Now)
	a.Purger = newPurger(a.DB, a.Now, a.Log, cfg)
	if cfg.ExposesTokens() {
		a.Log.Warn("APP_ENV is not production: verification and reset tokens are returned in responses")
	}
	return nil
}

// watch makes the metrics, on a registry of this App's own, when
// METRICS_ADDR asks for them, with the database's and Redis's pool
// statistics.
func (a *App) watch() {
	if a.Config.MetricsAddr == "" {
		return
	}
	names := make([]string, len(ratelimit.Policies))
	for i, p := range ratelimit.Policies {
		names[i] = p.Name
	}
	a.Metrics = metrics.New(prometheus.NewRegistry(), names...)
	if sqlDB, err := a.DB.DB(); err == nil {
		a.Metrics.WatchDB(sqlDB, string(a.Engine))
	}
	if a.Redis != nil {
		a.Metrics.WatchRedis(a.Redis)
	}
}

// revocationKeep is how long a session's mark matters: the longest an
// access token issued before it can live, with a minute for the refresh
// that committed just before the mark and signed just after.
func revocationKeep(cfg *config.Config) time.Duration {
	return cfg.AccessTokenTTL + cfg.ClockSkew + time.Minute
}

// loadKeys reads the signing key; outside production a missing pair is
// generated once, so a fresh clone starts with no setup.
func (a *App) loadKeys() (*rsa.PrivateKey, error) {
	cfg := a.Config
	if !cfg.Production() {
		generated, err := tokens.EnsureDevKeys(cfg.PrivateKeyPath, cfg.PublicKeyPath)
		if err != nil {
			return nil, err
		}
		if generated {
			a.Log.Warn("generated a development JWT key pair; never use it in production",
				"private", cfg.PrivateKeyPath, "public", cfg.PublicKeyPath)
		}
	}
	return tokens.LoadKeyPair(cfg.PrivateKeyPath, cfg.PublicKeyPath)
}

func (a *App) newMailer() (mail.Mailer, error) {
	s := a.Config.SMTP
	switch {
	case s.Host == "" && a.Config.Production():
		a.Log.Warn("SMTP_HOST is not set: verification and reset e-mails will not be sent")
		return mail.NewRedactedLog(a.Log), nil
	case s.Host == "":
		return mail.NewLog(a.Log), nil
	}
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: s.From})
	if err != nil {
		return nil, fmt.Errorf("SMTP_*: %w", err)
	}
	return m, nil
}

// newStore puts each limiter on Redis when configured, else in process.
func (a *App) newStore(name string) (ratelimit.Store, error) {
	if a.Redis != nil {
		return ratelimit.NewRedisStore(a.Redis, ratelimit.Name(a.rlPrefix+name), ratelimit.Clock(a.Now),
			ratelimit.Timeout(a.Config.RedisTimeout)), nil
	}
	// The in-process store measures windows on the monotonic clock, so a
	// wall-clock step cannot free them early.
	return ratelimit.NewMemoryStore(ratelimit.Name(name), ratelimit.Clock(a.monotonic), ratelimit.MaxKeys(1_000_000)), nil
}

// Ready reports whether the database and Redis answer.
func (a *App) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	sqlDB, err := a.DB.DB()
	if err != nil {
		return err
	}
	dbCtx, dbCancel := context.WithTimeout(ctx, a.Config.DBQueryTimeout)
	defer dbCancel()
	if err := sqlDB.PingContext(dbCtx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if a.Redis != nil {
		if err := a.Redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	return nil
}

// Close releases everything New opened, newest first.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
