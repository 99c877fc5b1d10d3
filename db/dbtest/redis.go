package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis returns a client for TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0),
// closed when the test ends, or (nil, false) when the variable is unset so
// the caller can skip. A set but unreachable URL fails the test: a typo
// should not silently skip every Redis test.
func Redis(tb testing.TB) (redis.UniversalClient, bool) {
	tb.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		return nil, false
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	tb.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		tb.Fatalf("TEST_REDIS_URL: ping: %v", err)
	}
	return client, true
}

// KeyPrefix returns a string unique to this test run, safe inside Redis
// keys and MATCH patterns: the test's name plus random hex.
func KeyPrefix(tb testing.TB) string {
	tb.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, tb.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t-" + name + "-" + hex.EncodeToString(b[:])
}

// DeleteKeys deletes every key matching the glob pattern when the test ends,
// on every master of a cluster.
func DeleteKeys(tb testing.TB, client redis.UniversalClient, pattern string) {
	tb.Helper()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		del := func(ctx context.Context, c redis.UniversalClient) error {
			iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				if err := c.Del(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		}
		var err error
		if cc, ok := client.(*redis.ClusterClient); ok {
			err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) })
		} else {
			err = del(ctx, client)
		}
		if err != nil {
			tb.Errorf("delete test keys %q: %v", pattern, err)
		}
	})
}
