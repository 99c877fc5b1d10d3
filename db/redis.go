package db

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpenRedis connects to one Redis server (url) or, when clusterAddrs is not
// empty, to a Redis Cluster using url only for its credentials and options.
func OpenRedis(ctx context.Context, url string, clusterAddrs []string) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// Rate-limit decisions sit on every request: fail fast rather than hang.
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 500 * time.Millisecond
	opt.WriteTimeout = 500 * time.Millisecond
	opt.MaxRetries = 1
	opt.DialerRetries = 1
	// Callers' deadlines (REDIS_TIMEOUT) bound reads, writes and the wait
	// for a pooled connection, not only the timeouts above.
	opt.ContextTimeoutEnabled = true
	var client redis.UniversalClient
	if len(clusterAddrs) > 0 {
		client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        clusterAddrs,
			Username:     opt.Username,
			Password:     opt.Password,
			TLSConfig:    opt.TLSConfig,
			DialTimeout:  opt.DialTimeout,
			ReadTimeout:  opt.ReadTimeout,
			WriteTimeout: opt.WriteTimeout,
			MaxRetries:   opt.MaxRetries,

			ContextTimeoutEnabled: true,
		})
	} else {
		client = redis.NewClient(opt)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("connect to Redis: %w", err)
	}
	return client, nil
}
