package mail

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultSendTimeout bounds one background send when NewAsync is given no
// timeout.
const DefaultSendTimeout = 30 * time.Second

// Async is a Mailer that sends through another in the background, so a
// request does not wait for the SMTP server. A failure is logged with the
// message's Kind and UserID, never its text (which holds a token), and loses
// nothing but the e-mail: the user can ask for another.
type Async struct {
	next    Mailer
	log     *slog.Logger
	timeout time.Duration
	// Observe, when set, is told the outcome of every send (for metrics).
	Observe func(kind string, err error)

	mu     sync.Mutex // guards closed and wg.Add against Close's Wait
	closed bool
	wg     sync.WaitGroup
}

// NewAsync returns an Async over next; each send gets timeout
// (DefaultSendTimeout when zero). log nil discards.
func NewAsync(next Mailer, log *slog.Logger, timeout time.Duration) *Async {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	return &Async{next: next, log: log, timeout: timeout}
}

// Send starts sending m and returns nil: failures are logged, not returned.
// The send outlives the request, so it keeps ctx's values but not its
// cancellation. After Close, Send sends before it returns.
func (a *Async) Send(ctx context.Context, m Message) error {
	ctx = context.WithoutCancel(ctx)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.send(ctx, m)
		return nil
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		a.send(ctx, m)
	}()
	return nil
}

func (a *Async) send(ctx context.Context, m Message) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	err := a.next.Send(ctx, m)
	if a.Observe != nil {
		a.Observe(m.Kind, err)
	}
	if err != nil {
		a.log.ErrorContext(ctx, "send e-mail failed",
			slog.String("kind", m.Kind), slog.String("user_id", m.UserID), slog.String("error", err.Error()))
	}
}

// Close waits for the sends under way (each bounded by the timeout). It
// always returns nil.
func (a *Async) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wg.Wait()
	return nil
}
