// Package retention deletes what the app no longer needs (spent and expired
// tokens, old login events, sessions past their end and the marks of ended
// ones, accounts never verified) in small batches, so a
// purge never holds many row locks for long and requests keep their latency
// while it runs. Several instances may purge at once: they share the rows.
package retention

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"apisec/app/revocation"
	"apisec/models"
)

// Defaults for Config's batching. A batch of 1000 rows took 34 ms on
// average on PostgreSQL on a loaded 2-core machine; the pause gives the
// connection pool and the disk back to requests between batches
// (bench/purge.sh).
const (
	DefaultBatchSize = 1000
	DefaultPause     = 10 * time.Millisecond
	maxBusyBatches   = 3 // consecutive lock timeouts before a table waits for the next run
)

// Config is what to keep and how to delete the rest.
type Config struct {
	LoginEventsRetention time.Duration // LOGIN_EVENTS_RETENTION
	UnverifiedAccountTTL time.Duration // UNVERIFIED_ACCOUNT_TTL
	SessionMaxAge        time.Duration // SESSION_MAX_AGE
	RevocationKeep       time.Duration // how long a session mark matters (revocation.Config.Keep)
	BatchSize            int           // rows per DELETE; 0: DefaultBatchSize
	Pause                time.Duration // between batches; 0: none
}

// Purger applies the retention rules to one database.
type Purger struct {
	db  *gorm.DB
	now func() time.Time
	log *slog.Logger
	cfg Config
}

// New returns a Purger; now must return UTC, as every stored time is. The
// session ages must be set: zero would delete every session.
func New(db *gorm.DB, now func() time.Time, log *slog.Logger, cfg Config) *Purger {
	if cfg.SessionMaxAge <= 0 || cfg.RevocationKeep <= 0 {
		panic("retention.New: SessionMaxAge and RevocationKeep are required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	return &Purger{db: db, now: now, log: log, cfg: cfg}
}

// Count is how many rows one purge deleted from one table.
type Count struct {
	Table   string
	Deleted int64
}

// Run applies every rule once, table by table, and returns a count per table,
// zeros included. On error it returns the tables done so far.
func (p *Purger) Run(ctx context.Context) ([]Count, error) {
	now := p.now()
	rules := []struct {
		r      models.Retention
		cutoff time.Time
	}{
		{models.ExpiredRefreshTokens, now},
		{models.SpentAccountTokens, now},
		{models.OldLoginEvents, now.Add(-p.cfg.LoginEventsRetention)},
		{models.EndedSessions, now.Add(-p.cfg.SessionMaxAge)},
		{models.OldRevocations, revocation.Expired(now, p.cfg.RevocationKeep)},
		{models.StaleUnverifiedUsers, now.Add(-p.cfg.UnverifiedAccountTTL)},
	}
	counts := make([]Count, 0, len(rules))
	for _, rule := range rules {
		n, err := p.purge(ctx, rule.r, rule.cutoff)
		if err != nil {
			return counts, err
		}
		counts = append(counts, Count{Table: rule.r.Table, Deleted: n})
	}
	return counts, nil
}

// purge deletes batch after batch until one comes back short: what is left
// then is locked by another purge, which will delete it, or new since.
func (p *Purger) purge(ctx context.Context, r models.Retention, cutoff time.Time) (int64, error) {
	var total int64
	for busy := 0; ; {
		n, err := models.DeleteRetained(p.db.WithContext(ctx), r, cutoff, p.cfg.BatchSize)
		switch {
		case errors.Is(err, models.ErrBusy):
			if busy++; busy == maxBusyBatches {
				p.log.WarnContext(ctx, "purge: rows stay locked by requests; the rest waits for the next purge", "table", r.Table)
				return total, nil
			}
		case err != nil:
			return total, err
		default:
			busy, total = 0, total+n
			if n < int64(p.cfg.BatchSize) {
				return total, nil
			}
		}
		if err := sleep(ctx, p.cfg.Pause); err != nil {
			return total, err
		}
	}
}

// Every runs the purge at once and then every interval until ctx ends,
// logging one line per table. A failed run is logged and the next one tried
// anyway: an outage must not stop retention for good.
func (p *Purger) Every(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		counts, err := p.Run(ctx)
		for _, c := range counts {
			p.log.InfoContext(ctx, "purged", "table", c.Table, "deleted", c.Deleted)
		}
		if err != nil && ctx.Err() == nil {
			p.log.ErrorContext(ctx, "purge failed", "error", err.Error(), "took", time.Since(start).String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
