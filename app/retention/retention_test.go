package retention

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"apisec/app/clocktest"
	"apisec/db"
	"apisec/db/dbtest"
	"apisec/models"
)

const (
	unverifiedTTL = 168 * time.Hour
	loginsKept    = 2160 * time.Hour
	sessionMaxAge = 720 * time.Hour
	marksKept     = 15*time.Minute + 5*time.Second + time.Minute // as app computes it from the defaults
)

var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is one test's database, clock and purge log.
type fixture struct {
	t      *testing.T
	db     *gorm.DB
	engine db.Engine
	clock  *clocktest.Clock
	logs   *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	gdb, engine := dbtest.New(t)
	return &fixture{t: t, db: gdb, engine: engine, clock: clocktest.New(start), logs: &bytes.Buffer{}}
}

func (f *fixture) purger(batch int) *Purger {
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: f.logs}, nil))
	return New(f.db, f.clock.Now, log, Config{LoginEventsRetention: loginsKept, UnverifiedAccountTTL: unverifiedTTL,
		SessionMaxAge: sessionMaxAge, RevocationKeep: marksKept, BatchSize: batch})
}

func (f *fixture) user(id string, verified bool, created time.Time) string {
	f.t.Helper()
	must(f.t, models.CreateUser(f.db, &models.User{ID: id, Email: id + "@example.com", PasswordHash: "x",
		Role: models.RoleViewer, Plan: models.DefaultPlan, EmailVerified: verified, CreatedAt: created, UpdatedAt: created}))
	return id
}

func (f *fixture) refresh(id, userID string, expires time.Time, replaced, revoked bool) {
	f.t.Helper()
	t := &models.RefreshToken{ID: id, UserID: userID, FamilyID: "family-" + userID, TokenHash: "hash-" + id,
		ExpiresAt: expires, CreatedAt: expires.Add(-time.Hour)}
	past := expires.Add(-time.Minute)
	if replaced {
		t.ReplacedAt = &past
	}
	if revoked {
		t.RevokedAt = &past
	}
	must(f.t, models.CreateRefreshToken(f.db, t))
}

func (f *fixture) accountToken(id, userID string, expires time.Time, used bool) {
	f.t.Helper()
	t := &models.AccountToken{ID: id, UserID: userID, Purpose: models.PurposeVerifyEmail, TokenHash: "hash-" + id,
		ExpiresAt: expires, CreatedAt: expires.Add(-24 * time.Hour)}
	if used {
		at := expires.Add(-time.Hour)
		t.UsedAt = &at
	}
	must(f.t, models.CreateAccountToken(f.db, t))
}

func (f *fixture) loginEvent(id, userID string, at time.Time) {
	f.t.Helper()
	must(f.t, f.db.Create(&models.LoginEvent{ID: id, UserID: userID, CreatedAt: at}).Error)
}

func (f *fixture) session(id, userID string, created time.Time) {
	f.t.Helper()
	must(f.t, models.CreateSession(f.db, &models.Session{ID: id, UserID: userID, CreatedAt: created}))
}

