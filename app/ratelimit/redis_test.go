package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"apisec/db/dbtest"
)

// redisStore returns a store with a unique name whose keys are deleted after
// the test, or skips without TEST_REDIS_URL.
func redisStore(t testing.TB, opts ...Option) (*RedisStore, redis.UniversalClient) {
	t.Helper()
	client, ok := dbtest.Redis(t)
	if !ok {
		t.Skip("TEST_REDIS_URL not set")
	}
	name := dbtest.KeyPrefix(t)
	dbtest.DeleteKeys(t, client, "rl:"+name+":*")
	return NewRedisStore(client, append([]Option{Name(name), Timeout(2 * time.Second)}, opts...)...), client
}

func TestRedisStoreKeysAreHashTaggedPerLimiter(t *testing.T) {
	t.Parallel()
	s := NewRedisStore(nil, Name("login"))
	if got := s.Key("2001:db8:1:2::/64"); got != "rl:login:{2001:db8:1:2::/64}" {
		t.Fatalf("Key = %q", got)
	}
}

func TestRedisStoreRecoversFromAFlushedScriptCache(t *testing.T) {
	t.Parallel()
	s, client := redisStore(t)
	rate := limiter.Rate{Limit: 3, Period: time.Minute}
	ctx := context.Background()
	if _, err := s.Get(ctx, "k", rate); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "k", rate)
	if err != nil || got.Remaining != 1 {
		t.Fatalf("after SCRIPT FLUSH: %+v, %v", got, err)
	}
}

func TestRedisStoresInTwoProcessesShareOneLog(t *testing.T) {
	t.Parallel()
	a, client := redisStore(t)
	clk := newFakeClock()
	a.now = clk.Now
	b := NewRedisStore(client, Name(a.prefix[len("rl:"):len(a.prefix)-2]), Clock(clk.Now), Timeout(2*time.Second))
	rate := limiter.Rate{Limit: 2, Period: time.Minute}
	ctx := context.Background()
	// Same instant, same sequence number: only the random store id keeps
	// the members apart.
	for _, s := range []*RedisStore{a, b} {
		s.seq.Store(0)
		if got, err := s.Get(ctx, "k", rate); err != nil || got.Reached {
			t.Fatalf("%+v, %v", got, err)
		}
	}
	if got, err := b.Get(ctx, "k", rate); err != nil || !got.Reached {
		t.Fatalf("third request: %+v, %v; want refused", got, err)
	}
}

func TestRedisStoreReturnsErrorsWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	s := NewRedisStore(client, Name("down"))
	rate := limiter.Rate{Limit: 1, Period: time.Minute}
	if _, err := s.Get(context.Background(), "k", rate); err == nil {
		t.Fatal("Get: no error")
	}
	if _, err := s.Reset(context.Background(), "k", rate); err == nil {
		t.Fatal("Reset: no error")
	}
}

// TestRedisMemoryUsagePerKey logs what a full window costs in Redis (run
// with -v). Up to 128 entries a sorted set is a compact listpack; beyond
// zset-max-listpack-entries it becomes a skiplist and costs several times
// more per entry.
func TestRedisMemoryUsagePerKey(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{5, 100, 300} {
		s, client := redisStore(t)
		clk := newFakeClock()
		s.now = clk.Now
		rate := limiter.Rate{Limit: n, Period: time.Hour}
		ctx := context.Background()
		for range n {
			if _, err := s.Get(ctx, "203.0.113.7", rate); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Millisecond)
		}
		bytes, err := client.MemoryUsage(ctx, s.Key("203.0.113.7"), 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		card := client.ZCard(ctx, s.Key("203.0.113.7")).Val()
		t.Logf("limit %3d, full window: MEMORY USAGE %6d bytes (%d per entry), ZCARD %d", n, bytes, bytes/n, card)
		if card != n {
			t.Fatalf("ZCARD %d, want %d", card, n)
		}
	}
}
