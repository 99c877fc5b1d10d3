package tests

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"apisec/db"
	"apisec/models"
)

// A purge before a spent refresh token expires keeps it, so presenting it
// again still revokes its session; an account never verified goes after
// UNVERIFIED_ACCOUNT_TTL, its link with it, and its address is free again.
func TestPurgeKeepsWhatTheAPIStillNeedsAndFreesStaleAccounts(t *testing.T) {
	t.Parallel()
	vars := unlimited()
	vars["UNVERIFIED_ACCOUNT_TTL"] = "24h" // shorter than the refresh tokens' 168h
	e := newEnv(t, vars)
	registerAndVerify(t, e, "ada@example.com", goodPassword)
	first := login(t, e, "ada@example.com", goodPassword)
	second := refresh(t, e, first.Refresh)
	_, link := register(t, e, "bob@example.com", goodPassword)

	e.Clock.Advance(24*time.Hour + time.Second)
	counts, err := e.App.Purger.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(counts); got != "[{refresh_tokens 0} {account_tokens 2} {login_events 0} {sessions 0} {session_revocations 0} {users 1}]" {
		t.Fatalf("counts %s", got) // account tokens: ada's spent and bob's expired verification links
	}
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": first.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": second.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	expect(t, e.do("GET", "/auth/verify?token="+link, nil), http.StatusBadRequest, "Invalid or expired verification token")
	register(t, e, "bob@example.com", goodPassword)
	login(t, e, "ada@example.com", goodPassword)
}

