package ratelimit

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"apisec/app/clocktest"
	"apisec/db/dbtest"
)

// fakeClock is a settable clock shared by a store and its test.
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock { return clocktest.New(time.Unix(1_750_000_000, 0)) }

// subject is one store under the conformance suite, with hooks to look
// inside it.
type subject struct {
	store limiter.Store
	clock *fakeClock
	held  func(t *testing.T, key string) int64 // entries stored for key
	// expires checks that key is dropped once its window has passed.
	expires func(t *testing.T, key string, window time.Duration)
}

func newMemorySubject(t *testing.T) *subject {
	clk := newFakeClock()
	s := NewMemoryStore(Clock(clk.Now))
	t.Cleanup(func() { _ = s.Close() })
	return &subject{
		store: s,
		clock: clk,
		held: func(t *testing.T, key string) int64 {
			sh := s.shard(key)
			sh.mu.Lock()
			defer sh.mu.Unlock()
			if w := sh.keys[key]; w != nil {
				return int64(w.n)
			}
			return 0
		},
		expires: func(t *testing.T, key string, window time.Duration) {
			before := s.Len()
			clk.Advance(window - time.Millisecond)
			s.sweep()
			if s.Len() != before {
				t.Fatalf("swept a live key: %d keys, want %d", s.Len(), before)
			}
			clk.Advance(time.Millisecond)
			s.sweep()
			if s.Len() != before-1 {
				t.Fatalf("after the window: %d keys, want %d", s.Len(), before-1)
			}
		},
	}
}

// newRedisSubject skips the test unless TEST_REDIS_URL is set.
func newRedisSubject(t *testing.T) *subject {
	client, ok := dbtest.Redis(t)
	if !ok {
		t.Skip("TEST_REDIS_URL not set")
	}
	name := dbtest.KeyPrefix(t)
	dbtest.DeleteKeys(t, client, "rl:"+name+":*")
	clk := newFakeClock()
	s := NewRedisStore(client, Name(name), Clock(clk.Now), Timeout(2*time.Second)) // a loaded machine is no outage
	return &subject{
		store: s,
		clock: clk,
		held: func(t *testing.T, key string) int64 {
			n, err := client.ZCard(context.Background(), s.Key(key)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		// The key's TTL is Redis's own clock, so check it rather than wait.
		expires: func(t *testing.T, key string, window time.Duration) {
			ttl, err := client.PTTL(context.Background(), s.Key(key)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= 0 || ttl > window {
				t.Fatalf("PTTL %s, want in (0, %s]", ttl, window)
			}
		},
	}
}

func TestStoresConform(t *testing.T) {
	t.Parallel()
	backends := map[string]func(*testing.T) *subject{
		"memory": newMemorySubject,
		"redis":  newRedisSubject,
	}
	for backend, newSubject := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			for name, check := range conformance {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					check(t, newSubject(t))
				})
			}
		})
	}
}

