package tests

import (
	"apisec/app/tokens"
	"apisec/models"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"apisec/db/dbtest"
)

// The contract's rate limits, end to end through the real router and the
// real stores: Redis when TEST_REDIS_URL is set, in process otherwise. The
// clock is the harness's; no test sleeps.

const rlLoginRefused = "Too many login attempts. Try again in 15 minutes."

func TestUnauthenticatedClientsAreRefusedAfter100RequestsAMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	last := rlRepeat(t, e, 100, "GET", "/public/status", nil, http.StatusOK)
	rlExpectLimit(t, last, 100, 0)
	if v := last.Header.Get("Retry-After"); v != "" {
		t.Fatalf("Retry-After %s on an admitted request", v)
	}
	r := e.do("GET", "/public/status", nil)
	rlExpect429(t, r, "Too many requests", 60) // all 100 were at the same instant
	// Every unauthenticated route shares the one per-IP budget.
	rlExpect429(t, e.do("GET", "/.well-known/jwks.json", nil), "Too many requests", 60)
	rlExpect429(t, e.do("POST", "/auth/register", map[string]string{"email": "a@example.test", "password": rlPassword}), "Too many requests", 60)

	e.Clock.Advance(time.Minute)
	expect(t, e.do("GET", "/public/status", nil), http.StatusOK, "")
}

func TestLoginIsLimitedTo5AttemptsIn15MinutesEvenWhenTheyFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_ACCOUNT": "off"}) // the login limiter alone
	u := rlCreateUser(t, e, "viewer", "")
	login := func(email, password string) response {
		t.Helper()
		return e.do("POST", "/auth/login", map[string]string{"email": email, "password": password})
	}
	// Wrong passwords and unknown addresses spend attempts like good ones.
	for i := range 4 {
		expect(t, login(u.Email, "Wrong-Password-"+strconv.Itoa(i)), http.StatusUnauthorized, "Invalid email or password")
	}
	expect(t, login("nobody-"+randomHex(t, 3)+"@example.test", rlPassword), http.StatusUnauthorized, "Invalid email or password")
	// The right password is refused now, without being checked.
	r := login(u.Email, rlPassword)
	rlExpect429(t, r, rlLoginRefused, 15*60)
	rlExpectLimit(t, r, 5, 0)

	// Later the wait named is what is left of the window, rounded up to
	// whole minutes (9½ minutes left is "10").
	e.Clock.Advance(5*time.Minute + 30*time.Second)
	rlExpect429(t, login(u.Email, rlPassword), "Too many login attempts. Try again in 10 minutes.", 9*60+30)

	// A microsecond before the window ends the attempts still count, and
	// the wait is never named as 0 minutes; at 15 minutes they have all
	// left the window.
	e.Clock.Advance(9*time.Minute + 30*time.Second - time.Microsecond)
	r = login(u.Email, rlPassword)
	rlExpect429(t, r, "", 1)
	if !strings.HasPrefix(r.Error(), "Too many login attempts. Try again in 1 minute") {
		t.Fatalf("error %q a moment before the window ends", r.Error())
	}
	e.Clock.Advance(time.Microsecond)
	r = login(u.Email, rlPassword)
	expect(t, r, http.StatusOK, "")
	if r.String("accessToken") == "" {
		t.Fatalf("login after the window: %s", r.Body)
	}
	rlExpectLimit(t, r, 5, 4)
}

func TestASignedInUserGets300RequestsAMinuteOnProjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "off"})
	tok := rlSignIn(t, e, "viewer", "")
	first := e.do("GET", "/projects", nil, bearer(tok)...)
	expect(t, first, http.StatusOK, "")
	rlExpectLimit(t, first, 300, 299)
	last := rlRepeat(t, e, 299, "GET", "/projects", nil, http.StatusOK, bearer(tok)...)
	rlExpectLimit(t, last, 300, 0)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(tok)...), "Too many requests", 60)
	// The budget is the user's, on every signed-in route.
	rlExpect429(t, e.do("GET", "/auth/me", nil, bearer(tok)...), "Too many requests", 60)

	e.Clock.Advance(time.Minute)
	expect(t, e.do("GET", "/projects", nil, bearer(tok)...), http.StatusOK, "")
}

func TestAdminsAreNotLimitedByTheAuthenticatedLimit(t *testing.T) {
	t.Parallel()
	// The admin is on a listed plan too: the exemption is by role.
	e := newEnv(t, map[string]string{"PLAN_RATE_LIMITS": "free=3/1m"})
	admin := rlSignIn(t, e, "admin", "free")
	for i := range 400 {
		r := e.do("GET", "/projects", nil, bearer(admin)...)
		if r.Status != http.StatusOK {
			t.Fatalf("admin request %d: status %d; body %s", i+1, r.Status, r.Body)
		}
		rlExpectNoLimitHeaders(t, r, "admin GET /projects")
	}
	expect(t, e.do("GET", "/analytics", nil, bearer(admin)...), http.StatusOK, "")

	// A viewer on the same plan, in the same app, is limited and told so.
	viewer := rlSignIn(t, e, "viewer", "free")
	r := rlRepeat(t, e, 3, "GET", "/projects", nil, http.StatusOK, bearer(viewer)...)
	rlExpectLimit(t, r, 3, 0)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(viewer)...), "Too many requests", 0)
}

