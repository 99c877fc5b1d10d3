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
