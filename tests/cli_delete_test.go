package tests

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"apisec/app/revocation"
	"apisec/models"
)

// operatorVars is the environment of a CLI run against e's database and Redis.
func operatorVars(e *env) map[string]string {
	vars := map[string]string{}
	for _, k := range []string{"APP_ENV", "BCRYPT_COST", "DATABASE_URL", "REDIS_URL"} {
		vars[k] = e.vars[k]
	}
	return vars
}

// users delete removes the account and what it owns in one go, and the
// running instance refuses its access token: at once over Redis, within
// the poll bound on the embedded default.
func TestUsersDeleteRemovesTheAccountWithWhatItOwnsAndEndsItsTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	e.Clock.Set(time.Now().UTC()) // the CLI runs on the real clock
	editor := userWithRole(t, e, "leaving@example.com", models.RoleEditor)
	stays := userWithRole(t, e, "staying@example.com", models.RoleEditor)
	createProject(t, e, editor.Access, map[string]string{"name": "Theirs"})
	kept := createProject(t, e, stays.Access, map[string]string{"name": "Kept"})
	forgot(t, e, "leaving@example.com") // an open reset link is owned too

	ctx := context.Background()
	code, out, stderr := runCLI(t, ctx, operatorVars(e), "users", "delete", "--email", "Leaving@Example.com")
	if code != 0 || !strings.HasPrefix(out, "deleted Leaving@Example.com") {
		t.Fatalf("delete: exit %d, %q %q", code, out, stderr)
	}
	refusedWithin(t, e, editor.Access, revocation.DefaultPoll+time.Second)
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": editor.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": "leaving@example.com", "password": goodPassword}),
		http.StatusUnauthorized, "Invalid email or password")
	for _, table := range []string{"projects", "sessions", "refresh_tokens", "account_tokens", "login_events"} {
		var n int64
		if err := e.App.DB.Table(table).Where(ownerColumn(table) + " NOT IN (SELECT id FROM users)").Count(&n).Error; err != nil || n != 0 {
			t.Errorf("%s: %d rows of the deleted user left (%v)", table, n, err)
		}
	}
	r := e.do("GET", "/projects", nil, bearer(stays.Access)...)
	expect(t, r, http.StatusOK, "")
	if list, _ := r.JSON["projects"].([]any); len(list) != 1 || !strings.Contains(string(r.Body), kept["id"].(string)) {
		t.Fatalf("projects after the delete: %s", r.Body)
	}
	// The address is free again.
	registerAndVerify(t, e, "leaving@example.com", goodPassword)
}

func ownerColumn(table string) string {
	if table == "projects" {
		return "owner_id"
	}
	return "user_id"
}

// Bad flags are a one-line usage error (exit 2) and touch nothing; an
// unknown address is a plain failure with the contract's message.
func TestUsersDeleteRefusesBadFlagsAndUnknownAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	s := userWithRole(t, e, "kept@example.com", models.RoleViewer)
	vars := operatorVars(e)
	ctx := context.Background()
	for _, args := range [][]string{
		{"users", "delete"},
		{"users", "delete", "--email"},
		{"users", "delete", "--email", ""},
		{"users", "delete", "--email", "not-an-address"},
		{"users", "delete", "--email", "kept@example.com", "--force"},
		{"users", "delete", "--email", "kept@example.com", "extra"},
	} {
		code, _, stderr := runCLI(t, ctx, vars, args...)
		if code != 2 || !strings.HasPrefix(stderr, "error: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
	code, _, stderr := runCLI(t, ctx, vars, "users", "delete", "--email", "nobody@example.com")
	if code != 1 || stderr != "error: no user with that email\n" {
		t.Errorf("unknown address: exit %d, stderr %q", code, stderr)
	}
	expect(t, e.do("GET", "/projects", nil, bearer(s.Access)...), http.StatusOK, "")
	refresh(t, e, s.Refresh)
}