func TestRateLimitHeadersCountDownOnLimitedRoutesButNotOnHealthChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_ACCOUNT": "off"})
	start := e.Clock.Now()
	resetAt := func(d time.Duration) int64 { return start.Add(d).Unix() }

	for i := range int64(3) {
		r := e.do("GET", "/public/status", nil)
		expect(t, r, http.StatusOK, "")
		rlExpectLimit(t, r, 100, 99-i)
		// Reset is when the oldest request in the window leaves it, in
		// Unix seconds of the app's clock, not of the wall clock.
		if got := rlHeaderInt(t, r, "X-RateLimit-Reset"); got != resetAt(time.Minute) || got <= e.Clock.Now().Unix() {
			t.Fatalf("X-RateLimit-Reset %d, want %d (clock %d)", got, resetAt(time.Minute), e.Clock.Now().Unix())
		}
		e.Clock.Advance(10 * time.Second)
	}
	jwks := e.do("GET", "/.well-known/jwks.json", nil)
	expect(t, jwks, http.StatusOK, "")
	rlExpectLimit(t, jwks, 100, 96)

	// On login the login limiter's headers win: they are the tighter ones.
	u := rlCreateUser(t, e, "viewer", "")
	login := e.do("POST", "/auth/login", map[string]string{"email": u.Email, "password": rlPassword})
	expect(t, login, http.StatusOK, "")
	rlExpectLimit(t, login, 5, 4)
	if got, want := rlHeaderInt(t, login, "X-RateLimit-Reset"), e.Clock.Now().Add(15*time.Minute).Unix(); got != want {
		t.Fatalf("login X-RateLimit-Reset %d, want %d", got, want)
	}

	tok := login.String("accessToken")
	for i := range int64(2) {
		r := e.do("GET", "/auth/me", nil, bearer(tok)...)
		expect(t, r, http.StatusOK, "")
		rlExpectLimit(t, r, 300, 299-i)
		if got, want := rlHeaderInt(t, r, "X-RateLimit-Reset"), e.Clock.Now().Add(time.Minute).Unix(); got != want {
			t.Fatalf("/auth/me X-RateLimit-Reset %d, want %d", got, want)
		}
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		for range 3 {
			r := e.do("GET", path, nil)
			expect(t, r, http.StatusOK, "")
			rlExpectNoLimitHeaders(t, r, path)
		}
	}
}

func TestTheGlobalLimitSlidesInsteadOfResettingEachMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "10/1m"})
	minute := e.Clock.Now() // 12:00:00
	rlAdvanceTo(t, e, minute.Add(59*time.Second))
	rlRepeat(t, e, 10, "GET", "/public/status", nil, http.StatusOK)

	// Two seconds later a new clock minute has begun: a fixed window would
	// admit ten more, a sliding one none.
	rlAdvanceTo(t, e, minute.Add(61*time.Second))
	for range 10 {
		rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 58)
	}
	// The slots come back exactly 60 s after the requests that took them.
	rlAdvanceTo(t, e, minute.Add(119*time.Second-time.Microsecond))
	rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 1)
	rlAdvanceTo(t, e, minute.Add(119*time.Second))
	r := rlRepeat(t, e, 10, "GET", "/public/status", nil, http.StatusOK)
	rlExpectLimit(t, r, 10, 0)
	rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 60)
}

func TestSlidingLimitFreesEachSlotExactlyOnePeriodAfterItsRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "10/1m"})
	base := e.Clock.Now().Add(59 * time.Second)
	step := 100 * time.Millisecond
	for i := range 10 {
		rlAdvanceTo(t, e, base.Add(time.Duration(i)*step))
		r := e.do("GET", "/public/status", nil)
		expect(t, r, http.StatusOK, "")
		rlExpectLimit(t, r, 10, int64(9-i))
	}
	rlAdvanceTo(t, e, base.Add(2*time.Second))
	rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 58)

	// Request i left the window at base+i*step+60s: one slot, not all ten.
	for i := range 10 {
		frees := base.Add(time.Duration(i)*step + time.Minute)
		rlAdvanceTo(t, e, frees.Add(-time.Microsecond))
		rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 0)
		rlAdvanceTo(t, e, frees)
		r := e.do("GET", "/public/status", nil)
		expect(t, r, http.StatusOK, "")
		rlExpectLimit(t, r, 10, 0)
		rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 0)
	}
}

func TestPlanLimitsApplyPerPlanAndUnlistedPlansGetTheAuthenticatedLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{
		"PLAN_RATE_LIMITS":         "free=3/1m,paid=5/1m",
		"RATE_LIMIT_AUTHENTICATED": "4/1m",
		"RATE_LIMIT_LOGIN":         "20/15m",
	})
	for _, tc := range []struct {
		plan  string
		limit int
	}{
		{"free", 3},
		{"free", 3}, // a second free user: the budget is per user, not per plan
		{"paid", 5},
		{"enterprise", 4}, // not listed: RATE_LIMIT_AUTHENTICATED
	} {
		tok := rlSignIn(t, e, "viewer", tc.plan)
		r := rlRepeat(t, e, tc.limit, "GET", "/projects", nil, http.StatusOK, bearer(tok)...)
		rlExpectLimit(t, r, int64(tc.limit), 0)
		r = e.do("GET", "/projects", nil, bearer(tok)...)
		rlExpect429(t, r, "Too many requests", 60)
		rlExpectLimit(t, r, int64(tc.limit), 0)
	}

	// An operator moves a user to another plan: the next token carries it,
	// and with it the other plan's budget.
	u := rlCreateUser(t, e, "viewer", "free")
	tok := rlLogin(t, e, u.Email)
	rlRepeat(t, e, 3, "GET", "/projects", nil, http.StatusOK, bearer(tok)...)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(tok)...), "Too many requests", 0)
	if err := e.App.Accounts.SetPlan(context.Background(), u.Email, "paid"); err != nil {
		t.Fatal(err)
	}
	tok = rlLogin(t, e, u.Email)
	r := rlRepeat(t, e, 5, "GET", "/projects", nil, http.StatusOK, bearer(tok)...)
	rlExpectLimit(t, r, 5, 0)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(tok)...), "Too many requests", 0)
}

