package tokens

import (
	"crypto/sha256"
	"sync"
	"time"
)

// The verified-token cache spares the ~40 µs RS256 verification for tokens
// seen before. It is keyed by the SHA-256 of the whole token string, so only
// a byte-identical token can hit; it only ever holds tokens that passed full
// verification, and the service's keys and rules never change after New, so a
// hit inside the entry's time window is exactly what a full verification
// would answer. Outside the window (expired, or a clock moved backwards) the
// lookup is a miss and the full verification gives the answer.

const cacheShards = 16

type cacheKey = [sha256.Size]byte

type cacheEntry struct {
	claims      Claims
	from, until time.Time // accepted while from <= now < until
}

type verifiedCache struct {
	shards [cacheShards]cacheShard
}

// cacheShard evicts first-in-first-out: ring holds exactly the keys of
// entries, in insertion order, and next is the oldest once ring is full.
type cacheShard struct {
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
	ring    []cacheKey
	next    int
}

// newVerifiedCache holds about size entries (rounded up to fill every shard).
func newVerifiedCache(size int) *verifiedCache {
	per := max(1, (size+cacheShards-1)/cacheShards)
	c := &verifiedCache{}
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]cacheEntry, per)
		c.shards[i].ring = make([]cacheKey, 0, per)
	}
	return c
}

func (c *verifiedCache) shard(k cacheKey) *cacheShard {
	return &c.shards[k[0]%cacheShards] // SHA-256 output: uniformly spread
}

func (c *verifiedCache) get(k cacheKey, now time.Time) (Claims, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.entries[k]
	s.mu.RUnlock()
	if !ok || now.Before(e.from) || !now.Before(e.until) {
		return Claims{}, false
	}
	return e.claims, true
}

func (c *verifiedCache) put(k cacheKey, e cacheEntry) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[k]; ok {
		s.entries[k] = e
		return
	}
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, k)
	} else {
		delete(s.entries, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % len(s.ring)
	}
	s.entries[k] = e
}

// len returns the number of entries, for tests.
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
