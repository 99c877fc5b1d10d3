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
	if got := fmt.Sprint(counts); got != "[{refresh_tokens 0} {account_tokens 2} {login_events 0} {users 1}]" {
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
// expires in an hour, and a login event two hours old (real time: the
// command reads the real clock).
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
	want := "refresh_tokens: 1 deleted\naccount_tokens: 0 deleted\nlogin_events: 1 deleted\nusers: 0 deleted\n"
	if code != 0 || out != want {
		t.Fatalf("purge: exit %d, stdout %q, stderr %q; want %q", code, out, stderr, want)
	}
	if n := count(t, gdb, "refresh_tokens"); n != 1 {
		t.Fatalf("%d refresh tokens left, want the live one", n)
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
