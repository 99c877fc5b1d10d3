package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher sends the decisions that wait at the same time in one pipeline:
// under load each request's EVALSHA would otherwise be a write and a read
// system call on both sides, about a quarter of the API's CPU on
// /public/status. A decision that finds fewer than maxInFlight pipelines
// out sends one itself at once (an idle server adds no wait and no
// goroutine); the others queue for the next pipeline, which a goroutine
// sends when the sender finds the queue not empty. Each decision is still
// its own EVALSHA (one command per request); only round trips are shared.
type batcher struct {
	client  redis.UniversalClient
	timeout time.Duration // of each pipeline: the store's Redis deadline

	mu       sync.Mutex
	queue    []*decisionCall
	inFlight int // senders: callers sending a pipeline, or flush goroutines
}

const (
	maxInFlight = 2   // pipelines out at once: one filling while one waits
	maxBatch    = 128 // decisions per pipeline
)

// decisionCall is one slidingLog run waiting for its pipeline.
type decisionCall struct {
	ctx  context.Context
	keys []string
	args []any
	res  []int64
	err  error
	done chan struct{}
}

// run makes one decision, in a pipeline of its own or in the next one. A
// queued caller waits at most until ctx ends; a sending one at most the
// pipeline's deadline.
func (b *batcher) run(ctx context.Context, keys []string, args ...any) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &decisionCall{ctx: ctx, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	send := b.inFlight < maxInFlight
	if send {
		b.inFlight++
	}
	b.mu.Unlock()
	if send {
		if batch := b.take(); batch != nil {
			b.send(batch)
			b.mu.Lock()
			more := len(b.queue) > 0
			if !more {
				b.inFlight--
			}
			b.mu.Unlock()
			if more {
				go b.flush() // keeps this sender's slot
			}
		}
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take removes the next batch from the queue; nil, and one sender fewer,
// when it is empty.
func (b *batcher) take() []*decisionCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), maxBatch)
	if n == 0 {
		b.inFlight--
		return nil
	}
	batch := make([]*decisionCall, n)
	copy(batch, b.queue)
	b.queue = append(b.queue[:0], b.queue[n:]...)
	return batch
}

// flush sends pipelines until the queue is empty.
func (b *batcher) flush() {
	for batch := b.take(); batch != nil; batch = b.take() {
		b.send(batch)
	}
}

// send runs batch as one pipeline, under a deadline of its own: no one
// caller's cancellation may cut the others' commands. A decision alone is
// sent as it was asked, under its caller's context.
func (b *batcher) send(batch []*decisionCall) {
	live := batch[:0]
	for _, c := range batch {
		if c.ctx.Err() != nil { // its caller has stopped waiting
			close(c.done)
		} else {
			live = append(live, c)
		}
	}
	switch len(live) {
	case 0:
		return
	case 1:
		c := live[0]
		c.res, c.err = slidingLog.Run(c.ctx, b.client, c.keys, c.args...).Int64Slice()
		close(c.done)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(live))
	for i, c := range live {
		cmds[i] = slidingLog.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command holds its own error
	for i, c := range live {
		cmd := cmds[i]
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			// The script cache was flushed: Run loads it again.
			cmd = slidingLog.Run(ctx, b.client, c.keys, c.args...)
		}
		c.res, c.err = cmd.Int64Slice()
		close(c.done)
	}
}
