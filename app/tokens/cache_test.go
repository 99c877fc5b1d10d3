package tokens

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"apisec/app/errs"
	"apisec/models"
)

func TestVerifiedTokenIsServedFromTheCache(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	tok := mustIssue(t, s, testSub, models.RoleEditor, "free")
	first, err := s.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if s.cache.len() != 1 {
		t.Fatalf("cache holds %d entries; want 1", s.cache.len())
	}
	// Replace the cached claims: only a cache hit can return them.
	marked := first
	marked.Plan = "from-cache"
	s.cache.put(sha256.Sum256([]byte(tok)), cacheEntry{claims: marked, from: first.IssuedAt.Add(-testSkew), until: first.ExpiresAt})
	if c, err := s.Verify(tok); err != nil || c.Plan != "from-cache" {
		t.Errorf("second Verify = %+v, %v; want the cached claims", c, err)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	tok := mustIssue(t, s, testSub, models.RoleEditor, "free")
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(testTTL) // exactly exp: no skew on exp, in the cache either
	if _, err := s.Verify(tok); err != errs.ErrTokenExpired {
		t.Errorf("err = %v; want ErrTokenExpired", err)
	}
}

func TestCachedTokenIsNotServedBeforeItsIat(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	tok := mustIssue(t, s, testSub, models.RoleEditor, "free")
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(-time.Hour) // a clock stepped backwards
	if _, err := s.Verify(tok); err != errs.ErrInvalidToken {
		t.Errorf("err = %v; want ErrInvalidToken, as without a cache", err)
	}
}

func TestNoOtherByteStringIsServedForACachedToken(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	tok := mustIssue(t, s, testSub, models.RoleAdmin, "free")
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	tried := 0
	for i := range len(tok) {
		// Low bit, case bit, and the neighbouring base64 character (which
		// only touches the unused trailing bits of a segment's last char).
		subs := []byte{tok[i] ^ 0x01, tok[i] ^ 0x20}
		if j := strings.IndexByte(alphabet, tok[i]); j >= 0 {
			subs = append(subs, alphabet[j^1])
		}
		for _, b := range subs {
			mutated := tok[:i] + string(b) + tok[i+1:]
			if mutated == tok {
				continue
			}
			tried++
			if c, err := s.Verify(mutated); err == nil {
				t.Fatalf("byte %d changed to %q verifies as %+v", i, b, c)
			}
		}
	}
	for _, mutated := range []string{tok[1:], tok[:len(tok)-1], tok + "A", tok + ".", " " + tok} {
		if _, err := s.Verify(mutated); err == nil {
			t.Fatalf("%q verifies", mutated)
		}
	}
	if _, err := s.Verify(tok); err != nil {
		t.Fatalf("original no longer verifies: %v", err)
	}
	if s.cache.len() != 1 {
		t.Errorf("cache holds %d entries after %d rejected tokens; want 1", s.cache.len(), tried)
	}
}

func TestCacheSizeIsBounded(t *testing.T) {
	t.Parallel()
	c := newVerifiedCache(64)
	var last cacheKey
	for i := range 10_000 {
		last = sha256.Sum256(fmt.Appendf(nil, "token-%d", i))
		c.put(last, cacheEntry{until: time.Now().Add(time.Hour)})
	}
	if n := c.len(); n > 64 {
		t.Errorf("cache holds %d entries; bound is 64", n)
	}
	if _, ok := c.get(last, time.Now()); !ok {
		t.Error("the newest entry was evicted")
	}
	for i := range c.shards {
		sh := &c.shards[i]
		if len(sh.entries) != len(sh.ring) {
			t.Errorf("shard %d: %d entries, %d ring keys", i, len(sh.entries), len(sh.ring))
		}
		for _, k := range sh.ring {
			if _, ok := sh.entries[k]; !ok {
				t.Errorf("shard %d: ring key without entry", i)
			}
		}
	}
}

func TestDisabledCacheStillVerifies(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, func(c *Config) { c.CacheSize = -1 })
	if s.cache != nil {
		t.Fatal("negative CacheSize did not disable the cache")
	}
	tok := mustIssue(t, s, testSub, models.RoleViewer, "free")
	for range 2 {
		if _, err := s.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentVerifyThroughASmallCache(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, func(c *Config) { c.CacheSize = 4 })
	toks := make([]string, 32)
	for i := range toks {
		toks[i] = mustIssue(t, s, fmt.Sprintf("00000000-0000-4000-8000-%012d", i), models.RoleViewer, "free")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 64 {
				n := (g + i) % len(toks)
				c, err := s.Verify(toks[n])
				if err != nil || c.Subject != fmt.Sprintf("00000000-0000-4000-8000-%012d", n) {
					t.Errorf("token %d: %+v, %v", n, c, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