var conformance = map[string]func(*testing.T, *subject){
	"admits N, then refuses without consuming": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 5, Period: time.Minute}
		t0 := s.clock.Now()
		for i := range 5 {
			expect(t, s, "get", "k", rate, want{remaining: 4 - int64(i), reset: t0.Add(time.Minute)})
		}
		expect(t, s, "get", "k", rate, want{reached: true, remaining: 0, reset: t0.Add(time.Minute)})
		s.clock.Advance(30 * time.Second)
		for range 10 {
			expect(t, s, "get", "k", rate, want{reached: true, remaining: 0, reset: t0.Add(time.Minute)})
		}
		if n := s.held(t, "k"); n != 5 {
			t.Fatalf("held %d entries, want 5", n)
		}
		// Had the refusals been logged, these slots would still be taken.
		s.clock.Advance(30 * time.Second)
		for i := range 5 {
			expect(t, s, "get", "k", rate, want{remaining: 4 - int64(i), reset: s.clock.Now().Add(time.Minute)})
		}
	},

	"slides: bursts at 0:59 and 1:01 do not both pass": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 10, Period: time.Minute}
		s.clock.Advance(59 * time.Second)
		burst := s.clock.Now()
		for i := range 10 {
			expect(t, s, "get", "k", rate, want{remaining: 9 - int64(i), reset: burst.Add(time.Minute)})
		}
		s.clock.Advance(2 * time.Second) // a fixed window would have reset at 1:00
		for range 10 {
			expect(t, s, "get", "k", rate, want{reached: true, reset: burst.Add(time.Minute)})
		}
		s.clock.Advance(58*time.Second - time.Millisecond)
		expect(t, s, "get", "k", rate, want{reached: true, reset: burst.Add(time.Minute)})
		s.clock.Advance(time.Millisecond)
		expect(t, s, "get", "k", rate, want{remaining: 9, reset: s.clock.Now().Add(time.Minute)})
	},

	"frees each slot exactly when its entry leaves the window": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 3, Period: time.Minute}
		t0 := s.clock.Now()
		for i := range 3 {
			expect(t, s, "get", "k", rate, want{remaining: 2 - int64(i), reset: t0.Add(time.Minute)})
			s.clock.Advance(10 * time.Second)
		}
		s.clock.Advance(30*time.Second - time.Millisecond) // t0+59.999s
		expect(t, s, "get", "k", rate, want{reached: true, reset: t0.Add(time.Minute)})
		s.clock.Advance(time.Millisecond) // t0+60s: the first entry leaves
		expect(t, s, "get", "k", rate, want{remaining: 0, reset: t0.Add(70 * time.Second)})
		expect(t, s, "get", "k", rate, want{reached: true, reset: t0.Add(70 * time.Second)})
		s.clock.Advance(10 * time.Second)
		expect(t, s, "get", "k", rate, want{remaining: 0, reset: t0.Add(80 * time.Second)})
	},

	"rounds Reset up to the second": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 2, Period: time.Minute}
		s.clock.Advance(250 * time.Millisecond)
		t0 := s.clock.Now()
		expect(t, s, "peek", "k", rate, want{remaining: 2, reset: t0.Add(time.Minute + 750*time.Millisecond)})
		expect(t, s, "get", "k", rate, want{remaining: 1, reset: t0.Add(time.Minute + 750*time.Millisecond)})
	},

	"peeks without consuming": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 2, Period: time.Minute}
		t0 := s.clock.Now()
		expect(t, s, "peek", "k", rate, want{remaining: 2, reset: t0.Add(time.Minute)})
		expect(t, s, "get", "k", rate, want{remaining: 1, reset: t0.Add(time.Minute)})
		expect(t, s, "peek", "k", rate, want{remaining: 1, reset: t0.Add(time.Minute)})
		expect(t, s, "get", "k", rate, want{remaining: 0, reset: t0.Add(time.Minute)})
		expect(t, s, "peek", "k", rate, want{reached: true, reset: t0.Add(time.Minute)})
		if n := s.held(t, "k"); n != 2 {
			t.Fatalf("held %d entries, want 2", n)
		}
	},

	"increments all or nothing": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 10, Period: time.Minute}
		reset := s.clock.Now().Add(time.Minute)
		expectN(t, s, 7, "k", rate, want{remaining: 3, reset: reset})
		expectN(t, s, 4, "k", rate, want{reached: true, remaining: 3, reset: reset})
		expectN(t, s, 3, "k", rate, want{remaining: 0, reset: reset})
		if n := s.held(t, "k"); n != 10 {
			t.Fatalf("held %d entries, want 10", n)
		}
	},

	"resets a key": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 2, Period: time.Minute}
		expect(t, s, "get", "k", rate, want{remaining: 1, reset: s.clock.Now().Add(time.Minute)})
		expect(t, s, "get", "k", rate, want{remaining: 0, reset: s.clock.Now().Add(time.Minute)})
		s.clock.Advance(time.Second)
		expect(t, s, "reset", "k", rate, want{remaining: 2, reset: s.clock.Now().Add(time.Minute)})
		expect(t, s, "get", "k", rate, want{remaining: 1, reset: s.clock.Now().Add(time.Minute)})
	},

	"keeps keys apart": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 1, Period: time.Minute}
		reset := s.clock.Now().Add(time.Minute)
		expect(t, s, "get", "a", rate, want{remaining: 0, reset: reset})
		expect(t, s, "get", "b", rate, want{remaining: 0, reset: reset})
		expect(t, s, "get", "a", rate, want{reached: true, reset: reset})
	},

	"never admits more than N in any rolling window": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 7, Period: 10 * time.Second}
		rng := rand.New(rand.NewPCG(1, 2))
		var admitted []time.Time // the model: an exact sliding log
		for i := range 2000 {
			s.clock.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
			now := s.clock.Now()
			for len(admitted) > 0 && !admitted[0].Add(rate.Period).After(now) {
				admitted = admitted[1:]
			}
			full := len(admitted) == int(rate.Limit)
			if !full {
				admitted = append(admitted, now)
			}
			got, err := s.store.Get(context.Background(), "k", rate)
			if err != nil {
				t.Fatal(err)
			}
			w := want{reached: full, remaining: rate.Limit - int64(len(admitted)), reset: admitted[0].Add(rate.Period)}
			if g := (want{got.Reached, got.Remaining, time.Unix(got.Reset, 0)}); !g.equal(w) {
				t.Fatalf("request %d at +%s: got %+v, want %+v", i, now.Sub(time.Unix(1_750_000_000, 0)), g, w)
			}
			if n := s.held(t, "k"); n > rate.Limit {
				t.Fatalf("request %d: held %d entries, over the limit", i, n)
			}
		}
	},

	"is exact under concurrency": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 100, Period: time.Minute}
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{}) // release all at once, to contend
		for range 500 {
			wg.Go(func() {
				<-start
				got, err := s.store.Get(context.Background(), "k", rate)
				switch {
				case err != nil:
					t.Error(err)
				case got.Reached:
					refused.Add(1)
				default:
					ok.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok.Load() != 100 || refused.Load() != 400 {
			t.Fatalf("admitted %d, refused %d; want 100 and 400", ok.Load(), refused.Load())
		}
		if n := s.held(t, "k"); n != 100 {
			t.Fatalf("held %d entries, want 100", n)
		}
	},

	"expires keys with their window": func(t *testing.T, s *subject) {
		rate := limiter.Rate{Limit: 3, Period: 10 * time.Second}
		expect(t, s, "get", "k", rate, want{remaining: 2, reset: s.clock.Now().Add(rate.Period)})
		s.expires(t, "k", rate.Period)
	},

	"trims to the newest N when the limit is lowered": func(t *testing.T, s *subject) {
		t0 := s.clock.Now()
		for range 10 {
			expect(t, s, "get", "k", limiter.Rate{Limit: 10, Period: time.Minute}, want{reached: false, remaining: -1})
			s.clock.Advance(time.Second)
		}
		lower := limiter.Rate{Limit: 5, Period: time.Minute}
		// The newest five were admitted at t0+5s..t0+9s: full until t0+65s.
		expect(t, s, "get", "k", lower, want{reached: true, reset: t0.Add(65 * time.Second)})
		if n := s.held(t, "k"); n != 5 {
			t.Fatalf("held %d entries, want 5", n)
		}
		s.clock.Advance(55 * time.Second) // t0+65s
		expect(t, s, "get", "k", lower, want{remaining: 0, reset: t0.Add(66 * time.Second)})
	},

	"refuses an invalid rate": func(t *testing.T, s *subject) {
		for _, rate := range []limiter.Rate{{}, {Limit: 1}, {Period: time.Second}} {
			if _, err := s.store.Get(context.Background(), "k", rate); err == nil {
				t.Errorf("rate %+v: no error", rate)
			}
		}
	},
}

// want is the expected outcome of a decision; remaining -1 skips both
// remaining and reset.
type want struct {
	reached   bool
	remaining int64
	reset     time.Time
}

// ceilUnix is ulule's Reset for an instant: whole seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

func (w want) equal(o want) bool {
	if w.remaining == -1 || o.remaining == -1 {
		return w.reached == o.reached
	}
	return w.reached == o.reached && w.remaining == o.remaining && ceilUnix(w.reset) == ceilUnix(o.reset)
}

func expect(t *testing.T, s *subject, op, key string, rate limiter.Rate, w want) {
	t.Helper()
	ctx := context.Background()
	var got limiter.Context
	var err error
	switch op {
	case "get":
		got, err = s.store.Get(ctx, key, rate)
	case "peek":
		got, err = s.store.Peek(ctx, key, rate)
	case "reset":
		got, err = s.store.Reset(ctx, key, rate)
	}
	check(t, op, got, err, rate, w)
}

func expectN(t *testing.T, s *subject, n int64, key string, rate limiter.Rate, w want) {
	t.Helper()
	got, err := s.store.Increment(context.Background(), key, n, rate)
	check(t, "increment", got, err, rate, w)
}

func check(t *testing.T, op string, got limiter.Context, err error, rate limiter.Rate, w want) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	if got.Limit != rate.Limit {
		t.Fatalf("%s: Limit %d, want %d", op, got.Limit, rate.Limit)
	}
	g := want{got.Reached, got.Remaining, time.Unix(got.Reset, 0)}
	if !g.equal(w) {
		t.Fatalf("%s: got reached=%t remaining=%d reset=%d, want reached=%t remaining=%d reset=%d",
			op, g.reached, g.remaining, got.Reset, w.reached, w.remaining, ceilUnix(w.reset))
	}
}
