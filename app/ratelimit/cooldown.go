package ratelimit

import (
	"context"
	"io"
	"time"

	"github.com/ulule/limiter/v3"
)

// Cooldown admits one event per key per period (MAIL_COOLDOWN: one e-mail
// of a kind per address), on a store like the limiters', so instances
// sharing Redis share it.
type Cooldown struct {
	store Store
	rate  limiter.Rate
}

// NewCooldown returns a cooldown of period on store.
func NewCooldown(store Store, period time.Duration) *Cooldown {
	return &Cooldown{store: store, rate: limiter.Rate{Limit: 1, Period: period}}
}

// Admit reports whether key's last admitted event is at least a period ago,
// and if so records this one.
func (c *Cooldown) Admit(ctx context.Context, key string) (bool, error) {
	d, err := c.store.Take(ctx, key, 1, c.rate)
	return err == nil && !d.Reached, err
}

// Close stops an in-process store.
func (c *Cooldown) Close() error {
	if cl, ok := c.store.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
