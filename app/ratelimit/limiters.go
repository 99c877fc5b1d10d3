package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"

	"apisec/app/errs"
	"apisec/app/metrics"
	"apisec/models"
)

// Store is an exact sliding-log store: ulule's limiter.Store, plus Take,
// which also tells the exact instant a slot frees. RedisStore and
// MemoryStore are the two.
type Store interface {
	limiter.Store
	// Take admits count requests for key at once, or none; count 0 peeks.
	Take(ctx context.Context, key string, count int64, rate limiter.Rate) (Decision, error)
	// Release gives back the slot a Take of one request took.
	Release(ctx context.Context, key string, d Decision) error
}

// Policy is one limiter of the API, described as data: adding a limiter is
// a Policy in Policies and a route line that applies it.
type Policy struct {
	Name    string // the <limiter> of its Redis keys, headers, logs and metrics
	Setting string // the variable holding its N/DURATION rate, or off
	Default string
	Key     KeyFunc // whose budget a request spends
	// Fallback, if set, is whose budget is spent instead once Key's is.
	Fallback KeyFunc
	// PerPlan lets PLAN_RATE_LIMITS override the rate by the caller's plan.
	PerPlan bool
	// FailClosed refuses requests (503) while the store is unreachable,
	// for limiters that must never silently switch off.
	FailClosed bool
	// Refuse is the error of a request refused for wait (at most the window).
	Refuse func(wait time.Duration) error
}

// The API's limiters.
var (
	Global = &Policy{Name: "global", Setting: "RATE_LIMIT_GLOBAL", Default: "100/1m",
		Key: ByClientIP, Refuse: TooManyRequests}
	Login = &Policy{Name: "login", Setting: "RATE_LIMIT_LOGIN", Default: "5/15m",
		Key: ByClientIP, FailClosed: true, Refuse: TooManyLoginAttempts}
	Authenticated = &Policy{Name: "authenticated", Setting: "RATE_LIMIT_AUTHENTICATED", Default: "300/1m",
		Key: ByUser, PerPlan: true, Refuse: TooManyRequests}
	// Account counts failed password checks per address across every IP. A
	// client with a valid device token spends its own budget first, so
	// strangers' guesses never lock the owner out.
	Account = &Policy{Name: "account", Setting: "RATE_LIMIT_ACCOUNT", Default: "10/15m",
		Key: ByDevice, Fallback: ByAccount, FailClosed: true, Refuse: TooManyLoginAttempts}
)

// Policies lists every limiter: config reads each one's setting and
// NewLimiters builds each one that is not off.
var Policies = []*Policy{Global, Login, Authenticated, Account}

// Subject is what a key function may key on.
type Subject struct {
	ClientIP string // as the router's trusted proxies resolve it
	UserID   string // empty unless signed in
	Role     models.Role
	Plan     string
	Account  string // the normalised e-mail address a password is checked for
	Device   string // the id of a valid device token for Account
}

// KeyFunc returns the key whose budget a request spends; ok false means the
// request is not limited (no caller, an exempt role).
type KeyFunc func(Subject) (key string, ok bool)

// ByClientIP keys on the client IP, IPv6 by its /64 (see ClientKey).
func ByClientIP(s Subject) (string, bool) { return ClientKey(s.ClientIP), true }

// ByUser keys on the signed-in user; exempt roles (admins) are not limited.
func ByUser(s Subject) (string, bool) {
	return s.UserID, s.UserID != "" && !s.Role.RateLimitExempt()
}

// ByAccount keys on the address a password is checked for.
func ByAccount(s Subject) (string, bool) { return s.Account, s.Account != "" }

// ByDevice keys on the caller's device token for the account.
func ByDevice(s Subject) (string, bool) { return "device:" + s.Device, s.Device != "" }

// TooManyRequests is the contract's plain 429.
func TooManyRequests(time.Duration) error { return errs.ErrTooManyRequests }

// TooManyLoginAttempts names the wait in whole minutes, rounded up.
func TooManyLoginAttempts(wait time.Duration) error {
	return errs.TooManyLoginAttempts(int64((wait + time.Minute - 1) / time.Minute))
}

// Rates are the parsed settings by policy name, plus PLAN_RATE_LIMITS; a
// missing or zero Rate is off.
type Rates struct {
	ByPolicy map[string]limiter.Rate
	Plans    map[string]limiter.Rate // a listed plan with a zero Rate is not limited
}

// StoreFactory returns the store for the named limiter ("global",
// "plan:<plan>", ...). For Redis, pass the name on with the Name option: it
// is the <limiter> part of the keys.
type StoreFactory func(name string) (Store, error)

// Limiters are the API's limiters that are on.
type Limiters struct {
	byPolicy map[*Policy]*Limiter
	// Clock is what waits are measured against; it should be the stores'
	// clock. Nil means time.Now.
	Clock func() time.Time
	// FailedOpen counts requests let through because a store failed.
	FailedOpen atomic.Int64
	// Metrics counts every decision (the middleware makes them); nil counts none.
	Metrics *metrics.Metrics
	closers []io.Closer
}

// Limiter applies one policy.
type Limiter struct {
	Policy *Policy
	base   *bucket            // nil: off, except for listed plans
	plans  map[string]*bucket // nil bucket: a plan that is off
	now    func() time.Time   // the Limiters' Clock
	// givesBack turns the refusal memo off: a slot given back, here or by
	// another instance, can end a refusal before its reset.
	givesBack atomic.Bool
}

type bucket struct {
	name  string
	rate  limiter.Rate
	store Store
	memo  *refusals
}

