package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"apisec/models"
)

// Every security event of an account's life is logged, naming the request
// (ID and client IP) and the user, and no event line carries a password,
// token or hash that a request carried or the database holds.
func TestSecurityEventsNameTheRequestAndNeverCarrySecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_LOGIN": "off", "RATE_LIMIT_ACCOUNT": "3/15m"})
	ctx := context.Background()
	const email = "events@example.com"
	const wrong, second, third = "Wrong-Horse-99", "Second-Horse-43", "Third-Horse-44"
	var secrets []string
	keep := func(s ...string) {
		for _, v := range s {
			if v == "" {
				t.Fatal("a secret to look for is empty")
			}
			secrets = append(secrets, v)
		}
	}
	hash := func() {
		u, err := models.UserByEmail(e.App.DB, email)
		if err != nil {
			t.Fatal(err)
		}
		keep(u.PasswordHash, strings.TrimPrefix(u.PasswordHash, "$2a$04$"))
	}
	logIn := func(password string) (session, string) {
		r := e.do("POST", "/auth/login", map[string]string{"email": email, "password": password})
		expect(t, r, http.StatusOK, "")
		s := sessionOf(t, r)
		keep(s.Access, s.Refresh, r.String("deviceToken"))
		return s, r.String("deviceToken")
	}

	user, verification := register(t, e, email, goodPassword)
	keep(goodPassword, wrong, second, third, verification)
	expect(t, e.do("GET", "/auth/verify?token="+verification, nil), http.StatusOK, "")
	hash()

	first, _ := logIn(goodPassword)
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": email, "password": wrong}), http.StatusUnauthorized, "")
	next := refresh(t, e, first.Refresh)
	keep(next.Access, next.Refresh)
	e.Clock.Advance(11 * time.Second) // past REFRESH_REUSE_GRACE
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": first.Refresh}), http.StatusUnauthorized, "")

	s, _ := logIn(goodPassword)
	expect(t, e.do("POST", "/auth/logout", map[string]string{"refreshToken": s.Refresh}), http.StatusNoContent, "")
	s, _ = logIn(goodPassword)
	expect(t, e.do("POST", "/auth/logout-all", nil, bearer(s.Access)...), http.StatusNoContent, "")
	s, device := logIn(goodPassword)
	expect(t, e.do("POST", "/auth/password/change", map[string]string{"currentPassword": goodPassword, "newPassword": second},
		bearer(s.Access)...), http.StatusNoContent, "")
	hash()

	r := e.do("POST", "/auth/password/forgot", map[string]string{"email": email})
	expect(t, r, http.StatusAccepted, "")
	reset := r.String("resetToken")
	keep(reset)
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": reset, "newPassword": third}), http.StatusNoContent, "")
	hash()

	// Guesses at the account until its limiter refuses one.
	throttled := false
	for i := 0; i < 5 && !throttled; i++ {
		r := e.do("POST", "/auth/login", map[string]string{"email": email, "password": wrong, "deviceToken": device})
		throttled = r.Status == http.StatusTooManyRequests
	}
	if !throttled {
		t.Fatal("the account limiter never refused a login")
	}

	if err := e.App.Accounts.SetRole(ctx, email, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Accounts.DeleteUser(ctx, email); err != nil {
		t.Fatal(err)
	}

	id := user["id"].(string)
	seen := map[string]int{}
	for _, line := range eventLines(t, e) {
		ev := line["event"].(string)
		seen[ev]++
		raw, _ := json.Marshal(line)
		text := string(raw) + fmt.Sprint(line)
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s event carries a secret %q: %s", ev, secret, raw)
			}
		}
		fromCLI := ev == "role.changed" || ev == "user.deleted"
		if !fromCLI && (line["request_id"] == nil || line["client_ip"] != "127.0.0.1") {
			t.Errorf("%s names no request: %s", ev, raw)
		}
		if ev != "login.throttled" && line["user_id"] != id {
			t.Errorf("%s user_id %v, want %s", ev, line["user_id"], id)
		}
	}
	for ev, want := range map[string]int{
		"login.failed": 3, "login.throttled": 1, "refresh.reuse": 1, "session.revoked": 2,
		"password.changed": 1, "password.reset": 1, "role.changed": 1, "user.deleted": 1,
	} {
		if seen[ev] != want {
			t.Errorf("%d %s events, want %d (all: %v)", seen[ev], ev, want, seen)
		}
	}
}