func TestAPlanSetToOffIsNotLimitedWhileOtherPlansAre(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{
		"PLAN_RATE_LIMITS":         "free=off,paid=5/1m",
		"RATE_LIMIT_AUTHENTICATED": "4/1m",
	})
	free := rlSignIn(t, e, "viewer", "free")
	for i := range 50 {
		r := e.do("GET", "/projects", nil, bearer(free)...)
		if r.Status != http.StatusOK {
			t.Fatalf("free request %d: status %d; body %s", i+1, r.Status, r.Body)
		}
		rlExpectNoLimitHeaders(t, r, "free GET /projects")
	}
	paid := rlSignIn(t, e, "viewer", "paid")
	rlRepeat(t, e, 5, "GET", "/projects", nil, http.StatusOK, bearer(paid)...)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(paid)...), "Too many requests", 0)
	other := rlSignIn(t, e, "viewer", "team")
	rlRepeat(t, e, 4, "GET", "/projects", nil, http.StatusOK, bearer(other)...)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(other)...), "Too many requests", 0)
}

func TestOffDisablesEachLimiterAndOnlyThatOne(t *testing.T) {
	t.Parallel()
	t.Run("global", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "off", "RATE_LIMIT_ACCOUNT": "off"})
		for i := range 150 {
			r := e.do("GET", "/public/status", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("request %d: status %d; body %s", i+1, r.Status, r.Body)
			}
			rlExpectNoLimitHeaders(t, r, "GET /public/status")
		}
		// The login limiter still stands.
		body := map[string]string{"email": "nobody@example.test", "password": rlPassword}
		r := rlRepeat(t, e, 5, "POST", "/auth/login", body, http.StatusUnauthorized)
		rlExpectLimit(t, r, 5, 0)
		rlExpect429(t, e.do("POST", "/auth/login", body), rlLoginRefused, 0)
	})
	t.Run("login", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, map[string]string{"RATE_LIMIT_LOGIN": "off", "RATE_LIMIT_ACCOUNT": "off"})
		body := map[string]string{"email": "nobody@example.test", "password": rlPassword}
		for i := range int64(20) {
			r := e.do("POST", "/auth/login", body)
			expect(t, r, http.StatusUnauthorized, "Invalid email or password")
			rlExpectLimit(t, r, 100, 99-i) // the global limiter's headers
		}
	})
	t.Run("authenticated", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, map[string]string{"RATE_LIMIT_AUTHENTICATED": "off", "PLAN_RATE_LIMITS": "paid=2/1m"})
		tok := rlSignIn(t, e, "viewer", "free")
		for i := range 310 {
			r := e.do("GET", "/projects", nil, bearer(tok)...)
			if r.Status != http.StatusOK {
				t.Fatalf("request %d: status %d; body %s", i+1, r.Status, r.Body)
			}
			rlExpectNoLimitHeaders(t, r, "GET /projects")
		}
		// A listed plan keeps its own limit.
		paid := rlSignIn(t, e, "viewer", "paid")
		rlRepeat(t, e, 2, "GET", "/projects", nil, http.StatusOK, bearer(paid)...)
		rlExpect429(t, e.do("GET", "/projects", nil, bearer(paid)...), "Too many requests", 0)
	})
}

func TestASpoofedXForwardedForChangesNothingWithoutTrustedProxies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "3/1m"})
	rlRepeat(t, e, 3, "GET", "/public/status", nil, http.StatusOK)
	for _, h := range [][]string{
		{"X-Forwarded-For", "1.2.3.4"},
		{"X-Forwarded-For", "1.2.3.4, 5.6.7.8"},
		{"X-Real-IP", "1.2.3.4"},
		{"X-Forwarded-For", "2001:db8::1"},
		{"X-Forwarded-For", "1.2.3.4", "X-Real-IP", "5.6.7.8"},
	} {
		r := e.do("GET", "/public/status", nil, h...)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("%v: status %d, want 429: the header must not pick a new budget", h, r.Status)
		}
	}
	// Nor does it dodge the login limiter.
	e2 := newEnv(t, map[string]string{"RATE_LIMIT_LOGIN": "2/15m"})
	body := map[string]string{"email": "nobody@example.test", "password": rlPassword}
	for _, ip := range []string{"1.1.1.1", "2.2.2.2"} {
		expect(t, e2.do("POST", "/auth/login", body, "X-Forwarded-For", ip), http.StatusUnauthorized, "")
	}
	rlExpect429(t, e2.do("POST", "/auth/login", body, "X-Forwarded-For", "3.3.3.3"),
		"Too many login attempts. Try again in 15 minutes.", 0)
}

