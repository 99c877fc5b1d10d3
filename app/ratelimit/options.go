package ratelimit

import (
	"errors"
	"fmt"
	"time"

	"github.com/ulule/limiter/v3"
)

// Option configures a store made by NewRedisStore or NewMemoryStore.
type Option func(*options)

type options struct {
	name          string
	now           func() time.Time
	maxKeys       int
	sweepInterval time.Duration
	timeout       time.Duration
}

func newOptions(opts []Option) options {
	o := options{name: "default", now: time.Now, sweepInterval: time.Minute, timeout: 100 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Name sets the limiter name used in Redis keys (rl:<name>:{<key>}); one
// store serves one named limiter. The memory store has no shared namespace
// and ignores it.
func Name(name string) Option { return func(o *options) { o.name = name } }

// Clock sets the time source; tests pass a fake clock. Defaults to time.Now.
func Clock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// Timeout bounds each Redis call of a Redis store (REDIS_TIMEOUT; default
// 100ms): past it the limiter's outage rule applies. The memory store
// ignores it.
func Timeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// MaxKeys caps the number of keys a memory store holds (0, the default,
// means no cap). A decision that would add a key beyond it fails with
// ErrStoreFull rather than evicting someone else's history, which would let
// an attacker reset their own limit by flooding new keys.
func MaxKeys(n int) Option { return func(o *options) { o.maxKeys = n } }

// SweepInterval sets how often a memory store drops expired keys
// (default one minute).
func SweepInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.sweepInterval = d
		}
	}
}

// ErrStoreFull is returned by a memory store that reached its MaxKeys cap.
var ErrStoreFull = errors.New("ratelimit: memory store full")

func checkRate(rate limiter.Rate) error {
	if rate.Limit < 1 || rate.Period <= 0 {
		return fmt.Errorf("ratelimit: invalid rate %d per %s", rate.Limit, rate.Period)
	}
	return nil
}

// Decision is the state of one key after a decision, with the exact
// instant a slot frees: the headers are computed from it, so no rounding
// step can push a wait past the window.
type Decision struct {
	Limit     int64
	Remaining int64
	ResetAt   time.Time // when the oldest admitted request leaves the window; now+window when there is none
	Reached   bool      // the request was refused (for a peek: the next one would be)

	// ticket names the one entry a single admitted request added, for Release.
	ticket ticket
}

type ticket struct {
	member string // Redis: the sorted-set member
	at     int64  // memory: the entry's time
	ok     bool
}

// decision builds a Decision from the state of one key: n admitted entries
// in the window after the decision.
func decision(rate limiter.Rate, n int64, resetAt time.Time, reached bool) Decision {
	return Decision{Limit: rate.Limit, Remaining: max(rate.Limit-n, 0), ResetAt: resetAt, Reached: reached}
}

// context is d as ulule's limiter.Context, whose Reset is whole seconds,
// rounded up so a client that waits until then always finds a free slot.
func (d Decision) context() limiter.Context {
	s := d.ResetAt.Unix()
	if d.ResetAt.Nanosecond() > 0 {
		s++
	}
	return limiter.Context{Limit: d.Limit, Remaining: d.Remaining, Reset: s, Reached: d.Reached}
}
