package ratelimit

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"

	"apisec/models"
)

// Rates are the parsed settings; a zero Rate (Limit 0) means off.
type Rates struct {
	Global        limiter.Rate            // RATE_LIMIT_GLOBAL, by client IP
	Login         limiter.Rate            // RATE_LIMIT_LOGIN, by client IP
	Authenticated limiter.Rate            // RATE_LIMIT_AUTHENTICATED, by user id
	Plans         map[string]limiter.Rate // PLAN_RATE_LIMITS, by user id
}

// StoreFactory returns the store for the named limiter: "global", "login",
// "authenticated" or "plan:<plan>". For Redis, pass the name on with the
// Name option: it is the <limiter> part of the keys.
type StoreFactory func(name string) (limiter.Store, error)

// Limiters are the contract's rate limiters. A nil limiter is off.
type Limiters struct {
	Global        *limiter.Limiter
	Login         *limiter.Limiter
	Authenticated *limiter.Limiter
	Plans         map[string]*limiter.Limiter // a listed plan set to off maps to nil

	// Clock is what the middleware measures Retry-After with; it should be
	// the stores' clock. Nil means time.Now.
	Clock func() time.Time

	// FailedOpen counts requests let through because a store failed.
	FailedOpen atomic.Int64

	closers []io.Closer
}

// NewLimiters builds a limiter for every rate that is not off, each on its
// own store from newStore; now (nil for time.Now) becomes Clock. Close the
// result to stop in-process stores.
func NewLimiters(rates Rates, newStore StoreFactory, now func() time.Time) (*Limiters, error) {
	l := &Limiters{Clock: now, Plans: make(map[string]*limiter.Limiter, len(rates.Plans))}
	build := func(name string, rate limiter.Rate) (*limiter.Limiter, error) {
		if rate.Limit == 0 {
			return nil, nil
		}
		if err := checkRate(rate); err != nil {
			return nil, fmt.Errorf("limiter %s: %w", name, err)
		}
		store, err := newStore(name)
		if err != nil {
			return nil, fmt.Errorf("limiter %s: store: %w", name, err)
		}
		if c, ok := store.(io.Closer); ok {
			l.closers = append(l.closers, c)
		}
		return limiter.New(store, rate), nil
	}
	var err error
	if l.Global, err = build("global", rates.Global); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	if l.Login, err = build("login", rates.Login); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	if l.Authenticated, err = build("authenticated", rates.Authenticated); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	for plan, rate := range rates.Plans {
		if l.Plans[plan], err = build("plan:"+plan, rate); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	return l, nil
}

// ForUser returns the limiter for a signed-in caller: nil for admins, the
// plan's limiter when the plan is listed (nil if that plan is off), else
// Authenticated.
func (l *Limiters) ForUser(role, plan string) *limiter.Limiter {
	if l == nil || role == models.RoleAdmin { // the contract exempts admins
		return nil
	}
	if pl, ok := l.Plans[plan]; ok {
		return pl
	}
	return l.Authenticated
}

// Now reads Clock.
func (l *Limiters) Now() time.Time {
	if l == nil || l.Clock == nil {
		return time.Now()
	}
	return l.Clock()
}

// Close releases the stores that need it (memory stores' sweepers).
func (l *Limiters) Close() error {
	var errs []error
	for _, c := range l.closers {
		errs = append(errs, c.Close())
	}
	l.closers = nil
	return errors.Join(errs...)
}