func TestEachForwardedClientGetsItsOwnBudgetBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "3/1m", "TRUSTED_PROXIES": "127.0.0.1/32"})
	xff := func(v string) []string { return []string{"X-Forwarded-For", v} }
	rlRepeat(t, e, 3, "GET", "/public/status", nil, http.StatusOK, xff("1.2.3.4")...)
	rlExpect429(t, e.do("GET", "/public/status", nil, xff("1.2.3.4")...), "Too many requests", 60)

	rlRepeat(t, e, 3, "GET", "/public/status", nil, http.StatusOK, xff("5.6.7.8")...)
	rlExpect429(t, e.do("GET", "/public/status", nil, xff("5.6.7.8")...), "Too many requests", 60)

	// The client is the right-most address the trusted proxy did not add:
	// anything the client wrote to the left of it is ignored.
	rlExpect429(t, e.do("GET", "/public/status", nil, xff("9.9.9.9, 1.2.3.4")...), "Too many requests", 60)
	rlExpect429(t, e.do("GET", "/public/status", nil, xff("1.2.3.4, 127.0.0.1")...), "Too many requests", 60)

	// The proxy itself, talking for nobody, has its own budget; X-Real-IP
	// is not believed (the contract trusts X-Forwarded-For only), so it
	// cannot open a fresh one.
	rlRepeat(t, e, 3, "GET", "/public/status", nil, http.StatusOK)
	rlExpect429(t, e.do("GET", "/public/status", nil, "X-Real-IP", "10.0.0.7"), "Too many requests", 60)

	// The login limiter keys on the same client IP.
	body := map[string]string{"email": "nobody@example.test", "password": rlPassword}
	e2 := newEnv(t, map[string]string{"RATE_LIMIT_LOGIN": "2/15m", "TRUSTED_PROXIES": "127.0.0.1/32"})
	rlRepeat(t, e2, 2, "POST", "/auth/login", body, http.StatusUnauthorized, xff("1.2.3.4")...)
	rlExpect429(t, e2.do("POST", "/auth/login", body, xff("1.2.3.4")...), rlLoginRefused, 0)
	expect(t, e2.do("POST", "/auth/login", body, xff("5.6.7.8")...), http.StatusUnauthorized, "Invalid email or password")
}

func TestIPv6ClientsInTheSame64ShareABudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "3/1m", "TRUSTED_PROXIES": "127.0.0.1/32"})
	from := func(ip string) response {
		t.Helper()
		return e.do("GET", "/public/status", nil, "X-Forwarded-For", ip)
	}
	// Three addresses of 2001:db8:1:2::/64, written three ways.
	expect(t, from("2001:db8:1:2::1"), http.StatusOK, "")
	expect(t, from("2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF"), http.StatusOK, "")
	expect(t, from("2001:0db8:0001:0002:0000:0000:0000:0042"), http.StatusOK, "")
	rlExpect429(t, from("2001:db8:1:2::99"), "Too many requests", 60)

	// The neighbouring /64s are other subscribers.
	for _, ip := range []string{"2001:db8:1:3::1", "2001:db8:1:1:ffff:ffff:ffff:ffff"} {
		for range 3 {
			expect(t, from(ip), http.StatusOK, "")
		}
		rlExpect429(t, from(ip), "Too many requests", 60)
	}
}

func TestAnIPv4MappedIPv6AddressCountsAsItsIPv4Address(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "3/1m", "TRUSTED_PROXIES": "127.0.0.1/32"})
	from := func(ip string) response {
		t.Helper()
		return e.do("GET", "/public/status", nil, "X-Forwarded-For", ip)
	}
	expect(t, from("::ffff:1.2.3.4"), http.StatusOK, "")
	expect(t, from("1.2.3.4"), http.StatusOK, "")
	expect(t, from("::FFFF:1.2.3.4"), http.StatusOK, "")
	rlExpect429(t, from("0:0:0:0:0:ffff:102:304"), "Too many requests", 60)
	rlExpect429(t, from("1.2.3.4"), "Too many requests", 60)

	// Neither the neighbouring IPv4 address nor the /64 holding
	// ::ffff:0:0/96 is the same client.
	expect(t, from("1.2.3.5"), http.StatusOK, "")
	expect(t, from("::ffff:1.2.3.5"), http.StatusOK, "")
	expect(t, from("::1:2:3:4"), http.StatusOK, "")
}

func TestBogusForwardedForValuesFromATrustedProxyFallBackToThePeer(t *testing.T) {
	t.Parallel()
	bogus := []string{
		"",
		"not-an-ip",
		"unknown",
		"1.2.3.4.5",
		"999.1.1.1",
		"1.2.3.4:8080",
		"01.02.03.04",
		"[2001:db8::1]",
		"[2001:db8::1]:443",
		"2001:db8::1%eth0",
		"2001:db8::g",
		"::ffff:",
		",",
		" , ,, ",
		"1.2.3.4, garbage",
		"١.٢.٣.٤",
		"1.2.3.4/32",
		strings.Repeat("9", 4000),
		strings.Repeat("1.2.3.4,", 500) + "x",
	}
	e := newEnv(t, map[string]string{
		"RATE_LIMIT_GLOBAL": strconv.Itoa(len(bogus)) + "/1m",
		"TRUSTED_PROXIES":   "127.0.0.1/32",
	})
	for _, v := range bogus {
		for _, h := range []string{"X-Forwarded-For", "X-Real-IP"} {
			r := e.do("GET", "/healthz", nil, h, v) // not limited: only checks nothing breaks
			expect(t, r, http.StatusOK, "")
		}
		r := e.do("GET", "/public/status", nil, "X-Forwarded-For", v)
		if r.Status != http.StatusOK {
			t.Fatalf("X-Forwarded-For %.40q: status %d; body %s", v, r.Status, r.Body)
		}
	}
	// Each of them was counted against the proxy's own address, so none
	// handed out a budget of its own.
	rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 0)
	rlExpect429(t, e.do("GET", "/public/status", nil, "X-Forwarded-For", "garbage"), "Too many requests", 0)
	// A bogus value on a signed-in route and on login does no harm either.
	e2 := newEnv(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"})
	tok := rlSignIn(t, e2, "viewer", "")
	for _, v := range bogus[:5] {
		expect(t, e2.do("GET", "/projects", nil, "Authorization", "Bearer "+tok, "X-Forwarded-For", v), http.StatusOK, "")
	}
	expect(t, e2.do("POST", "/auth/login", map[string]string{"email": "x@example.test", "password": rlPassword},
		"X-Forwarded-For", "garbage"), http.StatusUnauthorized, "Invalid email or password")
	if strings.Contains(e.Log.String(), `"msg":"panic"`) || strings.Contains(e2.Log.String(), `"msg":"panic"`) {
		t.Fatal("the app logged a panic")
	}
}