// ids lists the ids left in table, sorted.
func (f *fixture) ids(table string) []string {
	f.t.Helper()
	key := "id"
	if table == "session_revocations" {
		key = "session_id"
	}
	var ids []string
	must(f.t, f.db.Table(table).Order(key).Pluck(key, &ids).Error)
	return ids
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Every rule takes exactly its rows, to the boundary: a refresh token from
// its expiry on (whatever its state), a used or expired e-mail token, a login
// event older than the retention, a session older than SESSION_MAX_AGE, a
// session mark older than the access tokens it could refuse and its
// margin, an unverified account older than its TTL with everything it owns;
// never a verified account or a neighbour's rows.
func TestPurgeDeletesExactlyWhatTheRulesSay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := start
	verified := f.user("verified", true, now.Add(-10*unverifiedTTL))
	stale := f.user("stale", false, now.Add(-unverifiedTTL-time.Second))
	f.user("boundary", false, now.Add(-unverifiedTTL))
	fresh := f.user("fresh", false, now.Add(-time.Hour))

	f.refresh("rt-expired", verified, now.Add(-time.Second), false, false)
	f.refresh("rt-expires-now", verified, now, false, false)
	f.refresh("rt-revoked-expired", verified, now.Add(-time.Hour), false, true)
	f.refresh("rt-spent-expired", verified, now.Add(-time.Hour), true, false)
	f.refresh("rt-spent-live", verified, now.Add(time.Second), true, false)
	f.refresh("rt-revoked-live", verified, now.Add(time.Second), false, true)
	f.refresh("rt-live", verified, now.Add(time.Hour), false, false)
	f.refresh("rt-stale-live", stale, now.Add(time.Hour), false, false)     // goes with its account
	f.refresh("rt-fresh-expired", fresh, now.Add(-time.Hour), false, false) // goes by the token rule

	f.accountToken("at-used", verified, now.Add(time.Hour), true)
	f.accountToken("at-expires-now", verified, now, false)
	f.accountToken("at-open", verified, now.Add(time.Second), false)
	f.accountToken("at-stale-open", stale, now.Add(time.Hour), false) // goes with its account
	f.accountToken("at-fresh-open", fresh, now.Add(time.Hour), false)

	f.loginEvent("le-old", verified, now.Add(-loginsKept-time.Second))
	f.loginEvent("le-boundary", verified, now.Add(-loginsKept))
	f.loginEvent("le-recent", verified, now.Add(-time.Minute))
	f.loginEvent("le-stale", stale, now.Add(-time.Minute)) // goes with its account
	must(t, models.CreateProject(f.db, &models.Project{ID: "p-stale", Name: "s", OwnerID: stale, CreatedAt: now}))
	must(t, models.CreateProject(f.db, &models.Project{ID: "p-verified", Name: "v", OwnerID: verified, CreatedAt: now}))

	f.session("s-over", verified, now.Add(-sessionMaxAge-time.Second))
	f.session("s-over-too", verified, now.Add(-10*sessionMaxAge))
	f.session("s-boundary", verified, now.Add(-sessionMaxAge))
	f.session("s-live", verified, now.Add(-time.Hour))
	f.session("s-stale", stale, now.Add(-time.Hour)) // goes with its account

	expired := now.Add(-marksKept - time.Hour)
	must(t, models.RecordRevocations(f.db, []string{"m-old"}, expired.Add(-time.Second)))
	must(t, models.RecordRevocations(f.db, []string{"m-boundary"}, expired))
	must(t, models.RecordRevocations(f.db, []string{"m-past-keep"}, now.Add(-marksKept-time.Second))) // the margin
	must(t, models.RecordRevocations(f.db, []string{"m-recent"}, now.Add(-time.Minute)))

	counts, err := f.purger(2).Run(context.Background()) // batches of 2: several per table
	must(t, err)
	want := []Count{{"refresh_tokens", 5}, {"account_tokens", 2}, {"login_events", 1}, {"sessions", 2}, {"session_revocations", 1}, {"users", 1}}
	if !slices.Equal(counts, want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	for table, kept := range map[string][]string{
		"users":          {"boundary", "fresh", "verified"},
		"refresh_tokens": {"rt-live", "rt-revoked-live", "rt-spent-live"},
		"account_tokens": {"at-fresh-open", "at-open"},
		"login_events":   {"le-boundary", "le-recent"},
		"projects":       {"p-verified"},
		"sessions":       {"s-boundary", "s-live"},
		// Marks the revocation package still loads stay.
		"session_revocations": {"m-boundary", "m-past-keep", "m-recent"},
	} {
		if got := f.ids(table); !slices.Equal(got, kept) {
			t.Errorf("%s left %v, want %v", table, got, kept)
		}
	}
	counts, err = f.purger(2).Run(context.Background())
	must(t, err)
	if want := []Count{{"refresh_tokens", 0}, {"account_tokens", 0}, {"login_events", 0}, {"sessions", 0}, {"session_revocations", 0}, {"users", 0}}; !slices.Equal(counts, want) {
		t.Fatalf("second run %v, want zeros", counts)
	}
}

// Two instances purging at once share the rows: together they delete each
// expired row once, leave every live one and neither fails.
func TestConcurrentPurgesShareTheWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("owner", true, start.Add(-time.Hour))
	const expired, live = 600, 50
	rows := make([]models.RefreshToken, 0, expired+live)
	for i := range expired + live {
		exp := start.Add(-time.Duration(i+1) * time.Second)
		if i >= expired {
			exp = start.Add(time.Hour)
		}
		rows = append(rows, models.RefreshToken{ID: models.NewID(), UserID: u, FamilyID: "f", TokenHash: models.NewID(),
			ExpiresAt: exp, CreatedAt: start.Add(-2 * time.Hour)})
	}
	must(t, f.db.CreateInBatches(rows, 200).Error)

	var wg sync.WaitGroup
	results := make([][]Count, 2)
	errs := make([]error, 2)
	begin := make(chan struct{})
	for i := range 2 {
		wg.Go(func() {
			<-begin
			results[i], errs[i] = f.purger(20).Run(context.Background())
		})
	}
	close(begin)
	wg.Wait()
	var total int64
	for i := range 2 {
		must(t, errs[i])
		total += results[i][0].Deleted
	}
	t.Logf("split %d/%d", results[0][0].Deleted, results[1][0].Deleted)
	if total != expired {
		t.Fatalf("the two purges deleted %d + %d refresh tokens, want %d in all", results[0][0].Deleted, results[1][0].Deleted, expired)
	}
	if n := len(f.ids("refresh_tokens")); n != live {
		t.Fatalf("%d refresh tokens left, want the %d live ones", n, live)
	}
}