// NewLimiters builds a limiter for every policy whose rate is on, each on
// its own store from newStore; now (nil for time.Now) becomes Clock. Close
// the result to stop in-process stores.
func NewLimiters(rates Rates, newStore StoreFactory, now func() time.Time) (_ *Limiters, err error) {
	ls := &Limiters{byPolicy: make(map[*Policy]*Limiter), Clock: now}
	defer func() {
		if err != nil {
			err = errors.Join(err, ls.Close())
		}
	}()
	build := func(name string, rate limiter.Rate) (*bucket, error) {
		if err := checkRate(rate); err != nil {
			return nil, fmt.Errorf("limiter %s: %w", name, err)
		}
		store, err := newStore(name)
		if err != nil {
			return nil, fmt.Errorf("limiter %s: store: %w", name, err)
		}
		if c, ok := store.(io.Closer); ok {
			ls.closers = append(ls.closers, c)
		}
		return &bucket{name: name, rate: rate, store: store, memo: newRefusals()}, nil
	}
	for _, p := range Policies {
		l := &Limiter{Policy: p, now: ls.Now}
		if rate := rates.ByPolicy[p.Name]; rate.Limit != 0 {
			if l.base, err = build(p.Name, rate); err != nil {
				return nil, err
			}
		}
		if p.PerPlan {
			// A listed plan keeps its own rate even with the policy's off.
			l.plans = make(map[string]*bucket, len(rates.Plans))
			for plan, rate := range rates.Plans {
				if rate.Limit == 0 {
					l.plans[plan] = nil
				} else if l.plans[plan], err = build("plan:"+plan, rate); err != nil {
					return nil, err
				}
			}
		}
		if l.base != nil || len(l.plans) > 0 {
			ls.byPolicy[p] = l
		}
	}
	return ls, nil
}

// Of returns p's limiter, or nil when p is off.
func (ls *Limiters) Of(p *Policy) *Limiter {
	if ls == nil {
		return nil
	}
	return ls.byPolicy[p]
}

// Now reads Clock.
func (ls *Limiters) Now() time.Time {
	if ls == nil || ls.Clock == nil {
		return time.Now()
	}
	return ls.Clock()
}

// Close releases the stores that need it (memory stores' sweepers).
func (ls *Limiters) Close() error {
	var errs []error
	for _, c := range ls.closers {
		errs = append(errs, c.Close())
	}
	ls.closers = nil
	return errors.Join(errs...)
}

// Result is one decision of one limiter, with what the answer needs.
type Result struct {
	Decision
	Name   string        // the bucket decided on: the policy's name, or plan:<plan>
	Window time.Duration // its window
	key    string
	store  Store
	l      *Limiter
}

// Take spends count slots (0: peek) of s's budget, or of its Fallback's once
// that is spent. ok is false when s is not limited by this policy.
func (l *Limiter) Take(ctx context.Context, s Subject, count int64) (res Result, ok bool, err error) {
	res, ok, err = l.take(ctx, l.Policy.Key, s, count)
	if l.Policy.Fallback != nil && (!ok || err == nil && res.Reached) {
		return l.take(ctx, l.Policy.Fallback, s, count)
	}
	return res, ok, err
}

func (l *Limiter) take(ctx context.Context, by KeyFunc, s Subject, count int64) (Result, bool, error) {
	key, ok := by(s)
	if !ok {
		return Result{}, false, nil
	}
	b := l.base
	if pb, listed := l.plans[s.Plan]; listed {
		b = pb
	}
	if b == nil {
		return Result{}, false, nil
	}
	d, err := l.decide(ctx, b, key, count)
	return Result{Decision: d, Name: b.name, Window: b.rate.Period, key: key, store: b.store, l: l}, true, err
}

// decide asks b's store, unless b's memo knows the key is refused: a full
// window stays full until its reset (see refusals), so the answer is the
// store's own.
func (l *Limiter) decide(ctx context.Context, b *bucket, key string, count int64) (Decision, error) {
	if l.givesBack.Load() {
		return b.store.Take(ctx, key, count, b.rate)
	}
	now := l.now()
	if t, ok := b.memo.refused(key, now); ok {
		return Decision{Limit: b.rate.Limit, ResetAt: t, Reached: true}, nil
	}
	d, err := b.store.Take(ctx, key, count, b.rate)
	if err == nil && d.Remaining == 0 {
		b.memo.remember(key, d.ResetAt, now)
	}
	return d, err
}

// GivesBack declares that l's slots may be given back (Result.Release), as
// for requests that count only when they fail. Call it when routes are set
// up, on every instance alike: it turns l's refusal memo off.
func (l *Limiter) GivesBack() { l.givesBack.Store(true) }

// Release gives back the slot res took: for requests that count only when
// they fail.
func (r Result) Release(ctx context.Context) error {
	if r.store == nil {
		return nil
	}
	r.l.GivesBack() // in case the routes did not say so
	return r.store.Release(ctx, r.key, r.Decision)
}

// Wait is the time from now until a slot frees, never more than the window
// (a store's clock a little ahead of now cannot push it past).
func (r Result) Wait(now time.Time) time.Duration {
	return min(max(r.ResetAt.Sub(now), 0), r.Window)
}

// WaitSeconds is Wait in whole seconds, rounded up: a client that waits that
// long finds a slot. For a whole-second window it never exceeds the window.
func (r Result) WaitSeconds(now time.Time) int64 {
	return int64((r.Wait(now) + time.Second - 1) / time.Second)
}

// ResetUnix is the X-RateLimit-Reset value: the Unix second in which the
// next slot frees. It is rounded down, so that it minus now never exceeds
// the window; WaitSeconds is the safe wait.
func (r Result) ResetUnix(now time.Time) int64 {
	return now.Add(r.Wait(now)).Unix()
}