func TestWhenRedisIsDownLoginFailsClosedAndOtherLimitsFailOpen(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("needs TEST_REDIS_URL: the in-process store cannot fail, so there is no outage to simulate without Redis")
	}
	proxy, proxied := dbtest.ProxyURL(t, redisURL)
	// The account limiter's outage rule has a test of its own.
	e := newEnv(t, map[string]string{"REDIS_URL": proxied, "RATE_LIMIT_ACCOUNT": "off"})
	// Cleanups run last-registered first: Redis is back before the
	// harness deletes this test's keys.
	t.Cleanup(func() { proxy.SetMode(dbtest.Forward) })

	u := rlCreateUser(t, e, "viewer", "")
	tok := rlLogin(t, e, u.Email)
	expect(t, e.do("GET", "/projects", nil, bearer(tok)...), http.StatusOK, "")

	proxy.SetMode(dbtest.Reset)
	before := e.App.Limits.FailedOpen.Load()
	for range 3 {
		r := e.do("GET", "/public/status", nil)
		expect(t, r, http.StatusOK, "")
		if r.String("status") != "ok" {
			t.Fatalf("GET /public/status during the outage: %s", r.Body)
		}
		expect(t, e.do("GET", "/projects", nil, bearer(tok)...), http.StatusOK, "")
		// Brute-force protection does not switch off.
		r = e.do("POST", "/auth/login", map[string]string{"email": u.Email, "password": rlPassword})
		expect(t, r, http.StatusServiceUnavailable, "Service unavailable")
		if r.String("accessToken") != "" || len(r.JSON) != 1 {
			t.Fatalf("login during the outage answered %s", r.Body)
		}
	}
	// Each public request, signed-in request and login was let through by
	// the global or authenticated limiter once.
	if got := e.App.Limits.FailedOpen.Load() - before; got != 9 {
		t.Fatalf("FailedOpen grew by %d, want 9", got)
	}
	expect(t, e.do("GET", "/readyz", nil), http.StatusServiceUnavailable, "Service unavailable")
	expect(t, e.do("GET", "/healthz", nil), http.StatusOK, "")
	logs := e.Log.String()
	for _, want := range []string{"letting the request through", "refusing the request"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log has no %q", want)
		}
	}
	if strings.Contains(logs, `"msg":"panic"`) {
		t.Fatal("the app logged a panic")
	}

	// Redis comes back: within 2 seconds (the breakers' probe) the limits
	// apply again, with their headers.
	proxy.SetMode(dbtest.Forward)
	r := rlWhileUnavailable(2*time.Second, func() response {
		return e.do("POST", "/auth/login", map[string]string{"email": u.Email, "password": rlPassword})
	})
	expect(t, r, http.StatusOK, "")
	rlExpectLimit(t, r, 5, 3) // the refused attempts were never recorded
	rlExpectLimit(t, e.do("GET", "/projects", nil, bearer(tok)...), 300, 298)
	expect(t, e.do("GET", "/readyz", nil), http.StatusOK, "")
}