// A purge never deadlocks a request, nor waits on one for long. A
// verification spends its token (locking that row) and then updates the user;
// a purge of the same stale account locks the user and cascades to the
// token. The purge gives up its batch after a short lock timeout, before
// PostgreSQL's deadlock detector would kill either side, and the request
// completes. (SQLite has one writer: no such cycle.)
func TestPurgeYieldsToARequestHoldingWhatItNeeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if f.engine != db.Postgres {
		t.Skip("row locks are PostgreSQL's")
	}
	stale := f.user("stale", false, start.Add(-unverifiedTTL-time.Hour))
	f.accountToken("link", stale, start.Add(time.Hour), false)
	ctx := context.Background()
	verify := f.db.Begin()
	defer verify.Rollback()
	must(t, verify.Exec("UPDATE account_tokens SET used_at = ? WHERE id = 'link'", start).Error)

	// Held for good: the purge leaves the account for the next run, without
	// failing and without waiting long (not until this deadline).
	held, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	counts, err := f.purger(10).Run(held)
	must(t, err)
	if counts[len(counts)-1] != (Count{"users", 0}) || !bytes.Contains(f.logs.Bytes(), []byte("rows stay locked")) {
		t.Fatalf("counts %v, log %s", counts, f.logs)
	}

	// Released by the request finishing: the purge yields, the account is verified and stays.
	done := make(chan error, 1)
	go func() { _, err := f.purger(10).Run(ctx); done <- err }()
	for waiting := int64(0); waiting == 0; {
		must(t, f.db.Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").
			Scan(&waiting).Error)
		time.Sleep(5 * time.Millisecond) // another process's progress: nothing to inject
	}
	must(t, verify.Exec("UPDATE users SET email_verified = TRUE WHERE id = ?", stale).Error)
	must(t, verify.Commit().Error)
	must(t, <-done)
	if got := f.ids("users"); !slices.Equal(got, []string{"stale"}) {
		t.Fatalf("users left %v", got)
	}
}

// An account being verified while a purge runs is neither waited for nor
// deleted: the purge skips rows that requests hold (SKIP LOCKED), and a row
// chosen without its lock would be deleted after the verification commits,
// since that DELETE checks only the ids it picked from its snapshot.
func TestPurgeSkipsAnAccountBeingVerified(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if f.engine != db.Postgres {
		t.Skip("row locks are PostgreSQL's")
	}
	stale := f.user("stale", false, start.Add(-unverifiedTTL-time.Hour))
	verify := f.db.Begin()
	defer verify.Rollback()
	must(t, verify.Exec("UPDATE users SET email_verified = TRUE WHERE id = ?", stale).Error)

	done := make(chan error, 1)
	go func() { _, err := f.purger(10).Run(context.Background()); done <- err }()
	var err error
	for finished := false; !finished; {
		select {
		case err = <-done:
			finished = true
		case <-time.After(5 * time.Millisecond):
			var waiting int64
			must(t, f.db.Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").
				Scan(&waiting).Error)
			if waiting > 0 {
				t.Error("the purge waited for the account a request holds")
				must(t, verify.Commit().Error)
				err, finished = <-done, true
			}
		}
	}
	must(t, err)
	verify.Commit()
	if got := f.ids("users"); !slices.Equal(got, []string{"stale"}) {
		t.Fatalf("users left %v", got)
	}
}
