package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

// countingStore counts the decisions that reach a real store.
type countingStore struct {
	Store
	takes atomic.Int64
}

func (s *countingStore) Take(ctx context.Context, key string, count int64, rate limiter.Rate) (Decision, error) {
	s.takes.Add(1)
	return s.Store.Take(ctx, key, count, rate)
}

// memoLimiter is the global limiter at rate on s.
func memoLimiter(t *testing.T, rate limiter.Rate, s *countingStore, clk *fakeClock) *Limiter {
	t.Helper()
	ls, err := NewLimiters(Rates{ByPolicy: map[string]limiter.Rate{Global.Name: rate}},
		func(string) (Store, error) { return s, nil }, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Close() })
	return ls.Of(Global)
}

// A key refused by the store is answered from memory until its reset, with
// the decision the store itself gives at that instant; at the reset the
// store is asked again and admits.
func TestRefusalsAreRememberedExactlyUntilTheirReset(t *testing.T) {
	t.Parallel()
	rate := limiter.Rate{Limit: 3, Period: time.Minute}
	for name, newStore := range map[string]func(t *testing.T, clk *fakeClock) Store{
		"memory": func(t *testing.T, clk *fakeClock) Store {
			m := NewMemoryStore(Clock(clk.Now))
			t.Cleanup(func() { _ = m.Close() })
			return m
		},
		"redis": func(t *testing.T, clk *fakeClock) Store {
			r, _ := redisStore(t, Clock(clk.Now))
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			raw := newStore(t, clk)
			s := &countingStore{Store: raw}
			l := memoLimiter(t, rate, s, clk)
			ctx, who := context.Background(), Subject{ClientIP: "192.0.2.1"}
			take := func(count int64) Decision {
				t.Helper()
				res, ok, err := l.Take(ctx, who, count)
				if err != nil || !ok {
					t.Fatal(ok, err)
				}
				return res.Decision
			}
			start := clk.Now()
			for i := range 3 {
				clk.Set(start.Add(time.Duration(i) * time.Second))
				if d := take(1); d.Reached {
					t.Fatalf("request %d refused", i)
				}
			}
			// The third filled the window: nothing more reaches the store.
			asked := s.takes.Load()
			reset := start.Add(time.Minute)
			for _, at := range []time.Duration{3 * time.Second, 30 * time.Second, time.Minute - time.Microsecond} {
				clk.Set(start.Add(at))
				for _, count := range []int64{1, 0} {
					got := take(count)
					want, err := raw.Take(ctx, "192.0.2.1", count, rate) // the store's own answer
					if err != nil {
						t.Fatal(err)
					}
					want.ticket = ticket{}
					if !got.ResetAt.Equal(reset) || got.Limit != want.Limit || got.Remaining != want.Remaining ||
						got.Reached != want.Reached || !got.ResetAt.Equal(want.ResetAt) || !want.Reached {
						t.Fatalf("at +%s count %d: memo %+v, store %+v", at, count, got, want)
					}
				}
			}
			if n := s.takes.Load(); n != asked {
				t.Fatalf("%d decisions reached the store past the budget", n-asked)
			}
			clk.Set(reset)
			if d := take(1); d.Reached || d.Remaining != 0 {
				t.Fatalf("at the reset: %+v, want admitted with the window full again", d)
			}
			if s.takes.Load() != asked+1 {
				t.Fatal("the store was not asked at the reset")
			}
		})
	}
}

// Limiters whose slots are given back are never answered from memory: a
// slot given back on another instance ends a refusal early.
func TestLimitersThatGiveSlotsBackAlwaysAskTheStore(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	m := NewMemoryStore(Clock(clk.Now))
	t.Cleanup(func() { _ = m.Close() })
	s := &countingStore{Store: m}
	l := memoLimiter(t, limiter.Rate{Limit: 1, Period: time.Minute}, s, clk)
	l.GivesBack()
	who := Subject{ClientIP: "192.0.2.1"}
	res, _, _ := l.Take(context.Background(), who, 1)
	for range 3 {
		if r, _, _ := l.Take(context.Background(), who, 1); !r.Reached {
			t.Fatal("admitted past the limit")
		}
	}
	if s.takes.Load() != 4 {
		t.Fatalf("%d of 4 decisions reached the store", s.takes.Load())
	}
	if err := res.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := l.Take(context.Background(), who, 1); r.Reached {
		t.Fatal("the slot given back was not found")
	}
}

// Whatever keys are refused, the memo holds a bounded number, drops
// expired ones first, and still answers for the keys it kept.
func TestTheRefusalMemoIsBounded(t *testing.T) {
	t.Parallel()
	m := newRefusals()
	now := time.Unix(1_750_000_000, 0)
	const max = memoShards * memoPerShard
	for i := range 10 * max {
		m.remember("k"+strconv.Itoa(i), now.Add(time.Minute+time.Duration(i)), now)
	}
	if n := m.held.Load(); n > max || n < max/2 {
		t.Fatalf("%d entries held, want at most %d (and most of them)", n, max)
	}
	total := 0
	for i := range m.shards {
		if n := len(m.shards[i].until); n > memoPerShard {
			t.Fatalf("shard %d holds %d", i, n)
		} else {
			total += n
		}
	}
	if int64(total) != m.held.Load() {
		t.Fatalf("count %d, held %d", m.held.Load(), total)
	}
	// A full shard evicts the refusal ending first: the newest keys stay.
	if _, ok := m.refused("k"+strconv.Itoa(10*max-1), now); !ok {
		t.Fatal("the newest key was evicted")
	}
	// Past every reset, new refusals replace the expired ones.
	later := now.Add(2 * time.Minute)
	for i := range max {
		m.remember("n"+strconv.Itoa(i), later.Add(time.Minute), later)
	}
	if n := m.held.Load(); n > max {
		t.Fatalf("%d entries held after expiry", n)
	}
	if _, ok := m.refused("k"+strconv.Itoa(10*max-1), later); ok {
		t.Fatal("an expired refusal was answered")
	}
}

// The memo's expiry is the reset to the nanosecond, on the injected clock.
func TestARememberedRefusalEndsAtItsReset(t *testing.T) {
	t.Parallel()
	m := newRefusals()
	now := time.Unix(1_750_000_000, 0)
	reset := now.Add(time.Minute)
	m.remember("k", reset, now)
	if got, ok := m.refused("k", reset.Add(-time.Nanosecond)); !ok || !got.Equal(reset) {
		t.Fatalf("just before the reset: %v %v", got, ok)
	}
	if _, ok := m.refused("k", reset); ok {
		t.Fatal("refused at the reset")
	}
	if m.held.Load() != 0 {
		t.Fatal("the ended refusal is still held")
	}
	m.remember("k", reset, reset) // a decision already over is not kept
	if m.held.Load() != 0 {
		t.Fatal("kept a refusal that had ended")
	}
}