func TestRedisRateLimitKeysAreNamedByLimiterAndExpireWithTheirWindow(t *testing.T) {
	t.Parallel()
	if os.Getenv("TEST_REDIS_URL") == "" {
		t.Skip("needs TEST_REDIS_URL: the key layout and expiry are Redis's")
	}
	e := newEnv(t, map[string]string{
		"TRUSTED_PROXIES":  "127.0.0.1/32",
		"PLAN_RATE_LIMITS": "paid=7/1m",
		"RATE_LIMIT_LOGIN": "5/15m",
	})
	// An address no other test uses, so a key pattern finds only ours.
	n, err := strconv.ParseUint(randomHex(t, 2), 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	ip := "198.18." + strconv.FormatUint(n>>8, 10) + "." + strconv.FormatUint(n&0xff, 10) // 198.18.0.0/15: benchmarking
	xff := []string{"X-Forwarded-For", ip}
	free := rlCreateUser(t, e, "viewer", "free")
	paid := rlCreateUser(t, e, "viewer", "paid")
	freeTok := rlLogin(t, e, free.Email, xff...)
	paidTok := rlLogin(t, e, paid.Email, xff...)
	rlRepeat(t, e, 3, "GET", "/public/status", nil, http.StatusOK, xff...)
	rlRepeat(t, e, 2, "GET", "/projects", nil, http.StatusOK, bearer(freeTok)...)
	r := rlRepeat(t, e, 7, "GET", "/projects", nil, http.StatusOK, bearer(paidTok)...)
	rlExpectLimit(t, r, 7, 0)
	for range 5 { // refused requests are not recorded
		expect(t, e.do("GET", "/projects", nil, bearer(paidTok)...), http.StatusTooManyRequests, "")
	}

	ctx := context.Background()
	for _, tc := range []struct {
		pattern string
		window  time.Duration
		entries int64
	}{
		{"rl:*global:{" + ip + "}", time.Minute, 5}, // 2 logins + 3 status
		{"rl:*login:{" + ip + "}", 15 * time.Minute, 2},
		{"rl:*authenticated:{" + free.ID + "}", time.Minute, 2},
		{"rl:*plan:paid:{" + paid.ID + "}", time.Minute, 7},
	} {
		keys, err := e.App.Redis.Keys(ctx, tc.pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 {
			t.Fatalf("keys %s: %v, want exactly one", tc.pattern, keys)
		}
		pttl, err := e.App.Redis.PTTL(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl <= 0 || pttl > tc.window {
			t.Errorf("%s: TTL %s, want in (0, %s]", keys[0], pttl, tc.window)
		}
		if n, err := e.App.Redis.ZCard(ctx, keys[0]).Result(); err != nil || n != tc.entries {
			t.Errorf("%s: %d entries (%v), want %d", keys[0], n, err, tc.entries)
		}
	}
}

func TestRateLimitedAnswersAreTheContractsJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{
		"RATE_LIMIT_GLOBAL":        "2/1m",
		"RATE_LIMIT_LOGIN":         "1/15m",
		"RATE_LIMIT_AUTHENTICATED": "1/1m",
		"TRUSTED_PROXIES":          "127.0.0.1/32",
	})
	tok := rlLogin(t, e, rlCreateUser(t, e, "viewer", "").Email, "X-Forwarded-For", "1.1.1.1")
	login := map[string]string{"email": "x@example.test", "password": rlPassword}
	refusals := []struct {
		name   string
		refuse func() (response, string)
	}{
		{"global", func() (response, string) {
			rlRepeat(t, e, 2, "GET", "/public/status", nil, http.StatusOK)
			return e.do("GET", "/public/status", nil), "Too many requests"
		}},
		{"login", func() (response, string) {
			expect(t, e.do("POST", "/auth/login", login, "X-Forwarded-For", "2.2.2.2"), http.StatusUnauthorized, "")
			return e.do("POST", "/auth/login", login, "X-Forwarded-For", "2.2.2.2"), rlLoginRefused
		}},
		{"authenticated", func() (response, string) {
			// From an IP whose global budget is not spent: a token never
			// verified before would get that limiter's 429.
			h := append(bearer(tok), "X-Forwarded-For", "1.1.1.1")
			expect(t, e.do("GET", "/auth/me", nil, h...), http.StatusOK, "")
			return e.do("GET", "/auth/me", nil, h...), "Too many requests"
		}},
	}
	for _, tc := range refusals {
		r, msg := tc.refuse()
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s: Content-Type %q", tc.name, ct)
		}
		rlExpect429(t, r, msg, 0)
		if got, want := string(r.Body), `{"error":"`+msg+`"}`; got != want {
			t.Errorf("%s: body %s, want %s", tc.name, got, want)
		}
		if r.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: a 429 with WWW-Authenticate", tc.name)
		}
	}
}

func TestUnauthenticatedRequestsToSignedInRoutesGet401NotTheUserLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_AUTHENTICATED": "2/1m"})
	for _, h := range [][]string{
		nil,
		{"Authorization", "Basic dXNlcjpwYXNz"},
		bearer(""),
	} {
		for range 5 {
			r := e.do("GET", "/projects", nil, h...)
			expect(t, r, http.StatusUnauthorized, "Authentication required")
			if r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("401 without WWW-Authenticate: Bearer: %v", r.Header)
			}
			if r.Header.Get("X-RateLimit-Limit") == "2" {
				t.Fatal("the user limiter ran without a user")
			}
		}
	}
	for range 5 {
		expect(t, e.do("GET", "/projects", nil, bearer("not.a.jwt")...), http.StatusUnauthorized, "Invalid token")
	}

	// A user who used up the budget still gets 401 for a bad token: the
	// token is checked first, and the limit is the user's, not the IP's.
	tok := rlSignIn(t, e, "viewer", "")
	rlRepeat(t, e, 2, "GET", "/projects", nil, http.StatusOK, bearer(tok)...)
	rlExpect429(t, e.do("GET", "/projects", nil, bearer(tok)...), "Too many requests", 60)
	expect(t, e.do("GET", "/projects", nil, bearer(tok+"x")...), http.StatusUnauthorized, "Invalid token")
	expect(t, e.do("GET", "/projects", nil), http.StatusUnauthorized, "Authentication required")
	other := rlSignIn(t, e, "viewer", "")
	rlRepeat(t, e, 2, "GET", "/projects", nil, http.StatusOK, bearer(other)...)

	// Once the token has expired the answer is 401, whatever the window.
	e.Clock.Advance(16 * time.Minute)
	expect(t, e.do("GET", "/projects", nil, bearer(tok)...), http.StatusUnauthorized, "Token expired")
}

