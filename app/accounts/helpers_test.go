package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"apisec/app/clocktest"
	"apisec/app/errs"
	"apisec/app/mail"
	"apisec/app/mail/smtptest"
	"apisec/app/passwords"
	"apisec/app/tokens"
	"apisec/db/dbtest"
	"apisec/models"
)

const (
	testBaseURL    = "https://app.example.test"
	testPassword   = "Correct7Horse!Battery"
	testRefreshTTL = 168 * time.Hour
	testGrace      = 10 * time.Second
)

// RSA key generation is slow; the test binary makes its key once.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testClock is the injected clock; tests move it by hand.
type testClock = clocktest.Clock

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is one test's service on its own database, clock and SMTP server.
type env struct {
	svc    *Service
	mail   *mail.Async // deps.Mailer
	deps   Deps
	db     *gorm.DB
	clock  *testClock
	smtp   *smtptest.Server
	tokens *tokens.Service
	logs   *syncBuffer
	seen   int // e-mails the test has read
}

// newEnv builds a service whose mail goes to a loopback SMTP server; edit
// may change the dependencies first.
func newEnv(t *testing.T, edit ...func(*Deps)) *env {
	t.Helper()
	gdb, _ := dbtest.New(t)
	e := &env{
		db:    gdb,
		clock: clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		smtp:  smtptest.Start(t),
		logs:  &syncBuffer{},
	}
	var err error
	e.tokens, err = tokens.New(tokens.Config{
		PrivateKey: testKey(), Issuer: "https://api.example.test", Audience: "apisec-test",
		TTL: 15 * time.Minute, ClockSkew: 5 * time.Second, Clock: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	successors, err := tokens.NewSuccessorKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := passwords.NewHasher(4, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.deps = Deps{
		DB: gdb, Tokens: e.tokens, Successors: successors, Hasher: hasher,
		Mailer:  smtpMailer(t, e.smtp.Host(), e.smtp.Port()),
		Log:     slog.New(slog.NewTextHandler(e.logs, nil)),
		Now:     e.clock.Now,
		BaseURL: testBaseURL, RefreshTTL: testRefreshTTL, ReuseGrace: testGrace,
		ExposeTokens: true,
	}
	for _, fn := range edit {
		fn(&e.deps)
	}
	e.mail = mail.NewAsync(e.deps.Mailer, e.deps.Log, 5*time.Second)
	e.deps.Mailer = e.mail
	e.svc = New(e.deps)
	t.Cleanup(func() { e.mail.Close() })
	t.Cleanup(e.svc.Close)
	return e
}

func smtpMailer(t *testing.T, host string, port int) mail.Mailer {
	t.Helper()
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "noreply@example.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

var linkToken = regexp.MustCompile(`token=([0-9a-f]{64})`)

// waitMail returns the next e-mail, checks its recipient and that its link
// starts with prefix, and returns the link's token.
func (e *env) waitMail(t *testing.T, to, prefix string) string {
	t.Helper()
	m := e.smtp.WaitMessage(t, 5*time.Second)
	e.seen++
	if len(m.To) != 1 || m.To[0] != to {
		t.Fatalf("mail to %v, want %s", m.To, to)
	}
	if !bytes.Contains([]byte(m.Body), []byte(prefix)) {
		t.Fatalf("mail body lacks %q:\n%s", prefix, m.Body)
	}
	match := linkToken.FindStringSubmatch(m.Body)
	if match == nil {
		t.Fatalf("no token in mail body:\n%s", m.Body)
	}
	return match[1]
}

// noMail waits for background sends to finish and checks that none
// arrived besides those the test read.
func (e *env) noMail(t *testing.T) {
	t.Helper()
	e.mail.Close()
	if n := len(e.smtp.Messages()) - e.seen; n != 0 {
		t.Fatalf("%d e-mails sent, want none", n)
	}
}

// register creates a user and returns the exposed verification token.
func (e *env) register(t *testing.T, email string) (*models.User, string) {
	t.Helper()
	u, token, err := e.svc.Register(context.Background(), email, testPassword)
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return u, token
}

// verifiedUser registers and verifies email and consumes its e-mail.
func (e *env) verifiedUser(t *testing.T, email string) *models.User {
	t.Helper()
	u, token := e.register(t, email)
	e.waitMail(t, u.Email, "/auth/verify?token=")
	if err := e.svc.Verify(context.Background(), token); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return u
}

// login signs in with testPassword.
func (e *env) login(t *testing.T, email string) TokenPair {
	t.Helper()
	p, err := e.svc.Login(context.Background(), email, testPassword)
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return p
}

// count counts rows of table matching where.
func (e *env) count(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := e.db.Table(table)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// wantErr fails unless err is the contract error want (compared by value, so
// wrapped and distinct-but-equal errors match).
func wantErr(t *testing.T, err error, want *errs.Error) {
	t.Helper()
	got, ok := errs.As(err)
	if !ok || got.Kind != want.Kind || got.Message != want.Message {
		t.Fatalf("error = %v, want kind %d %q", err, want.Kind, want.Message)
	}
}

// parallel runs fn n times at once and returns the errors.
func parallel(n int, fn func(i int) error) []error {
	out := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}
