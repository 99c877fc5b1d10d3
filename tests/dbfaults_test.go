package tests

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"apisec/app/tokens"
	"apisec/db"
	"apisec/db/dbtest"
	"apisec/models"
)

// The contract's Faults section, end to end: PostgreSQL and Redis behind
// dbtest proxies that reset or black-hole their connections, under load.

// faultQueryTimeout keeps the black-hole phases short.
const faultQueryTimeout = 300 * time.Millisecond

// dbBound is the contract's: DB_QUERY_TIMEOUT plus a second.
const dbBound = faultQueryTimeout + time.Second

// redisTimeout is the contract's REDIS_TIMEOUT default. A request asks up
// to four limiters (global, login, account, the bad-token peek) before their
// breakers open, and the machine runs -race: redisBound allows for that.
const (
	redisTimeout = 100 * time.Millisecond
	redisBound   = time.Second
)

func faultVars() map[string]string {
	v := unlimited()
	v["DB_QUERY_TIMEOUT"] = faultQueryTimeout.String()
	return v
}

// proxiedPostgres starts the API on its own PostgreSQL database reached
// through a proxy, or skips: SQLite has no connection to cut.
func proxiedPostgres(t *testing.T, vars map[string]string) (*env, *dbtest.Proxy) {
	t.Helper()
	if os.Getenv("TEST_DATABASE_URL") == "" {
		t.Skip("needs TEST_DATABASE_URL: an embedded SQLite file has no connection to cut")
	}
	proxy, url := dbtest.ProxyURL(t, dbtest.URL(t))
	vars["DATABASE_URL"] = url
	e := newEnv(t, vars)
	t.Cleanup(func() { proxy.SetMode(dbtest.Forward) }) // runs before the env closes
	return e, proxy
}

func TestALockedDatabaseAnswers503WithinTheQueryTimeoutAndSpendsNothing(t *testing.T) {
	t.Parallel()
	vars := faultVars()
	vars["DATABASE_URL"] = dbtest.URL(t)
	e := newEnv(t, vars)
	s := userWithRole(t, e, "locked@example.test", "editor")

	// Another client holds the locks the writes need: SQLite's one write
	// lock (BEGIN IMMEDIATE), PostgreSQL's table locks.
	holder, engine, err := db.Open(context.Background(), vars["DATABASE_URL"], db.Options{MaxOpenConns: 1, MaxIdleConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB, _ := holder.DB(); sqlDB.Close() })
	tx := holder.Begin()
	if engine == db.Postgres {
		tx.Exec("LOCK TABLE users, projects IN EXCLUSIVE MODE")
	}
	if tx.Error != nil {
		t.Fatal(tx.Error)
	}
	// Without a bound the requests would wait for the lock; let it go late
	// rather than hang the test.
	release := sync.OnceFunc(func() { tx.Rollback() })
	time.AfterFunc(3*time.Second, release)

	for _, req := range []struct{ path, body string }{
		{"/projects", `{"name":"under lock"}`},                    // one statement
		{"/auth/refresh", `{"refreshToken":"` + s.Refresh + `"}`}, // a transaction
	} {
		start := time.Now()
		r := e.do("POST", req.path, req.body, bearer(s.Access)...)
		took := time.Since(start)
		expect(t, r, http.StatusServiceUnavailable, "Service unavailable")
		if took > dbBound {
			t.Fatalf("POST %s answered after %v, over %v", req.path, took, dbBound)
		}
	}
	expect(t, e.do("GET", "/projects", nil, bearer(s.Access)...), http.StatusOK, "") // reads are not locked out

	release()
	createProject(t, e, s.Access, map[string]string{"name": "after the lock"})
	refresh(t, e, s.Refresh) // the refresh that answered 503 spent nothing
}

