package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"github.com/ulule/limiter/v3"
)

// slidingLog makes one decision atomically in one round trip. The key is a
// sorted set of admitted requests scored by time in microseconds.
//
// KEYS[1] the key; ARGV: now (µs), cutoff (now-window: entries at or before
// it have left the window), limit, count (0 = peek), member (unique per
// call), ttl (ms). Times stay strings so no float formatting touches them.
// Returns {admitted 0/1, entries in the window after the decision, oldest
// entry's time (µs), or now when there is none}.
//
// Refused requests add nothing, so a client hammering a full window does not
// push its own reset further away. The set never holds more than limit
// members: expired ones are removed first, and ZREMRANGEBYRANK drops the
// oldest surplus after a limit is lowered (the newest N are all an N limit
// needs). ZREMRANGEBYSCORE deletes the key itself once it is empty.
var slidingLog = redis.NewScript(`
local key = KEYS[1]
local limit = tonumber(ARGV[3])
local count = tonumber(ARGV[4])

redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
local n = redis.call('ZCARD', key)
if n > limit then
	redis.call('ZREMRANGEBYRANK', key, 0, n - limit - 1)
	n = limit
end

local admitted = 0
if count > 0 and n + count <= limit then
	if count == 1 then
		redis.call('ZADD', key, ARGV[1], ARGV[5])
	else
		for i = 1, count do
			redis.call('ZADD', key, ARGV[1], ARGV[5] .. '.' .. i)
		end
	end
	redis.call('PEXPIRE', key, ARGV[6])
	n = n + count
	admitted = 1
end

local oldest = tonumber(ARGV[1])
if n > 0 then
	oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
end
return {admitted, n, oldest}
`)

// RedisStore is a sliding-log store on Redis, shared by every API process.
// Keys are rl:<name>:{<key>}; the braces are a Redis Cluster hash tag, so
// one key's decisions always land on one node.
//
// Time comes from the application's clock, passed to the script as an
// argument, not from Redis TIME: tests can then drive it with a fake clock,
// and the script stays deterministic for replication. The cost is that the
// API servers' clocks must be NTP-synced: a server whose clock runs δ
// behind sees the other servers' entries expire δ early, so it can admit
// the few extra requests that fall in that δ.
//
// A Redis that does not answer costs a call at most the store's Timeout;
// after breakerTrips failures in a row the breaker opens and calls fail at
// once (the outage rule applies without waiting) until a probe, every
// breakerProbe, finds Redis answering again.
type RedisStore struct {
	client  redis.UniversalClient
	prefix  string
	now     func() time.Time
	timeout time.Duration
	breaker *gobreaker.CircuitBreaker[struct{}]
	batch   *batcher      // decisions, pipelined
	id      string        // random per store: members stay unique across processes
	seq     atomic.Uint64 // and within this one
}

// NewRedisStore returns a store for one named limiter. Options: Name
// (required in practice: the default is "default"), Clock.
func NewRedisStore(client redis.UniversalClient, opts ...Option) *RedisStore {
	o := newOptions(opts)
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return &RedisStore{
		client:  client,
		prefix:  "rl:" + o.name + ":{",
		now:     o.now,
		timeout: o.timeout,
		breaker: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        o.name,
			Timeout:     breakerProbe,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerTrips },
			// A client that went away says nothing about Redis.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		}),
		batch: &batcher{client: client, timeout: o.timeout},
		id:    base64.RawURLEncoding.EncodeToString(b[:]),
	}
}

// The breaker's settings: a few failures in a row open it; a probe a
// second later closes it again if Redis answers, so limits are back within
// about a second of Redis.
const (
	breakerTrips = 3
	breakerProbe = time.Second
)

// IsOpen reports whether err is an open breaker's: Redis was not asked.
func IsOpen(err error) bool { return errors.Is(err, gobreaker.ErrOpenState) }

// call runs one Redis call under the store's deadline and breaker.
func (s *RedisStore) call(ctx context.Context, f func(context.Context) error) error {
	_, err := s.breaker.Execute(func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		return struct{}{}, f(ctx)
	})
	return err
}

// Key returns the Redis key that holds key's log.
func (s *RedisStore) Key(key string) string { return s.prefix + key + "}" }

// Get admits one request for key if the window has room.
func (s *RedisStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	d, err := s.Take(ctx, key, 1, rate)
	return d.context(), err
}

// Increment admits count requests for key at once, or none of them.
func (s *RedisStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	d, err := s.Take(ctx, key, count, rate)
	return d.context(), err
}

// Peek reports the state of key without admitting anything; Reached tells
// whether the next request would be refused.
func (s *RedisStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	d, err := s.Take(ctx, key, 0, rate)
	return d.context(), err
}

// Reset forgets key's history.
func (s *RedisStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	if err := checkRate(rate); err != nil {
		return limiter.Context{}, err
	}
	if err := s.call(ctx, func(ctx context.Context) error { return s.client.Del(ctx, s.Key(key)).Err() }); err != nil {
		return limiter.Context{}, fmt.Errorf("ratelimit: reset %s: %w", s.Key(key), err)
	}
	return decision(rate, 0, s.now().Add(rate.Period), false).context(), nil
}

// Take admits count requests for key at once, or none of them; count 0
// only peeks. One round trip.
func (s *RedisStore) Take(ctx context.Context, key string, count int64, rate limiter.Rate) (Decision, error) {
	if err := checkRate(rate); err != nil {
		return Decision{}, err
	}
	count = max(count, 0)
	window := rate.Period.Microseconds()
	if window < 1 {
		return Decision{}, fmt.Errorf("ratelimit: period %s is below a microsecond", rate.Period)
	}
	ttl := (window + 999) / 1000
	member := s.id + strconv.FormatUint(s.seq.Add(1), 36)
	now := s.now().UnixMicro()
	var res []int64
	err := s.call(ctx, func(ctx context.Context) (err error) {
		res, err = s.batch.run(ctx, []string{s.Key(key)}, now, now-window, rate.Limit, count, member, ttl)
		return err
	})
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: decide %s: %w", s.Key(key), err)
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("ratelimit: decide %s: unexpected reply %v", s.Key(key), res)
	}
	admitted, n, oldest := res[0] == 1, res[1], res[2]
	reached := !admitted
	if count == 0 {
		reached = n >= rate.Limit
	}
	d := decision(rate, n, time.UnixMicro(oldest+window), reached)
	d.ticket = ticket{member: member, ok: admitted && count == 1}
	return d, nil
}

// Release gives back the slot d took, for requests a policy counts only
// when they fail. One round trip; a slot already gone is no error.
func (s *RedisStore) Release(ctx context.Context, key string, d Decision) error {
	if !d.ticket.ok {
		return nil
	}
	if err := s.call(ctx, func(ctx context.Context) error {
		return s.client.ZRem(ctx, s.Key(key), d.ticket.member).Err()
	}); err != nil {
		return fmt.Errorf("ratelimit: release %s: %w", s.Key(key), err)
	}
	return nil
}
