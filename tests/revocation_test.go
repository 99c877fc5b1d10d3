package tests

import (
	"apisec/db/dbtest"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"apisec/app/revocation"
)

// revocationEvent is one way a session or all of a user's end early.
type revocationEvent struct {
	name string
	// all: every session of the user ends; otherwise only the first one
	// (logout) or none (a plan change).
	all, none bool
	do        func(t *testing.T, on *env, email string, first session)
}

func revocationEvents() []revocationEvent {
	ctx := context.Background()
	return []revocationEvent{
		{name: "logout", do: func(t *testing.T, on *env, _ string, first session) {
			expect(t, on.as(t).do("POST", "/auth/logout", map[string]string{"refreshToken": first.Refresh}), http.StatusNoContent, "")
		}},
		{name: "logout-all", all: true, do: func(t *testing.T, on *env, _ string, first session) {
			expect(t, on.as(t).do("POST", "/auth/logout-all", nil, bearer(first.Access)...), http.StatusNoContent, "")
		}},
		{name: "password change", all: true, do: func(t *testing.T, on *env, _ string, first session) {
			body := map[string]string{"currentPassword": goodPassword, "newPassword": "Brand-New-Pass-9"}
			expect(t, on.as(t).do("POST", "/auth/password/change", body, bearer(first.Access)...), http.StatusNoContent, "")
		}},
		{name: "password reset", all: true, do: func(t *testing.T, on *env, email string, _ session) {
			body := map[string]string{"token": forgot(t, on, email), "newPassword": "Brand-New-Pass-9"}
			expect(t, on.as(t).do("POST", "/auth/password/reset", body), http.StatusNoContent, "")
		}},
		{name: "role change", all: true, do: func(t *testing.T, on *env, email string, _ session) {
			if err := on.App.Accounts.SetRole(ctx, email, "editor"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "user deletion", all: true, do: func(t *testing.T, on *env, email string, _ session) {
			if err := on.App.Accounts.DeleteUser(ctx, email); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "plan change", none: true, do: func(t *testing.T, on *env, email string, _ session) {
			if err := on.App.Accounts.SetPlan(ctx, email, "paid"); err != nil {
				t.Fatal(err)
			}
		}},
	}
}

// victim is a user with two sessions, and a bystander with one, all of
// whose access tokens have been used (and so cached as verified) on every
// instance given.
type victim struct {
	email              string
	first, second, bys session
}

func newVictim(t *testing.T, e *env, name string, instances ...*env) victim {
	t.Helper()
	v := victim{email: name + "@example.com"}
	registerAndVerify(t, e, v.email, goodPassword)
	registerAndVerify(t, e, "bystander-"+v.email, goodPassword)
	v.first = login(t, e, v.email, goodPassword)
	v.second = login(t, e, v.email, goodPassword)
	v.bys = login(t, e, "bystander-"+v.email, goodPassword)
	for _, in := range instances {
		for _, s := range []session{v.first, v.second, v.bys} {
			expect(t, in.as(t).do("GET", "/projects", nil, bearer(s.Access)...), http.StatusOK, "")
		}
	}
	return v
}

// refusedWithin polls GET /projects (which reads no user row, so only the
// mark can refuse a deleted user's token) until token is refused or d has
// passed, and returns how long it took.
func refusedWithin(t *testing.T, on *env, token string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := on.as(t).do("GET", "/projects", nil, bearer(token)...)
		if r.Status == http.StatusUnauthorized {
			expect(t, r, http.StatusUnauthorized, "Invalid token")
			return time.Since(start)
		}
		expect(t, r, http.StatusOK, "")
		if time.Since(start) > d {
			t.Fatalf("token still accepted %v after the revocation", time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkEnded checks, on one instance, that what ev ended is refused within
// d and that nothing else is.
func checkEnded(t *testing.T, on *env, ev revocationEvent, v victim, d time.Duration) time.Duration {
	t.Helper()
	var took time.Duration
	if !ev.none {
		took = refusedWithin(t, on, v.first.Access, d)
	}
	if ev.all {
		refusedWithin(t, on, v.second.Access, d)
	}
	alive := []session{v.bys}
	if !ev.all {
		alive = append(alive, v.second)
	}
	if ev.none {
		alive = append(alive, v.first)
	}
	for _, s := range alive {
		expect(t, on.as(t).do("GET", "/projects", nil, bearer(s.Access)...), http.StatusOK, "")
	}
	return took
}

// Every revocation event ends the access tokens it names at once on the
// instance that handled it, although they had been verified and cached, and
// nothing else, also once the marks are read back from the database; a plan
// change ends nothing.
func TestEveryRevocationEventRefusesTheAccessTokensAtOnce(t *testing.T) {
	t.Parallel()
	for _, ev := range revocationEvents() {
		t.Run(ev.name, func(t *testing.T) {
			t.Parallel()
			vars := unlimited()
			vars["TEST_REVOCATION_POLL"] = "10ms"
			e := newEnv(t, vars)
			v := newVictim(t, e, "victim", e)
			ev.do(t, e, v.email, v.first)
			checkEnded(t, e, ev, v, 0)
			// What the database holds ends no more than what was announced.
			time.Sleep(50 * time.Millisecond)
			checkEnded(t, e, ev, v, 0)
		})
	}
}

// cliEvent runs `users <cmd> --email E args...` as an operator would, in its
// own process state, against the instances' database and Redis.
func cliEvent(cmd string, args ...string) revocationEvent {
	return revocationEvent{name: "users " + cmd + " (CLI)", all: true, do: func(t *testing.T, on *env, email string, _ session) {
		vars := map[string]string{}
		for _, k := range []string{"APP_ENV", "BCRYPT_COST", "DATABASE_URL", "REDIS_URL"} {
			vars[k] = on.vars[k]
		}
		argv := append([]string{"users", cmd, "--email", email}, args...)
		if code, out, stderr := runCLI(t, context.Background(), vars, argv...); code != 0 {
			t.Fatalf("%v: exit %d, %q %q", argv, code, out, stderr)
		}
	}}
}

// Two instances share PostgreSQL and Redis; B never polls the database
// during the test, so only the channel can tell it: each event on A (and
// the CLI's set-role and delete, run as another process would) is refused
// on B within a second.
func TestARevocationOnOneInstanceIsRefusedOnAnotherWithinASecond(t *testing.T) {
	t.Parallel()
	if os.Getenv("TEST_REDIS_URL") == "" {
		t.Skip("needs TEST_REDIS_URL: without Redis instances share marks through the database only")
	}
	for _, ev := range append(revocationEvents(), cliEvent("set-role", "--role", "editor"), cliEvent("delete")) {
		t.Run(ev.name, func(t *testing.T) {
			t.Parallel()
			a := newEnv(t, unlimited())
			a.Clock.Set(time.Now().UTC()) // the CLI runs on the real clock
			b := newPeer(t, a, map[string]string{"TEST_REVOCATION_POLL": "1h"})
			v := newVictim(t, a, "twice", a, b)
			ev.do(t, a, v.email, v.first)
			took := checkEnded(t, b, ev, v, time.Second)
			t.Logf("refused on the other instance after %v", took)
		})
	}
}

// With B's connection to Redis cut, nothing reaches it over the channel:
// it refuses the revoked token within its database poll, the bound the
// README states (revocation.DefaultPoll plus one query). Without Redis the
// two instances share the SQLite file the same way.
func TestWithTheChannelCutARevocationIsRefusedWithinThePollBound(t *testing.T) {
	t.Parallel()
	a := newEnv(t, unlimited())
	var cut, restore func()
	peerVars := map[string]string{}
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		proxy, proxied := dbtest.ProxyURL(t, url)
		peerVars["REDIS_URL"] = proxied
		cut, restore = func() { proxy.SetMode(dbtest.Reset) }, func() { proxy.SetMode(dbtest.Forward) }
	}
	b := newPeer(t, a, peerVars)
	v := newVictim(t, a, "cut", a, b)
	if cut != nil {
		cut()
		t.Cleanup(restore) // before the harness deletes the test's keys through it
	}
	ev := revocationEvents()[1] // logout-all
	ev.do(t, a, v.email, v.first)
	took := checkEnded(t, b, ev, v, revocation.DefaultPoll+time.Second)
	t.Logf("refused through the database after %v", took)
}

// A subscription that comes back reloads every recent mark: B, which does
// not poll during the test, misses the message while cut and still refuses
// the token once its connection is back.
func TestAnInstanceCatchesUpOnTheMarksItMissedWhenItsChannelComesBack(t *testing.T) {
	t.Parallel()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		t.Skip("needs TEST_REDIS_URL")
	}
	a := newEnv(t, unlimited())
	proxy, proxied := dbtest.ProxyURL(t, url)
	b := newPeer(t, a, map[string]string{"REDIS_URL": proxied, "TEST_REVOCATION_POLL": "1h"})
	v := newVictim(t, a, "back", a, b)
	proxy.SetMode(dbtest.Reset)
	t.Cleanup(func() { proxy.SetMode(dbtest.Forward) })
	ev := revocationEvents()[0] // logout
	ev.do(t, a, v.email, v.first)
	time.Sleep(300 * time.Millisecond) // the message is gone for good
	expect(t, b.do("GET", "/projects", nil, bearer(v.first.Access)...), http.StatusOK, "")
	proxy.SetMode(dbtest.Forward)
	took := checkEnded(t, b, ev, v, 2*time.Second)
	t.Logf("refused after the reconnection after %v", took)
}

// An instance started after a revocation loads it before serving.
func TestAnInstanceStartedAfterARevocationRefusesTheToken(t *testing.T) {
	t.Parallel()
	a := newEnv(t, unlimited())
	v := newVictim(t, a, "late", a)
	ev := revocationEvents()[1] // logout-all
	ev.do(t, a, v.email, v.first)
	late := newPeer(t, a, map[string]string{"TEST_REVOCATION_POLL": "1h"})
	checkEnded(t, late, ev, v, 0)
}
