package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
)

// shardCount spreads keys over independent mutexes; a power of two so the
// shard is a mask of the hash.
const shardCount = 256

// MemoryStore is an in-process sliding-log store: for each key it keeps the
// times of the admitted requests still inside the window, at most Limit of
// them, in a ring buffer. Use it when the API runs as a single process; the
// limits are not shared between processes. Close it to stop its sweeper.
type MemoryStore struct {
	shards  [shardCount]shard
	seed    maphash.Seed
	now     func() time.Time
	epoch   time.Time // times are kept as offsets from it, so a wall-clock step does not move windows
	maxKeys int64
	keys    atomic.Int64

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type shard struct {
	mu   sync.Mutex
	keys map[string]*window
	_    [48]byte // one cache line per shard, so neighbours don't contend
}

// NewMemoryStore returns a memory store and starts its sweeper goroutine.
// Options: Clock, MaxKeys, SweepInterval.
func NewMemoryStore(opts ...Option) *MemoryStore {
	o := newOptions(opts)
	s := &MemoryStore{
		seed:    maphash.MakeSeed(),
		now:     o.now,
		epoch:   o.now(),
		maxKeys: int64(max(o.maxKeys, 0)),
		done:    make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].keys = make(map[string]*window)
	}
	s.wg.Add(1)
	go s.sweepEvery(o.sweepInterval)
	return s
}

// Close stops the sweeper. The store still answers afterwards; it just no
// longer drops idle keys in the background.
func (s *MemoryStore) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
	})
	return nil
}

// Get admits one request for key if the window has room.
func (s *MemoryStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	d, err := s.Take(ctx, key, 1, rate)
	return d.context(), err
}

// Increment admits count requests for key at once, or none of them.
func (s *MemoryStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	d, err := s.Take(ctx, key, count, rate)
	return d.context(), err
}

// Peek reports the state of key without admitting anything; Reached tells
// whether the next request would be refused.
func (s *MemoryStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	d, err := s.Take(ctx, key, 0, rate)
	return d.context(), err
}

// Reset forgets key's history.
func (s *MemoryStore) Reset(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	if err := checkRate(rate); err != nil {
		return limiter.Context{}, err
	}
	now := s.since()
	sh := s.shard(key)
	sh.mu.Lock()
	if _, ok := sh.keys[key]; ok {
		delete(sh.keys, key)
		s.keys.Add(-1)
	}
	sh.mu.Unlock()
	return decision(rate, 0, s.at(now+int64(rate.Period)), false).context(), nil
}

// Len returns the number of keys held, expired or not.
func (s *MemoryStore) Len() int { return int(s.keys.Load()) }

// Take admits count requests for key at once, or none of them; count 0
// only peeks.
func (s *MemoryStore) Take(_ context.Context, key string, count int64, rate limiter.Rate) (Decision, error) {
	if err := checkRate(rate); err != nil {
		return Decision{}, err
	}
	now, period := s.since(), int64(rate.Period)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()

	w := sh.keys[key]
	var n int64
	if w != nil {
		w.expire(now - period)
		w.trim(rate.Limit)
		n = int64(w.n)
	}
	admit := count > 0 && n+count <= rate.Limit
	if admit {
		if w == nil {
			if !s.reserveKey(sh, now) {
				return Decision{}, ErrStoreFull
			}
			w = &window{}
			sh.keys[key] = w
		}
		t := now
		if w.n > 0 {
			t = max(t, w.newest()) // a fake clock may step back; keep the ring in order
		}
		for range count {
			w.push(t, rate.Limit)
		}
		w.expires = t + period
		n += count
	} else if w != nil && w.n == 0 {
		delete(sh.keys, key)
		s.keys.Add(-1)
	}

	oldest := now
	if n > 0 {
		oldest = w.oldest()
	}
	reached := !admit
	if count <= 0 {
		reached = n >= rate.Limit
	}
	d := decision(rate, n, s.at(oldest+period), reached)
	if admit && count == 1 {
		d.ticket = ticket{at: w.newest(), ok: true}
	}
	return d, nil
}

