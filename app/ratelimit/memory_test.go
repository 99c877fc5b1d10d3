package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

func TestMemoryStoreSweepsExpiredKeysOnly(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewMemoryStore(Clock(clk.Now))
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	short := limiter.Rate{Limit: 5, Period: time.Second}
	long := limiter.Rate{Limit: 5, Period: time.Hour}
	for _, k := range []string{"a", "b", "c"} {
		if _, err := s.Get(ctx, k, short); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "d", long); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	s.sweep()
	if s.Len() != 1 {
		t.Fatalf("after sweep: %d keys, want 1", s.Len())
	}
}

func TestMemoryStoreSweeperRunsInTheBackgroundUntilClosed(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewMemoryStore(Clock(clk.Now), SweepInterval(time.Millisecond))
	if _, err := s.Get(context.Background(), "a", limiter.Rate{Limit: 1, Period: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	for deadline := time.Now().Add(5 * time.Second); s.Len() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper never dropped the expired key")
		}
	}
	_ = s.Close()
	_ = s.Close() // idempotent
}

func TestMemoryStoreRefusesNewKeysBeyondMaxKeys(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewMemoryStore(Clock(clk.Now), MaxKeys(2))
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	rate := limiter.Rate{Limit: 2, Period: time.Minute}
	for _, k := range []string{"a", "b"} {
		if _, err := s.Get(ctx, k, rate); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "c", rate); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("third key: %v, want ErrStoreFull", err)
	}
	if got, err := s.Get(ctx, "a", rate); err != nil || got.Remaining != 0 {
		t.Fatalf("existing key while full: %+v, %v", got, err)
	}
	if _, err := s.Peek(ctx, "c", rate); err != nil {
		t.Fatalf("peek needs no room: %v", err)
	}
	clk.Advance(time.Minute)
	s.sweep()
	if _, err := s.Get(ctx, "c", rate); err != nil {
		t.Fatalf("after the sweep: %v", err)
	}
}

func TestMemoryStoreDropsAKeyOnceItsWindowIsEmpty(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewMemoryStore(Clock(clk.Now))
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	rate := limiter.Rate{Limit: 1, Period: time.Second}
	_, _ = s.Get(ctx, "a", rate)
	_, _ = s.Get(ctx, "a", rate) // refused
	clk.Advance(time.Second)
	_, _ = s.Peek(ctx, "a", rate)
	if s.Len() != 0 {
		t.Fatalf("%d keys, want 0", s.Len())
	}
}

func TestWindowRingGrowsUpToTheLimitAndWraps(t *testing.T) {
	t.Parallel()
	var w window
	for i := range int64(5) {
		w.push(i, 5)
	}
	if len(w.ts) != 5 {
		t.Fatalf("capacity %d, want 5 (never above the limit)", len(w.ts))
	}
	w.expire(1) // drops 0 and 1
	w.push(5, 5)
	w.push(6, 5)
	if w.n != 5 || w.oldest() != 2 || w.newest() != 6 {
		t.Fatalf("n=%d oldest=%d newest=%d, want 5, 2, 6", w.n, w.oldest(), w.newest())
	}
	w.trim(3)
	if w.n != 3 || w.oldest() != 4 || w.head != 4 {
		t.Fatalf("after trim: n=%d oldest=%d head=%d, want 3, 4, 4", w.n, w.oldest(), w.head)
	}
	// Growing from a wrapped ring keeps the order.
	for i := int64(7); i <= 10; i++ {
		w.push(i, 10)
	}
	if w.n != 7 || len(w.ts) != 10 {
		t.Fatalf("n=%d capacity=%d, want 7, 10", w.n, len(w.ts))
	}
	for i, want := 0, int64(4); i < w.n; i, want = i+1, want+1 {
		if got := w.ts[(w.head+i)%len(w.ts)]; got != want {
			t.Fatalf("entry %d = %d, want %d", i, got, want)
		}
	}
}
