// Package accounts is the service behind every /auth route and the operator
// CLI: registration and e-mail verification, login, refresh-token rotation,
// logout, password change and reset, and role and plan changes. It knows
// nothing of HTTP; its errors are errs.Error kinds or wrapped infrastructure
// errors.
package accounts

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"apisec/app/mail"
	"apisec/app/metrics"
	"apisec/app/passwords"
	"apisec/app/tokens"
	"apisec/db"
)

// Lifetimes of the single-use tokens mailed to users (fixed by the contract).
const (
	VerificationTTL = 24 * time.Hour
	ResetTTL        = time.Hour
)

// UniformAnswerTime is the least time resend and forgot take. An insert and
// its commit (WAL flush) for a real account take measurably longer than the
// no-op for an unknown one; answering no sooner than this hides that.
const UniformAnswerTime = 150 * time.Millisecond

// padTo sleeps until d has passed since start, or ctx ends. It uses the
// real clock on purpose: it hides real durations.
func padTo(ctx context.Context, start time.Time, d time.Duration) {
	t := time.NewTimer(d - time.Since(start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// DefaultSessionMaxAge is SESSION_MAX_AGE's default, used when
// Deps.SessionMaxAge is zero.
const DefaultSessionMaxAge = 720 * time.Hour

// Deps is what the service needs; DB, Tokens, Successors, Hasher and Mailer
// are required.
type Deps struct {
	DB         *gorm.DB
	Tokens     *tokens.Service
	Successors *tokens.SuccessorKey
	Hasher     *passwords.Hasher
	Mailer     mail.Mailer      // mail.Async in the App, so no request waits for SMTP
	Log        *slog.Logger     // nil discards
	Now        func() time.Time // the clock for every timestamp; nil means time.Now
	BaseURL    string           // APP_BASE_URL, the start of every link in an e-mail

	RefreshTTL    time.Duration // REFRESH_TOKEN_TTL
	SessionMaxAge time.Duration // SESSION_MAX_AGE; DefaultSessionMaxAge when zero
	DeviceTTL     time.Duration // DEVICE_TOKEN_TTL; zero issues no device tokens
	ReuseGrace    time.Duration // REFRESH_REUSE_GRACE; zero treats every reuse as theft
	ExposeTokens  bool          // config.ExposesTokens: return verification and reset tokens to the caller
	Revocations   Announcer     // told of every session ended early; nil: nobody
	// Cooldown holds back a resend or reset e-mail sent to the same address
	// within MAIL_COOLDOWN; nil holds none back.
	Cooldown Cooldown
	// DummyKey keys the choice of an unknown address's dummy bcrypt cost
	// (see dummyCost); every instance must have the same. nil: a random
	// key, for this process only.
	DummyKey []byte
	// Metrics counts login outcomes, refresh reuse and bcrypt rejections;
	// nil counts nothing.
	Metrics *metrics.Metrics
}

// Cooldown admits at most one event per key per period.
type Cooldown interface {
	Admit(ctx context.Context, key string) (bool, error)
}

// Service implements the account flows. It is safe for concurrent use.
type Service struct {
	db          *gorm.DB
	tokens      *tokens.Service
	successors  *tokens.SuccessorKey
	hasher      *passwords.Hasher
	mailer      mail.Mailer
	log         *slog.Logger
	clock       func() time.Time
	baseURL     string
	refreshTTL  time.Duration
	deviceTTL   time.Duration
	maxAge      time.Duration
	accessTTL   time.Duration // how long an access token may outlive the refresh token issued with it
	revocations Announcer
	reuseGrace  time.Duration
	expose      bool
	cooldown    Cooldown
	metrics     *metrics.Metrics

	dummyKey  []byte
	costs     atomic.Pointer[costShares] // nil until first read
	costsBusy atomic.Bool                // a background RefreshCosts runs
	costsSeq  atomic.Uint64              // RefreshCosts calls begun

	bgMu   sync.Mutex // guards closed and bgWG.Add against Close's Wait
	closed bool
	bgWG   sync.WaitGroup
}

// TokenPair is the answer to a login or a refresh.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int64  // access-token lifetime in seconds
	DeviceToken  string // a login's only: see AccountKey
}

// New returns a Service over d. It panics when a required dependency is
// missing: that is a wiring bug, found at start-up.
func New(d Deps) *Service {
	if d.DB == nil || d.Tokens == nil || d.Successors == nil || d.Hasher == nil || d.Mailer == nil {
		panic("accounts.New: DB, Tokens, Successors, Hasher and Mailer are required")
	}
	if d.RefreshTTL <= 0 {
		panic("accounts.New: RefreshTTL must be positive")
	}
	s := &Service{
		db: d.DB, tokens: d.Tokens, successors: d.Successors, hasher: d.Hasher, mailer: d.Mailer,
		log: d.Log, clock: d.Now, baseURL: d.BaseURL,
		refreshTTL: d.RefreshTTL, maxAge: d.SessionMaxAge, deviceTTL: d.DeviceTTL, reuseGrace: max(d.ReuseGrace, 0), expose: d.ExposeTokens,
		accessTTL: d.Tokens.TTL(), revocations: d.Revocations,
		cooldown: d.Cooldown, dummyKey: d.DummyKey, metrics: d.Metrics,
	}
	if s.dummyKey == nil {
		s.dummyKey = []byte(rand.Text())
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxAge <= 0 {
		s.maxAge = DefaultSessionMaxAge
	}
	return s
}

// NewOperator returns a Service for the operator commands only (CreateUser,
// SetRole, SetPlan, DeleteUser), which need no keys or mailer; the HTTP
// flows need a Service from New. accessTTL is ACCESS_TOKEN_TTL, which
// sessions to end depends on; revocations (may be nil) tells the running
// instances.
func NewOperator(db *gorm.DB, hasher *passwords.Hasher, log *slog.Logger, now func() time.Time, accessTTL time.Duration, revocations Announcer) *Service {
	if db == nil || hasher == nil {
		panic("accounts.NewOperator: DB and Hasher are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, hasher: hasher, log: log, clock: now, accessTTL: accessTTL,
		revocations: revocations, dummyKey: []byte(rand.Text())}
}

// Close waits for the background work under way (see background); none
// starts after it. The mailer has a Close of its own.
func (s *Service) Close() {
	s.bgMu.Lock()
	s.closed = true
	s.bgMu.Unlock()
	s.bgWG.Wait()
}

// now is the service's clock in UTC, at the microsecond precision both
// database engines keep, so a timestamp read back equals the one written.
func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// tx runs fn in one transaction on the request's context, bounded by the
// database's query timeout.
func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return db.Transaction(ctx, s.db, fn)
}

// sendMail hands m to the mailer, tagged with what it is for and whom. A
// failure is logged with the user id, never the message, which holds a
// token (mail.Async logs its own, later ones).
func (s *Service) sendMail(ctx context.Context, kind, userID string, m mail.Message) {
	m.Kind, m.UserID = kind, userID
	if err := s.mailer.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "send e-mail failed",
			slog.String("kind", kind), slog.String("user_id", userID), slog.String("error", err.Error()))
	}
}

// exposed returns token when the service may hand tokens to the caller.
func (s *Service) exposed(token string) string {
	if s.expose {
		return token
	}
	return ""
}