func TestARefreshWhoseCommitAcknowledgementIsLostAnswers503AndItsRetryKeepsTheSession(t *testing.T) {
	t.Parallel()
	e, proxy := proxiedPostgres(t, faultVars())
	// The COMMIT reaches PostgreSQL; its acknowledgement never comes back:
	// the connection closes, or nothing more gets through.
	for i, lost := range []dbtest.Mode{dbtest.Close, dbtest.BlackHole} {
		s := userWithRole(t, e, fmt.Sprintf("lost-ack-%d@example.test", i), "viewer")
		spentAt := e.Clock.Now()
		proxy.After([]byte("commit"), lost)
		// An unbounded COMMIT would wait out the black hole: end it late
		// rather than hang the test.
		late := time.AfterFunc(3*time.Second, func() { proxy.SetMode(dbtest.Forward) })
		start := time.Now()
		r := e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh})
		late.Stop()
		if took := time.Since(start); took > dbBound {
			t.Fatalf("%s: answered %d after %v, over %v", lost, r.Status, took, dbBound)
		}
		expect(t, r, http.StatusServiceUnavailable, "Service unavailable")
		proxy.SetMode(dbtest.Forward)

		// The client retries a little later, as a 503 tells it to: the
		// refresh had been committed, and the retry, within
		// REFRESH_REUSE_GRACE, gets its successor instead of revoking the
		// session.
		// (A pooled connection the fault left dead may cost one more 503
		// first; a client retries that too.)
		e.Clock.Advance(time.Second)
		rr := rlWhileUnavailable(2*time.Second, func() response {
			return e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh})
		})
		expect(t, rr, http.StatusOK, "")
		retry := sessionOf(t, rr)
		var old models.RefreshToken
		if err := e.App.DB.Where("token_hash = ?", tokens.HashOpaqueToken(s.Refresh)).Take(&old).Error; err != nil {
			t.Fatal(err)
		}
		if old.ReplacedAt == nil || !old.ReplacedAt.Equal(spentAt) {
			t.Fatalf("%s: the token was spent at %v, not by the refresh that answered 503 (%v)", lost, old.ReplacedAt, spentAt)
		}
		next := refresh(t, e, retry.Refresh)
		expect(t, me(e, next.Access), http.StatusOK, "")
	}
}

// outcome is one request of a load, as its client saw it.
type outcome struct {
	op     string
	status int // 0: the request failed in transport
	start  time.Time
	took   time.Duration
	key    string // the row it asked to create, if any
	// degraded: answered, but without what the dependency gives (a limit
	// that failed open)
	degraded bool
}

// phase is how long the proxy stays in a mode.
type phase struct {
	mode dbtest.Mode
	dur  time.Duration
}

// underLoad plays phases on proxy while workers each send request after
// request (next makes and times one), and returns every outcome and the
// instant each phase began.
func underLoad(proxy *dbtest.Proxy, phases []phase, workers int, next func(w, i int) outcome) ([]outcome, []time.Time) {
	var (
		mu   sync.Mutex
		outs []outcome
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond): // a few hundred requests in all, not thousands
				}
				o := next(w, i)
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		})
	}
	starts := make([]time.Time, len(phases))
	for i, p := range phases {
		starts[i] = time.Now()
		proxy.SetMode(p.mode)
		time.Sleep(p.dur)
	}
	close(stop)
	wg.Wait()
	return outs, starts
}

// timed sends one request and records how it went.
func timed(e *env, op, key, method, path string, body any, headers ...string) (outcome, response) {
	start := time.Now()
	r, err := e.send(method, path, body, headers...)
	o := outcome{op: op, status: r.Status, start: start, took: time.Since(start), key: key}
	if err != nil {
		o.status = 0
	}
	return o, r
}

