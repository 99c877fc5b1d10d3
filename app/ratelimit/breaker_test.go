package ratelimit

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"github.com/ulule/limiter/v3"

	"apisec/db/dbtest"
)

// A Redis that accepts connections and never answers: a decision waits at
// most the store's timeout, and after a few failures none at all.
func TestABlackHoledRedisCostsAtMostTheTimeoutThenNothing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, never read
		}
	}()
	client := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: 1})
	t.Cleanup(func() { client.Close() })
	const timeout = 50 * time.Millisecond
	s := NewRedisStore(client, Name("blackhole"), Timeout(timeout))
	rate := limiter.Rate{Limit: 5, Period: time.Minute}

	for i := range breakerTrips {
		start := time.Now()
		_, err := s.Take(context.Background(), "k", 1, rate)
		if err == nil || time.Since(start) > timeout+100*time.Millisecond {
			t.Fatalf("call %d: err %v after %s, want an error within %s", i+1, err, time.Since(start), timeout)
		}
	}
	start := time.Now()
	_, err = s.Take(context.Background(), "k", 1, rate)
	if !errors.Is(err, gobreaker.ErrOpenState) || time.Since(start) > 10*time.Millisecond {
		t.Fatalf("after %d failures: err %v after %s, want the open breaker at once", breakerTrips, err, time.Since(start))
	}
}

// A caller that went away does not trip the breaker of a store that works.
func TestCancelledCallsDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	s, _ := redisStore(t)
	rate := limiter.Rate{Limit: 5, Period: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 2 * breakerTrips {
		if _, err := s.Take(ctx, "k", 0, rate); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v", err)
		}
	}
	if _, err := s.Take(context.Background(), "k", 0, rate); err != nil {
		t.Fatalf("after cancelled calls: %v", err)
	}
}

// Once open, the breaker lets a probe through 250 ms, then 500 ms, then
// every second after the last failed one; a probe that finds Redis
// answering closes it, and the next outage starts again at 250 ms.
func TestTheBreakerProbesAtGrowingIntervalsAndClosesWhenRedisAnswers(t *testing.T) {
	t.Parallel()
	direct, ok := dbtest.Redis(t)
	if !ok {
		t.Skip("TEST_REDIS_URL not set: the breaker needs a Redis to come back")
	}
	proxy := dbtest.NewProxy(t, direct.(*redis.Client).Options().Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true, MaxRetries: 1})
	t.Cleanup(func() { client.Close() })
	name := dbtest.KeyPrefix(t)
	dbtest.DeleteKeys(t, direct, "rl:"+name+":*")
	s := NewRedisStore(client, Name(name), Timeout(time.Second))
	rate := limiter.Rate{Limit: 1000, Period: time.Minute}

	// probes cuts Redis, opens the breaker and returns how long it stayed
	// shut before each of the next n calls that reached Redis (a probe):
	// from its opening, then from the end of the probe before.
	probes := func(n int) []time.Duration {
		proxy.SetMode(dbtest.Reset)
		for i := range breakerTrips {
			if _, err := s.Take(context.Background(), "k", 1, rate); err == nil || IsOpen(err) {
				t.Fatalf("call %d with Redis cut: %v, want a failure of Redis", i+1, err)
			}
		}
		opened := time.Now()
		shut, last := []time.Duration{}, opened
		for len(shut) < n && time.Since(opened) < 5*time.Second {
			time.Sleep(5 * time.Millisecond)
			start := time.Now()
			_, err := s.Take(context.Background(), "k", 1, rate)
			if err == nil {
				t.Fatal("a call succeeded with Redis cut")
			}
			if !IsOpen(err) {
				shut, last = append(shut, start.Sub(last)), time.Now()
			}
		}
		return shut
	}
	checkGaps := func(shut []time.Duration, want ...time.Duration) {
		t.Helper()
		if len(shut) != len(want) {
			t.Fatalf("%d probes in 5 s, want %d", len(shut), len(want))
		}
		for i, w := range want {
			// The calls are 5 ms apart; a loaded machine may add more.
			if shut[i] < w || shut[i] > w+200*time.Millisecond {
				t.Errorf("probe %d came %v after the breaker shut, want %v", i+1, shut[i].Round(time.Millisecond), w)
			}
		}
	}
	checkGaps(probes(4), 250*time.Millisecond, 500*time.Millisecond, time.Second, time.Second)

	proxy.SetMode(dbtest.Forward)
	back := time.Now()
	for {
		_, err := s.Take(context.Background(), "k", 1, rate)
		if err == nil {
			break
		}
		if !IsOpen(err) || time.Since(back) > 1200*time.Millisecond {
			t.Fatalf("%v after Redis came back: %v", time.Since(back), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 5 {
		if _, err := s.Take(context.Background(), "k", 1, rate); err != nil {
			t.Fatalf("call %d after the breaker closed: %v", i+1, err)
		}
	}
	// A new outage starts from the shortest interval again.
	checkGaps(probes(1), 250*time.Millisecond)
}
