package db

import (
	"context"
	"errors"
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
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:         clusterAddrs,
			Username:      opt.Username,
			Password:      opt.Password,
			TLSConfig:     opt.TLSConfig,
			DialTimeout:   opt.DialTimeout,
			ReadTimeout:   opt.ReadTimeout,
			WriteTimeout:  opt.WriteTimeout,
			MaxRetries:    opt.MaxRetries,
			DialerRetries: opt.DialerRetries,
			// The slot map is re-read this often even when nothing fails
			// (default 60 s), one CLUSTER SLOTS per interval.
			ClusterStateReloadInterval: ClusterReloadInterval,

			ContextTimeoutEnabled: true,
		})
		cc.AddHook(reloadOnFailure{cc})
		client = cc
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

// ClusterReloadInterval is how stale a cluster client's slot map may get
// without errors to say so.
const ClusterReloadInterval = 2 * time.Second

// reloadOnFailure re-reads the slot map after a command fails for want of
// an answer (refused, reset, timed out) or because the cluster is between
// masters. go-redis reloads only on MOVED, ASK and READONLY, and a dead
// master sends none of them: without this a client keeps dialing it until
// the next periodic reload (go-redis issue 3979). Reloads coalesce inside
// go-redis (one at a time, 200 ms apart), so a burst of failures costs one.
type reloadOnFailure struct{ c *redis.ClusterClient }

func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if topologySuspect(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if topologySuspect(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

// topologySuspect tells errors that may mean a node is gone from those that
// say nothing about the topology: a caller that went away, a missing key,
// an ordinary reply error (NOSCRIPT, WRONGTYPE).
func topologySuspect(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return redis.HasErrorPrefix(err, "CLUSTERDOWN") || redis.HasErrorPrefix(err, "TRYAGAIN")
	}
	return true
}