// checkLoad fails t for any answer outside ok (a 500 above all) or slower
// than bound, and for any failure from recoverIn after the last phase
// began: service comes back without a restart.
func checkLoad(t *testing.T, outs []outcome, starts []time.Time, phases []phase, bound, recoverIn time.Duration,
	ok map[string][]int, success map[string]int) {
	t.Helper()
	recovered := starts[len(starts)-1].Add(recoverIn)
	type tally struct {
		n, failed int
		slowest   time.Duration
	}
	byMode := map[dbtest.Mode]*tally{}
	after := 0
	for _, o := range outs {
		mode := phases[0].mode
		for i, s := range starts {
			if !o.start.Before(s) {
				mode = phases[i].mode
			}
		}
		tl := byMode[mode]
		if tl == nil {
			tl = &tally{}
			byMode[mode] = tl
		}
		tl.n++
		tl.slowest = max(tl.slowest, o.took)
		if o.status != success[o.op] || o.degraded {
			tl.failed++
		}
		allowed := false
		for _, s := range ok[o.op] {
			allowed = allowed || o.status == s
		}
		if !allowed {
			t.Errorf("%s answered %d (%s into the load, %v)", o.op, o.status, o.start.Sub(starts[0]).Round(time.Millisecond), o.took)
		}
		if o.took > bound {
			t.Errorf("%s took %v, over %v", o.op, o.took, bound)
		}
		if o.start.After(recovered) {
			after++
			if o.status != success[o.op] || o.degraded {
				t.Errorf("%s answered %d (degraded: %v) %v after the fault ended", o.op, o.status, o.degraded, o.start.Sub(starts[len(starts)-1]))
			}
		}
	}
	if after == 0 {
		t.Error("no request was sent after the recovery time")
	}
	for _, p := range phases {
		if tl := byMode[p.mode]; p.mode != dbtest.Forward && (tl == nil || tl.failed == 0) {
			t.Errorf("no request began and failed in %s mode: nothing was cut, or nothing was sent", p.mode)
		}
	}
	for m, tl := range byMode {
		t.Logf("%-10s %3d requests, %3d not served, slowest %v", m, tl.n, tl.failed, tl.slowest.Round(time.Millisecond))
	}
}

func TestPostgresResetOrBlackHoledUnderLoadAnswers503AndLosesNothing(t *testing.T) {
	t.Parallel()
	e, proxy := proxiedPostgres(t, faultVars())
	const workers = 4
	editor := userWithRole(t, e, "fault-editor@example.test", "editor")
	refreshTokens := make([]string, workers) // one session per worker
	for w := range refreshTokens {
		refreshTokens[w] = login(t, e, "fault-editor@example.test", goodPassword).Refresh
	}

	phases := []phase{
		{dbtest.Forward, 300 * time.Millisecond},
		{dbtest.Reset, 500 * time.Millisecond},
		{dbtest.Forward, 700 * time.Millisecond},
		// Longer than dbBound: unbounded requests would be seen waiting.
		{dbtest.BlackHole, dbBound + 200*time.Millisecond},
		{dbtest.Forward, 1200 * time.Millisecond},
	}
	outs, starts := underLoad(proxy, phases, workers, func(w, i int) outcome {
		switch i % 4 {
		case 0:
			name := fmt.Sprintf("load-%d-%d", w, i)
			o, _ := timed(e, "create", name, "POST", "/projects", map[string]string{"name": name}, bearer(editor.Access)...)
			return o
		case 1:
			o, _ := timed(e, "list", "", "GET", "/projects", nil, bearer(editor.Access)...)
			return o
		case 2:
			email := fmt.Sprintf("load-%d-%d@example.test", w, i)
			o, _ := timed(e, "register", email, "POST", "/auth/register", map[string]string{"email": email, "password": goodPassword})
			return o
		}
		// A client keeps its refresh token until a refresh succeeds: after a
		// 503 it retries with the same one, and must never be logged out.
		o, r := timed(e, "refresh", "", "POST", "/auth/refresh", map[string]string{"refreshToken": refreshTokens[w]})
		if o.status == http.StatusOK {
			refreshTokens[w] = r.String("refreshToken")
		}
		return o
	})
	checkLoad(t, outs, starts, phases, dbBound, 800*time.Millisecond,
		map[string][]int{"create": {201, 503}, "list": {200, 503}, "register": {201, 503}, "refresh": {200, 503}},
		map[string]int{"create": 201, "list": 200, "register": 201, "refresh": 200})

	// Every row a client was told was created is there once; no row is
	// there that nobody asked for.
	rows := func(query string) map[string]int {
		var keys []string
		if err := e.App.DB.Raw(query).Scan(&keys).Error; err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, k := range keys {
			n[k]++
		}
		return n
	}
	stored := map[string]map[string]int{
		"create":   rows("SELECT name FROM projects"),
		"register": rows("SELECT email FROM users WHERE email LIKE 'load-%'"),
	}
	asked := map[string]bool{}
	unacknowledged := 0
	for _, o := range outs {
		if o.key == "" {
			continue
		}
		asked[o.key] = true
		got := stored[o.op][o.key]
		switch {
		case o.status == http.StatusCreated && got != 1:
			t.Errorf("%s %s answered 201 and is stored %d times", o.op, o.key, got)
		case o.status != http.StatusCreated && got > 1:
			t.Errorf("%s %s is stored %d times", o.op, o.key, got)
		case o.status != http.StatusCreated && got == 1:
			unacknowledged++ // committed, but the answer was a 503: the client cannot tell
		}
	}
	for _, m := range stored {
		for k := range m {
			if !asked[k] {
				t.Errorf("row %s was never asked for", k)
			}
		}
	}
	t.Logf("%d requests; %d rows committed behind a 503", len(outs), unacknowledged)

	// Nobody was logged out, and no session forked.
	var revoked int64
	if err := e.App.DB.Model(&models.RefreshToken{}).Where("revoked_at IS NOT NULL").Count(&revoked).Error; err != nil {
		t.Fatal(err)
	}
	if revoked != 0 {
		t.Errorf("%d refresh tokens were revoked", revoked)
	}
	for _, tok := range refreshTokens {
		refresh(t, e, tok)
	}
}

