// Package revocation keeps, in process, the sessions ended before their
// access tokens expire (logout, logout-all, a password or role change, a
// deleted user), so checking a token against them costs a map look-up and
// no PostgreSQL or Redis round trip.
//
// The database (models.SessionRevocation) is the source of truth: a mark is
// committed in the transaction that ends the session. After the commit it is
// published on a Redis channel, which every instance sharing the Redis
// applies within milliseconds. Pub/sub delivers at most once, and a silent
// connection cannot be told from a quiet one, so each instance also re-reads
// the recent marks from the database every Poll (2 s) whatever the channel's
// state, and the whole window at start and after every (re)subscription: an
// instance that missed a message refuses the token within Poll plus one
// query. Without Redis (the embedded default) marks are applied in process
// and the poll picks up those of other processes on the same database (the
// CLI).
package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"apisec/models"
)

// Defaults of Config.
const (
	DefaultChannel = "revocations"
	DefaultPoll    = 2 * time.Second
)

const (
	// overlap is how far back each poll re-reads before the previous one:
	// it covers a mark whose transaction took long to commit and writers
	// whose clocks run behind this one.
	overlap = time.Minute
	// pingEvery keeps the subscription's connection checked while quiet.
	pingEvery = 5 * time.Second
	// margin is how long marks stay in the database past Keep, for
	// instances whose clocks run behind.
	margin = time.Hour
)

// Expired is the instant before which marks matter to no instance: older
// than keep (Config.Keep) and its margin. The purge (app/retention)
// deletes them.
func Expired(now time.Time, keep time.Duration) time.Time { return now.Add(-keep - margin) }

// Config configures a Marks; DB, Now and Keep are required.
type Config struct {
	DB      *gorm.DB
	Redis   redis.UniversalClient // nil: this process and the database only
	Channel string                // DefaultChannel when empty
	Now     func() time.Time
	// Keep is how long a mark matters: the longest an access token issued
	// before it lives (the access-token TTL, the clock skew and a margin).
	Keep time.Duration
	Poll time.Duration // DefaultPoll when zero
	Log  *slog.Logger  // nil discards
}

// Marks is the set of ended sessions. Revoked is safe for concurrent use.
type Marks struct {
	cfg      Config
	sessions sync.Map // session id → time.Time of its mark (for pruning)

	stop context.CancelFunc
	done sync.WaitGroup
	ps   *redis.PubSub
}

// New returns an empty set; Start loads it and keeps it current.
func New(cfg Config) *Marks {
	if cfg.DB == nil || cfg.Now == nil || cfg.Keep <= 0 {
		panic("revocation.New: DB, Now and a positive Keep are required")
	}
	if cfg.Channel == "" {
		cfg.Channel = DefaultChannel
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Marks{cfg: cfg, stop: func() {}}
}

// Revoked reports whether session has been ended. This is the per-request
// check: one look-up in memory.
func (m *Marks) Revoked(session string) bool {
	_, ok := m.sessions.Load(session)
	return ok
}

// Start loads the marks of the last Keep, then follows the channel and polls
// the database until Close. It fails only when the first load does: an
// instance must not serve without the marks.
func (m *Marks) Start(ctx context.Context) error {
	since := m.cfg.Now().Add(-m.cfg.Keep)
	if err := m.load(ctx, since); err != nil {
		return err
	}
	ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	if m.cfg.Redis != nil {
		m.ps = m.cfg.Redis.Subscribe(ctx, m.cfg.Channel)
		m.done.Go(func() { m.listen(ctx) })
	}
	m.done.Go(func() { m.poll(ctx, since) })
	return nil
}

// Close stops following the channel and polling.
func (m *Marks) Close() error {
	m.stop()
	var err error
	if m.ps != nil {
		err = m.ps.Close()
	}
	m.done.Wait()
	return err
}

// message is what goes over the channel.
type message struct {
	At       int64    `json:"at"` // Unix milliseconds
	Sessions []string `json:"sessions"`
}

// Announce applies marks already committed to the database here at once and
// publishes them to the other instances. A failed publish is logged, not
// returned: the others read the marks from the database within Poll.
func (m *Marks) Announce(ctx context.Context, sessions []string, at time.Time) {
	if len(sessions) == 0 {
		return
	}
	m.add(sessions, at)
	if m.cfg.Redis == nil {
		return
	}
	payload, _ := json.Marshal(message{At: at.UnixMilli(), Sessions: sessions}) // cannot fail
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := m.cfg.Redis.Publish(ctx, m.cfg.Channel, payload).Err(); err != nil {
		m.cfg.Log.WarnContext(ctx, "revocation not published; other instances read it from the database",
			slog.Int("sessions", len(sessions)), slog.Duration("within", m.cfg.Poll), slog.String("error", err.Error()))
	}
}

func (m *Marks) add(sessions []string, at time.Time) {
	for _, id := range sessions {
		m.sessions.Store(id, at)
	}
}

// load applies the database's marks made at or after since.
func (m *Marks) load(ctx context.Context, since time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := models.RevocationsSince(m.cfg.DB.WithContext(ctx), since)
	if err != nil {
		return err
	}
	for _, r := range rows {
		m.sessions.Store(r.SessionID, r.RevokedAt)
	}
	return nil
}

// poll re-reads the recent marks every Poll and drops those no token can
// need any more. A failed read keeps its starting point, so the next
// success catches up.
func (m *Marks) poll(ctx context.Context, since time.Time) {
	tick := time.NewTicker(m.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := m.cfg.Now()
		if err := m.load(ctx, since); err != nil {
			if ctx.Err() == nil {
				m.cfg.Log.Warn("re-reading revocations failed", slog.String("error", err.Error()))
			}
			continue
		}
		since = now.Add(-overlap)
		m.sessions.Range(func(id, at any) bool {
			if at.(time.Time).Before(now.Add(-m.cfg.Keep)) {
				m.sessions.Delete(id)
			}
			return true
		})
	}
}

// listen applies the channel's messages. go-redis re-dials and
// re-subscribes after an error; each subscription confirmation reloads the
// whole window, so nothing published while it was away is missed.
func (m *Marks) listen(ctx context.Context) {
	up := true
	for ctx.Err() == nil {
		msg, err := m.ps.ReceiveTimeout(ctx, pingEvery)
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &ne) && ne.Timeout():
			_ = m.ps.Ping(ctx) // a dead connection fails the next receive
			continue
		case err != nil:
			if up {
				m.cfg.Log.Warn("revocation channel lost; polling the database", slog.Duration("every", m.cfg.Poll), slog.String("error", err.Error()))
				up = false
			}
			sleep(ctx, 200*time.Millisecond) // the next receive re-dials
			continue
		}
		switch v := msg.(type) {
		case *redis.Subscription:
			if v.Kind != "subscribe" {
				continue
			}
			if err := m.load(ctx, m.cfg.Now().Add(-m.cfg.Keep)); err != nil {
				m.cfg.Log.Warn("reloading revocations failed", slog.String("error", err.Error()))
			}
			if !up {
				m.cfg.Log.Info("revocation channel back")
				up = true
			}
		case *redis.Message:
			m.apply(v.Payload)
		}
	}
}

// apply adds the marks of one message; anything malformed is ignored.
func (m *Marks) apply(payload string) {
	var msg message
	if err := json.Unmarshal([]byte(payload), &msg); err != nil {
		m.cfg.Log.Warn("malformed revocation message ignored")
		return
	}
	at := time.UnixMilli(msg.At).UTC()
	for _, id := range msg.Sessions {
		if models.ValidID(id) {
			m.sessions.Store(id, at)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
