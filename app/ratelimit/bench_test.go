package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

const benchKeys = 100_000

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
	}
	return keys
}

// BenchmarkMemoryStoreGet is one decision against a store holding 100,000
// live keys, each with part of its window used.
func BenchmarkMemoryStoreGet(b *testing.B) {
	s := NewMemoryStore()
	b.Cleanup(func() { _ = s.Close() })
	rate := limiter.Rate{Limit: 100, Period: time.Minute}
	keys := benchKeyNames()
	ctx := context.Background()
	for _, k := range keys {
		for range 10 {
			if _, err := s.Get(ctx, k, rate); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, keys[i%benchKeys], rate); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(s.Len()), "keys")
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Get(ctx, keys[next.Add(1)%benchKeys], rate); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRedisStoreGet is one decision over loopback: a single EVALSHA.
// cpu-ns/op is this process's CPU per decision (Redis's own is not in it).
func BenchmarkRedisStoreGet(b *testing.B) {
	s, _ := redisStore(b)
	rate := limiter.Rate{Limit: 100, Period: time.Minute}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		i := 0
		start := cpuTime(b)
		for b.Loop() {
			if _, err := s.Get(ctx, strconv.Itoa(i%1000), rate); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(32) // many requests in flight, as behind a busy server
		var next atomic.Int64
		start := cpuTime(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Get(ctx, strconv.Itoa(int(next.Add(1)%1000)), rate); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	})
}

// cpuTime is the process's user and system CPU so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRefusalsMiss is what the memo adds to an admitted decision: a
// lookup of a key it does not hold, with the memo empty and full (of
// other keys), from every core at once.
func BenchmarkRefusalsMiss(b *testing.B) {
	keys := benchKeyNames()
	now := time.Unix(1_750_000_000, 0)
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("full=%v", full), func(b *testing.B) {
			m := newRefusals()
			if full {
				for i := range memoShards * memoPerShard * 2 {
					m.remember("refused-"+strconv.Itoa(i), now.Add(time.Hour), now)
				}
			}
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok := m.refused(keys[next.Add(1)%benchKeys], now); ok {
						b.Error("hit")
						return
					}
				}
			})
		})
	}
}