func TestRedisResetOrBlackHoledUnderLoadFailsOpenOrClosedAsEachLimiterSays(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("needs TEST_REDIS_URL: the in-process store cannot fail")
	}
	proxy, proxied := dbtest.ProxyURL(t, redisURL)
	// Limits high enough never to be reached, but on: every request makes
	// its limiter's round trips.
	e := newEnv(t, map[string]string{
		"REDIS_URL": proxied, "RATE_LIMIT_GLOBAL": "100000/1m", "RATE_LIMIT_LOGIN": "100000/1m", "RATE_LIMIT_AUTHENTICATED": "100000/1m",
		"RATE_LIMIT_ACCOUNT": "100000/1m", "REDIS_TIMEOUT": redisTimeout.String(),
	})
	t.Cleanup(func() { proxy.SetMode(dbtest.Forward) }) // Redis back before the harness deletes the keys
	viewer := userWithRole(t, e, "fault-viewer@example.test", "viewer")

	phases := []phase{
		{dbtest.Forward, 300 * time.Millisecond},
		{dbtest.Reset, 500 * time.Millisecond},
		{dbtest.Forward, 700 * time.Millisecond},
		{dbtest.BlackHole, 1200 * time.Millisecond},
		{dbtest.Forward, 2500 * time.Millisecond}, // the breakers probe at most a second apart
	}
	outs, starts := underLoad(proxy, phases, 4, func(w, i int) outcome {
		var (
			o outcome
			r response
		)
		switch i % 4 {
		case 0:
			o, r = timed(e, "status", "", "GET", "/public/status", nil)
		case 1:
			o, r = timed(e, "list", "", "GET", "/projects", nil, bearer(viewer.Access)...)
		case 2:
			email := fmt.Sprintf("load-%d-%d@example.test", w, i)
			o, r = timed(e, "register", email, "POST", "/auth/register", map[string]string{"email": email, "password": goodPassword})
		default:
			o, r = timed(e, "login", "", "POST", "/auth/login", map[string]string{"email": "fault-viewer@example.test", "password": goodPassword})
		}
		// A limiter that failed open let the request through uncounted.
		o.degraded = o.status < 300 && r.Header.Get("X-RateLimit-Limit") == ""
		return o
	})
	// The global and authenticated limiters let requests through; the login
	// limiter refuses them, so brute-force protection never switches off.
	checkLoad(t, outs, starts, phases, redisBound, 2*time.Second, // the contract: limits back within 2 s
		map[string][]int{"status": {200}, "list": {200}, "register": {201}, "login": {200, 503}},
		map[string]int{"status": 200, "list": 200, "register": 201, "login": 200})
	if e.App.Limits.FailedOpen.Load() == 0 {
		t.Error("no request was let through by a failing limiter: Redis was never cut")
	}
	var users int64
	if err := e.App.DB.Model(&models.User{}).Where("email LIKE 'load-%'").Count(&users).Error; err != nil {
		t.Fatal(err)
	}
	registered := 0
	for _, o := range outs {
		if o.op == "register" && o.status == http.StatusCreated {
			registered++
		}
	}
	if int(users) != registered {
		t.Errorf("%d users stored, %d registrations answered 201", users, registered)
	}
}