// seed opens the test's database beside the command under test and adds a
// verified user with a refresh token that expired an hour ago, one that
// expires in an hour, a login event two hours old, a session past the
// default SESSION_MAX_AGE and a live one, and a session mark older than any
// access token and its margin and a recent one (real time: the command
// reads the real clock).
func seed(t *testing.T, url string) *gorm.DB {
	t.Helper()
	gdb, _, err := db.Open(context.Background(), url, db.Options{MaxOpenConns: 1, MaxIdleConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB, _ := gdb.DB(); sqlDB.Close() })
	now := time.Now().UTC()
	u := &models.User{ID: models.NewID(), Email: "seed@example.com", PasswordHash: "x", Role: models.RoleViewer,
		Plan: models.DefaultPlan, EmailVerified: true, CreatedAt: now.Add(-time.Hour), UpdatedAt: now}
	if err := models.CreateUser(gdb, u); err != nil {
		t.Fatal(err)
	}
	for _, exp := range []time.Duration{-time.Hour, time.Hour} {
		addExpiringRefreshToken(t, gdb, u.ID, now.Add(exp))
	}
	if err := models.RecordLogin(gdb, u.ID, now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, age := range []time.Duration{721 * time.Hour, time.Hour} {
		if err := models.CreateSession(gdb, &models.Session{ID: models.NewID(), UserID: u.ID, CreatedAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, age := range []time.Duration{3 * time.Hour, time.Minute} {
		if err := models.RecordRevocations(gdb, []string{models.NewID()}, now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	return gdb
}

func addExpiringRefreshToken(t *testing.T, gdb *gorm.DB, userID string, expires time.Time) {
	t.Helper()
	err := models.CreateRefreshToken(gdb, &models.RefreshToken{ID: models.NewID(), UserID: userID, FamilyID: models.NewID(),
		TokenHash: models.NewID(), ExpiresAt: expires, CreatedAt: expires.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, gdb *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := gdb.Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPurgeCommandPrintsOneLinePerTableAndRefusesBadFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := cliVars(t)
	vars["LOGIN_EVENTS_RETENTION"] = "1h"
	if code, _, stderr := runCLI(t, ctx, vars, "migrate", "up"); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	gdb := seed(t, vars["DATABASE_URL"])

	for _, args := range [][]string{{"purge", "--batch", "10"}, {"purge", "now"}, {"purge", "-"}} {
		code, out, stderr := runCLI(t, ctx, vars, args...)
		if code != 2 || out != "" || !strings.HasPrefix(stderr, "error: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line on stderr", args, code, out, stderr)
		}
	}
	if n := count(t, gdb, "refresh_tokens"); n != 2 {
		t.Fatalf("a refused purge deleted: %d refresh tokens left", n)
	}

	code, out, stderr := runCLI(t, ctx, vars, "purge")
	want := "refresh_tokens: 1 deleted\naccount_tokens: 0 deleted\nlogin_events: 1 deleted\n" +
		"sessions: 1 deleted\nsession_revocations: 1 deleted\nusers: 0 deleted\n"
	if code != 0 || out != want {
		t.Fatalf("purge: exit %d, stdout %q, stderr %q; want %q", code, out, stderr, want)
	}
	for _, table := range []string{"refresh_tokens", "sessions", "session_revocations"} {
		if n := count(t, gdb, table); n != 1 {
			t.Errorf("%d rows left in %s, want the live one", n, table)
		}
	}
}

// A logout's mark outlives every access token of its session by the margin,
// so an instance started after a purge still refuses them; it goes after
// that. A session goes once SESSION_MAX_AGE has passed since its login, with
// its tokens; a live one stays and keeps working.
func TestPurgeDeletesSessionsPastTheirEndAndMarksNoTokenNeeds(t *testing.T) {
	t.Parallel()
	vars := unlimited()
	vars["SESSION_MAX_AGE"] = "48h"
	vars["ACCESS_TOKEN_TTL"] = "15m"
	vars["JWT_CLOCK_SKEW"] = "5s"
	e := newEnv(t, vars)
	registerAndVerify(t, e, "ada@example.com", goodPassword)
	t0 := e.Clock.Now()
	kept := login(t, e, "ada@example.com", goodPassword)
	ended := login(t, e, "ada@example.com", goodPassword)
	expect(t, e.do("POST", "/auth/logout", map[string]string{"refreshToken": ended.Refresh}), http.StatusNoContent, "")

	purge := func(at time.Duration) map[string]int64 {
		t.Helper()
		rlAdvanceTo(t, e, t0.Add(at))
		counts, err := e.App.Purger.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int64{}
		for _, c := range counts {
			n[c.Table] = c.Deleted
		}
		return n
	}

	// The ended session's access token still lives: its mark stays, and a
	// new instance, which loads the marks from the database, refuses it.
	if n := purge(14 * time.Minute); n["session_revocations"] != 0 || n["sessions"] != 0 {
		t.Fatalf("purge while the tokens live: %v", n)
	}
	peer := newPeer(t, e, nil)
	expect(t, me(peer, ended.Access), http.StatusUnauthorized, "")
	expect(t, me(peer, kept.Access), http.StatusOK, "")
	// The token's lifetime and skew have passed, not the margin.
	if n := purge(time.Hour + 15*time.Minute + 5*time.Second); n["session_revocations"] != 0 {
		t.Fatalf("purge within the margin: %v", n)
	}
	if n := purge(2*time.Hour + 15*time.Minute); n["session_revocations"] != 1 {
		t.Fatalf("purge past the margin: %v", n)
	}

	rlAdvanceTo(t, e, t0.Add(48*time.Hour-time.Minute))
	later := refresh(t, e, kept.Refresh) // a rotation does not extend the session
	if n := purge(48*time.Hour - time.Minute); n["sessions"] != 0 {
		t.Fatalf("purge before the sessions end: %v", n)
	}
	expect(t, me(e, later.Access), http.StatusOK, "")
	fresh := login(t, e, "ada@example.com", goodPassword)
	n := purge(48*time.Hour + time.Second)
	if n["sessions"] != 2 || n["refresh_tokens"] != 3 {
		t.Fatalf("purge after the sessions end: %v, want both sessions of t0 and their 3 refresh tokens", n)
	}
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": later.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	refresh(t, e, fresh.Refresh)
	var left int64
	if err := e.App.DB.Model(&models.Session{}).Count(&left).Error; err != nil {
		t.Fatal(err)
	}
	if left != 1 {
		t.Fatalf("%d sessions left, want the fresh one", left)
	}
}

// serve purges at start and then every PURGE_INTERVAL, logging a line per table.
func TestServePurgesEveryInterval(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vars := cliVars(t)
	vars["PURGE_INTERVAL"] = "100ms"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	vars["PORT"] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	if code, _, stderr := runCLI(t, ctx, vars, "migrate", "up"); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	gdb := seed(t, vars["DATABASE_URL"])
	var userID string
	if err := gdb.Table("users").Select("id").Take(&userID).Error; err != nil {
		t.Fatal(err)
	}
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runCLI(t, ctx, vars, "serve")
		done <- result{code, out, errOut}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("serve did not purge %s", what)
			}
		}
	}
	waitFor("at start", func() bool { return count(t, gdb, "refresh_tokens") == 1 })
	addExpiringRefreshToken(t, gdb, userID, time.Now().UTC().Add(-time.Minute))
	waitFor("again", func() bool { return count(t, gdb, "refresh_tokens") == 1 })
	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("serve exited %d: %s", r.code, r.err)
	}
	for _, line := range []string{"table=refresh_tokens deleted=1", "table=users deleted=0"} {
		if !strings.Contains(r.out, "msg=purged "+line) {
			t.Errorf("log lacks %q:\n%s", line, r.out)
		}
	}
}