func TestTheUserLimitCountsBeforeTheRoleCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_AUTHENTICATED": "3/1m"})
	viewer := rlSignIn(t, e, "viewer", "")
	// A forbidden request is a request: it takes a slot…
	r := e.do("POST", "/projects", map[string]string{"name": "x"}, bearer(viewer)...)
	expect(t, r, http.StatusForbidden, "Insufficient permissions")
	rlExpectLimit(t, r, 3, 2)
	expect(t, e.do("GET", "/analytics", nil, bearer(viewer)...), http.StatusForbidden, "Insufficient permissions")
	expect(t, e.do("GET", "/projects", nil, bearer(viewer)...), http.StatusOK, "")
	// …and once the budget is spent the answer is 429, not 403.
	rlExpect429(t, e.do("POST", "/projects", map[string]string{"name": "x"}, bearer(viewer)...), "Too many requests", 60)

	editor := rlSignIn(t, e, "editor", "")
	r = e.do("POST", "/projects", map[string]string{"name": "Rate limited project"}, bearer(editor)...)
	expect(t, r, http.StatusCreated, "")
	rlExpectLimit(t, r, 3, 2)
}

func TestTheLoginLimitIsNotSpentByRequestsTheGlobalLimitRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "3/1m", "RATE_LIMIT_LOGIN": "5/15m", "RATE_LIMIT_ACCOUNT": "off"})
	body := map[string]string{"email": "nobody@example.test", "password": rlPassword}
	for i := range int64(3) {
		r := e.do("POST", "/auth/login", body)
		expect(t, r, http.StatusUnauthorized, "Invalid email or password")
		rlExpectLimit(t, r, 5, 4-i)
	}
	// The global limit answers first, before an attempt is recorded.
	for range 4 {
		rlExpect429(t, e.do("POST", "/auth/login", body), "Too many requests", 60)
	}
	e.Clock.Advance(time.Minute)
	rlRepeat(t, e, 2, "POST", "/auth/login", body, http.StatusUnauthorized)
	rlExpect429(t, e.do("POST", "/auth/login", body), "Too many login attempts. Try again in 14 minutes.", 14*60)
}

func TestConcurrentRequestsNeverExceedTheRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "10/1m", "RATE_LIMIT_AUTHENTICATED": "10/1m"})
	tok := rlSignIn(t, e, "viewer", "") // takes one global slot
	// Signed in first: past the IP's global budget a token not verified
	// before is refused without a check.
	got := rlStatuses(t, e, 40, "GET", "/projects", bearer(tok)...)
	if got[http.StatusOK] != 10 || got[http.StatusTooManyRequests] != 30 {
		t.Fatalf("signed in: %v, want 10×200 and 30×429", got)
	}
	got = rlStatuses(t, e, 40, "GET", "/public/status")
	if got[http.StatusOK] != 9 || got[http.StatusTooManyRequests] != 31 {
		t.Fatalf("public: %v, want 9×200 and 31×429", got)
	}
}

// Retry-After, X-RateLimit-Reset minus now and RateLimit's t are computed
// from the instant the oldest admitted request leaves the window, so none
// exceeds the window, whatever fraction of a second the requests came at.
func TestWaitsNeverExceedTheWindowForAnyLimiterAtAnyInstant(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		limiter, setting string
		window           time.Duration
		send             func(e *env) response
	}{
		{"global", "RATE_LIMIT_GLOBAL", time.Minute, func(e *env) response { return e.do("GET", "/public/status", nil) }},
		{"login", "RATE_LIMIT_LOGIN", 15 * time.Minute, func(e *env) response {
			return e.do("POST", "/auth/login", map[string]string{"email": "nobody@example.test", "password": rlPassword})
		}},
		{"authenticated", "RATE_LIMIT_AUTHENTICATED", time.Minute, nil},
	} {
		t.Run(c.limiter, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, map[string]string{c.setting: "2/" + c.window.String()})
			if c.send == nil {
				tok := rlSignIn(t, e, "viewer", "")
				c.send = func(e *env) response { return e.do("GET", "/projects", nil, bearer(tok)...) }
			}
			e.Clock.Advance(700 * time.Millisecond) // off the whole second
			first := e.Clock.Now()
			c.send(e)
			e.Clock.Advance(400 * time.Millisecond)
			c.send(e)
			windowS := int64(c.window / time.Second)
			for _, at := range []time.Duration{0, 300 * time.Millisecond, c.window / 2, c.window - time.Second, c.window - time.Millisecond} {
				rlAdvanceTo(t, e, first.Add(max(at, 400*time.Millisecond)))
				now := e.Clock.Now()
				r := c.send(e)
				if r.Status != http.StatusTooManyRequests {
					t.Fatalf("%s after the first: status %d, want 429", at, r.Status)
				}
				wait := first.Add(c.window).Sub(now)
				wantRetry := int64((wait + time.Second - 1) / time.Second)
				if got := rlHeaderInt(t, r, "Retry-After"); got != wantRetry || got > windowS {
					t.Fatalf("%s after the first: Retry-After %d, want %d (window %ds)", at, got, wantRetry, windowS)
				}
				reset := time.Unix(rlHeaderInt(t, r, "X-RateLimit-Reset"), 0)
				if d := reset.Sub(now); d > c.window || reset.Unix() != first.Add(c.window).Unix() {
					t.Fatalf("%s after the first: X-RateLimit-Reset is now+%s, want the second of %s", at, d, first.Add(c.window))
				}
				name := strconv.Quote(c.limiter)
				if got, want := r.Header.Get("RateLimit-Policy"), name+";q=2;w="+strconv.FormatInt(windowS, 10); got != want {
					t.Fatalf("RateLimit-Policy %q, want %q", got, want)
				}
				if got, want := r.Header.Get("RateLimit"), name+";r=0;t="+strconv.FormatInt(wantRetry, 10); got != want {
					t.Fatalf("RateLimit %q, want %q", got, want)
				}
			}
			// The instant the first leaves the window, a slot is free.
			rlAdvanceTo(t, e, first.Add(c.window))
			if r := c.send(e); r.Status == http.StatusTooManyRequests {
				t.Fatalf("at the end of the window: 429, Retry-After %s", r.Header.Get("Retry-After"))
			}
		})
	}
}

