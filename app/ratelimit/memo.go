package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// refusals remembers the keys a bucket refuses and until when, so a client
// past its budget is answered without asking the store (for Redis, a round
// trip per request of a flood).
//
// It is exact, not a guess. A decision that leaves a key's window full
// (n = limit) says its oldest slot, the first to leave, frees at ResetAt
// and no sooner: slots leave a sliding log only by expiring, oldest first,
// refused requests add none, and other instances can only add slots, of
// which none fit. So the store would refuse every request before ResetAt,
// with that same ResetAt. The exceptions, which the store has as well or
// which the memo leaves to the store:
//   - slots given back (Release): a limiter that gives back is not
//     remembered at all (Limiter.givesBack);
//   - keys deleted in Redis by hand: still refused here until their reset,
//     at most a window;
//   - an instance whose clock runs δ ahead expires entries δ early; the
//     memo refuses that δ longer than the store would, never less.
//
// It holds at most memoShards×memoPerShard keys whatever is sent: a full
// shard drops its expired entries, then the entry whose refusal ends first.
// While it is empty a lookup is one atomic load.
type refusals struct {
	held   atomic.Int64 // entries in all shards
	seed   maphash.Seed
	shards [memoShards]memoShard
}

const (
	memoShards   = 64
	memoPerShard = 64 // 4096 keys a limiter, about 0.5 MB at most
)

type memoShard struct {
	mu    sync.Mutex
	until map[string]time.Time
	_     [48]byte // one cache line per shard
}

func newRefusals() *refusals { return &refusals{seed: maphash.MakeSeed()} }

func (m *refusals) shard(key string) *memoShard {
	return &m.shards[maphash.String(m.seed, key)&(memoShards-1)]
}

// refused returns when key's remembered refusal ends, if it has not by now.
func (m *refusals) refused(key string, now time.Time) (time.Time, bool) {
	if m.held.Load() == 0 {
		return time.Time{}, false
	}
	sh := m.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t, ok := sh.until[key]
	if ok && !now.Before(t) {
		delete(sh.until, key)
		m.held.Add(-1)
		return time.Time{}, false
	}
	return t, ok
}

// remember records that key is refused until t. An entry still running is
// kept unless t is earlier: both are true, and the earlier is the reset the
// store would answer until then.
func (m *refusals) remember(key string, t, now time.Time) {
	if !now.Before(t) {
		return
	}
	sh := m.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.until == nil {
		sh.until = make(map[string]time.Time, memoPerShard)
	}
	if old, ok := sh.until[key]; ok {
		if now.Before(old) && !t.Before(old) {
			return
		}
	} else {
		if len(sh.until) >= memoPerShard {
			m.evict(sh, now)
		}
		m.held.Add(1)
	}
	sh.until[key] = t
}

// evict makes room in a full shard (sh.mu held): the expired entries, or
// else the one ending first, which saves the fewest store calls.
func (m *refusals) evict(sh *memoShard, now time.Time) {
	var first string
	var firstT time.Time
	found := false
	for k, t := range sh.until {
		if !now.Before(t) {
			delete(sh.until, k)
			m.held.Add(-1)
		} else if !found || t.Before(firstT) {
			first, firstT, found = k, t, true
		}
	}
	if len(sh.until) >= memoPerShard && found {
		delete(sh.until, first)
		m.held.Add(-1)
	}
}
