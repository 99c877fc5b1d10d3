package ratelimit

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
)

// countingHook counts the client's pipelines and holds every single
// command for slow, so that decisions sent alone are still out while the
// others arrive: without it a loaded (-race) machine may start the callers
// one after another and nothing ever waits to share. (Single commands are
// not counted: a parallel test's SCRIPT FLUSH may send a decision through
// Script.Run once.)
type countingHook struct {
	pipelines atomic.Int64
	slow      time.Duration
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		time.Sleep(h.slow)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		return next(ctx, cmds)
	}
}

// Decisions waiting at the same time share round trips and stay exact.
func TestConcurrentDecisionsSharePipelines(t *testing.T) {
	t.Parallel()
	s, client := redisStore(t)
	hook := &countingHook{slow: 100 * time.Millisecond}
	client.AddHook(hook)
	const callers, limit = 64, 40
	rate := limiter.Rate{Limit: limit, Period: time.Minute}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			d, err := s.Take(context.Background(), "k", 1, rate)
			if err != nil {
				t.Error(err)
				return
			}
			if !d.Reached {
				admitted.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := admitted.Load(); n != limit {
		t.Fatalf("admitted %d of %d, want %d", n, callers, limit)
	}
	if n := hook.pipelines.Load(); n == 0 || n >= callers {
		t.Errorf("%d pipelines for %d concurrent decisions: none shared", n, callers)
	}
}

// Callers queued behind pipelines stuck on a black-holed Redis wait no
// longer than their deadline, the Redis timeout.
func TestADecisionWaitsNoLongerThanItsDeadline(t *testing.T) {
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
			t.Cleanup(func() { c.Close() })
		}
	}()
	client := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1}) // as db.OpenRedis
	t.Cleanup(func() { client.Close() })
	b := &batcher{client: client, timeout: 50 * time.Millisecond}
	var wg sync.WaitGroup
	for range 3 * maxInFlight {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			begin := time.Now()
			if _, err := b.run(ctx, []string{"k"}, 1); err == nil {
				t.Error("a decision on a black hole succeeded")
			}
			if d := time.Since(begin); d > 500*time.Millisecond {
				t.Errorf("waited %s past a 50ms deadline", d)
			}
		})
	}
	wg.Wait()
}