// A request to a signed-in route that fails authentication takes a slot of
// its IP's global budget; past it, tokens not verified before get 429 with
// no signature check, while valid tokens are never charged.
func TestBadTokensArePaidFromTheGlobalBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "4/1m"})
	u := rlCreateUser(t, e, "viewer", "")
	issue := func() string {
		t.Helper()
		tok, err := e.App.Tokens.Issue(tokens.Grant{Subject: u.ID, Session: models.NewID(), Role: u.Role, Plan: u.Plan})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	seen, unseen := issue(), issue()
	for range 10 {
		expect(t, e.do("GET", "/auth/me", nil, bearer(seen)...), http.StatusOK, "")
	}
	forged := seen[:len(seen)-4] + "AAAA" // a real kid, a wrong signature
	bad := [][]string{bearer(forged), bearer("garbage"), nil, {"Authorization", "Basic eDp5"}}
	wants := []string{"Invalid token", "Invalid token", "Authentication required", "Authentication required"}
	for i, h := range bad {
		r := e.do("GET", "/auth/me", nil, h...)
		expect(t, r, http.StatusUnauthorized, wants[i])
		rlExpectLimit(t, r, 4, int64(3-i)) // the valid requests took nothing
	}
	for _, h := range append(bad, bearer(unseen)) {
		rlExpect429(t, e.do("GET", "/auth/me", nil, h...), "Too many requests", 60)
	}
	// The budget is the one unauthenticated routes spend.
	rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", 60)
	// A token verified before still works.
	expect(t, e.do("GET", "/projects", nil, bearer(seen)...), http.StatusOK, "")

	e.Clock.Advance(time.Minute)
	expect(t, e.do("GET", "/auth/me", nil, bearer(unseen)...), http.StatusOK, "")
	expect(t, e.do("GET", "/auth/me", nil, bearer(forged)...), http.StatusUnauthorized, "Invalid token")
}

// A flood of forged tokens past its IP's global budget keeps getting the
// store's exact 429 (the limiter answers it from memory), and the IP is
// served again the instant its first slot frees.
func TestAForgedTokenFloodPastItsBudgetIsRefusedUntilTheResetThenServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "3/1m"})
	u := rlCreateUser(t, e, "viewer", "")
	tok, err := e.App.Tokens.Issue(tokens.Grant{Subject: u.ID, Session: models.NewID(), Role: u.Role, Plan: u.Plan})
	if err != nil {
		t.Fatal(err)
	}
	forged := bearer(tok.Token[:len(tok.Token)-4] + "AAAA")
	start := e.Clock.Now()
	for i := range 3 {
		rlAdvanceTo(t, e, start.Add(time.Duration(i)*10*time.Second))
		expect(t, e.do("GET", "/auth/me", nil, forged...), http.StatusUnauthorized, "Invalid token")
	}
	reset := start.Add(time.Minute)
	for _, at := range []time.Duration{20 * time.Second, 30*time.Second + 400*time.Millisecond, time.Minute - time.Microsecond} {
		now := start.Add(at)
		rlAdvanceTo(t, e, now)
		wait := int64((reset.Sub(now) + time.Second - 1) / time.Second)
		for range 20 {
			r := e.do("GET", "/auth/me", nil, forged...)
			rlExpect429(t, r, "Too many requests", wait)
			rlExpectLimit(t, r, 3, 0)
			if got := rlHeaderInt(t, r, "X-RateLimit-Reset"); got != reset.Unix() {
				t.Fatalf("at +%s: X-RateLimit-Reset %d, want %d", at, got, reset.Unix())
			}
			if got, want := r.Header.Get("RateLimit"), `"global";r=0;t=`+strconv.FormatInt(wait, 10); got != want {
				t.Fatalf("at +%s: RateLimit %q, want %q", at, got, want)
			}
			if got := r.Header.Get("RateLimit-Policy"); got != `"global";q=3;w=60` {
				t.Fatalf("RateLimit-Policy %q", got)
			}
		}
		// The budget is the IP's: unauthenticated routes are refused alike.
		rlExpect429(t, e.do("GET", "/public/status", nil), "Too many requests", wait)
	}
	// The first slot frees at the reset: one forged token is verified (and
	// charged) again, and then the window is full until the second frees.
	rlAdvanceTo(t, e, reset)
	r := e.do("GET", "/auth/me", nil, forged...)
	expect(t, r, http.StatusUnauthorized, "Invalid token")
	rlExpectLimit(t, r, 3, 0)
	rlExpect429(t, e.do("GET", "/auth/me", nil, forged...), "Too many requests", 10)
	rlAdvanceTo(t, e, reset.Add(10*time.Second))
	expect(t, e.do("GET", "/auth/me", nil, bearer(tok.Token)...), http.StatusOK, "")
	expect(t, e.do("GET", "/public/status", nil), http.StatusOK, "")
}