// Release gives back the slot d took, for requests a policy counts only
// when they fail. A slot already gone is no error.
func (s *MemoryStore) Release(_ context.Context, key string, d Decision) error {
	if !d.ticket.ok {
		return nil
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if w := sh.keys[key]; w != nil {
		w.remove(d.ticket.at)
	}
	return nil
}

// reserveKey counts a new key against MaxKeys; when the cap is reached it
// first sweeps the key's own shard (bounded work) before giving up.
func (s *MemoryStore) reserveKey(sh *shard, now int64) bool {
	if s.maxKeys == 0 {
		s.keys.Add(1)
		return true
	}
	if s.keys.Add(1) <= s.maxKeys {
		return true
	}
	s.keys.Add(-1)
	s.sweepShard(sh, now)
	if s.keys.Add(1) <= s.maxKeys {
		return true
	}
	s.keys.Add(-1)
	return false
}

func (s *MemoryStore) sweepEvery(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep drops every key whose newest entry has left its window, one shard
// at a time so a decision never waits for more than one shard's scan.
func (s *MemoryStore) sweep() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.sweepShard(sh, s.since())
		sh.mu.Unlock()
	}
}

// sweepShard needs sh.mu held.
func (s *MemoryStore) sweepShard(sh *shard, now int64) {
	for k, w := range sh.keys {
		if w.expires <= now {
			delete(sh.keys, k)
			s.keys.Add(-1)
		}
	}
}

func (s *MemoryStore) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)&(shardCount-1)]
}

// since is now as nanoseconds after the epoch; with time.Now it uses the
// monotonic clock.
func (s *MemoryStore) since() int64 { return int64(s.now().Sub(s.epoch)) }

func (s *MemoryStore) at(offset int64) time.Time { return s.epoch.Add(time.Duration(offset)) }

// window is one key's log: admission times in a ring buffer, oldest at head.
// It grows on demand up to the limit and never beyond, so an idle or light
// key costs little and a busy one at most Limit timestamps.
type window struct {
	ts      []int64
	head, n int
	expires int64 // when the newest entry leaves the window: the sweeper's test
}

func (w *window) oldest() int64 { return w.ts[w.head] }
func (w *window) newest() int64 { return w.ts[(w.head+w.n-1)%len(w.ts)] }

// expire drops entries at or before cutoff: an entry admitted at t holds its
// slot during (t-period, t], i.e. until t+period exactly.
func (w *window) expire(cutoff int64) {
	for w.n > 0 && w.ts[w.head] <= cutoff {
		w.pop()
	}
}

// trim keeps the newest limit entries, for a limit lowered while the process
// runs; the newest N are exactly what an N limit needs to decide.
func (w *window) trim(limit int64) {
	for int64(w.n) > limit {
		w.pop()
	}
}

func (w *window) pop() {
	w.head++
	if w.head == len(w.ts) {
		w.head = 0
	}
	w.n--
}

// remove drops one entry at t, keeping the others in order.
func (w *window) remove(t int64) {
	for i := w.n - 1; i >= 0; i-- {
		if w.ts[(w.head+i)%len(w.ts)] != t {
			continue
		}
		for j := i; j < w.n-1; j++ {
			w.ts[(w.head+j)%len(w.ts)] = w.ts[(w.head+j+1)%len(w.ts)]
		}
		w.n--
		return
	}
}

// push appends t; the caller guarantees n < limit.
func (w *window) push(t, limit int64) {
	if w.n == len(w.ts) {
		grown := make([]int64, min(max(2*len(w.ts), 4), int(limit)))
		copy(grown, w.ts[w.head:])
		copy(grown[len(w.ts)-w.head:], w.ts[:w.head])
		w.ts, w.head = grown, 0
	}
	w.ts[(w.head+w.n)%len(w.ts)] = t
	w.n++
}
