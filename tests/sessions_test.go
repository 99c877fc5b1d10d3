package tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Login

func TestLoginReturnsABearerPairWhoseAccessTokenWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "login@example.com", goodPassword)
	r := e.do("POST", "/auth/login", map[string]string{"email": "login@example.com", "password": goodPassword})
	expect(t, r, http.StatusOK, "")
	if r.String("tokenType") != "Bearer" || r.JSON["expiresIn"] != float64(900) {
		t.Fatalf("login body %s", r.Body)
	}
	refresh := r.String("refreshToken")
	if len(refresh) != 64 || strings.Trim(refresh, "0123456789abcdef") != "" {
		t.Fatalf("refresh token %q is not 64 hex characters", refresh)
	}
	_, claims := claimsOf(t, r.String("accessToken"))
	for _, k := range []string{"sub", "role", "plan", "iss", "aud", "iat", "exp", "jti"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("access token lacks %q: %v", k, claims)
		}
	}

	who := me(e, r.String("accessToken"))
	expect(t, who, http.StatusOK, "")
	u, _ := who.JSON["user"].(map[string]any)
	if u["email"] != "login@example.com" || u["id"] != claims["sub"] || u["role"] != "viewer" || u["emailVerified"] != true {
		t.Fatalf("me %s, claims %v", who.Body, claims)
	}
	if strings.Contains(strings.ToLower(string(who.Body)), "hash") {
		t.Fatalf("me shows a hash: %s", who.Body)
	}
}

func TestLoginComparesEmailsCaseInsensitively(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "Mixed.Case@Example.com", goodPassword)
	for _, email := range []string{"mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM", " Mixed.Case@Example.com "} {
		login(t, e, email, goodPassword)
	}
}

func TestLoginRefusesWrongCredentialsAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "known@example.com", goodPassword)
	register(t, e, "unverified@example.com", goodPassword)
	cases := []struct {
		name, email, password string
		status                int
		msg                   string
	}{
		{"wrong password", "known@example.com", "Wrong-Horse-42", 401, "Invalid email or password"},
		{"password in another case", "known@example.com", strings.ToUpper(goodPassword), 401, "Invalid email or password"},
		{"unknown e-mail", "stranger@example.com", goodPassword, 401, "Invalid email or password"},
		{"unknown e-mail that is not an address", "stranger", goodPassword, 401, "Invalid email or password"},
		{"e-mail with a NUL byte (PostgreSQL refuses it in a query)", "known\x00@example.com", goodPassword, 401, "Invalid email or password"},
		{"known e-mail in another case with spaces", " KNOWN@example.com ", "Wrong-Horse-42", 401, "Invalid email or password"},
		{"unverified with a wrong password", "unverified@example.com", "Wrong-Horse-42", 401, "Invalid email or password"},
		{"unverified with the right password", "unverified@example.com", goodPassword, 403, "Email not verified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := e.as(t).do("POST", "/auth/login", map[string]string{"email": c.email, "password": c.password})
			expect(t, r, c.status, c.msg)
			if c.status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
			if r.String("accessToken") != "" || r.String("refreshToken") != "" {
				t.Fatalf("refused login carries tokens: %s", r.Body)
			}
		})
	}
}

// Logout

func TestLogoutEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "logout@example.com", goodPassword)
	phone := login(t, e, "logout@example.com", goodPassword)
	laptop := login(t, e, "logout@example.com", goodPassword)

	r := e.do("POST", "/auth/logout", map[string]string{"refreshToken": phone.Refresh})
	expect(t, r, http.StatusNoContent, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": phone.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	refresh(t, e, laptop.Refresh)
}

func TestLogoutEndsTheWholeRotatedSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "rotated@example.com", goodPassword)
	first := login(t, e, "rotated@example.com", goodPassword)
	second := refresh(t, e, first.Refresh)
	expect(t, e.do("POST", "/auth/logout", map[string]string{"refreshToken": second.Refresh}), http.StatusNoContent, "")
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": second.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	// The grace window must not revive a session that was logged out.
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": first.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
}

func TestLogoutRefusesAGarbageToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tok := range []string{"", "nope", strings.Repeat("a", 64)} {
		expect(t, e.as(t).do("POST", "/auth/logout", map[string]string{"refreshToken": tok}), http.StatusUnauthorized, "Invalid refresh token")
	}
}

func TestLogoutAllRevokesEverySessionOfTheUserOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "everywhere@example.com", goodPassword)
	registerAndVerify(t, e, "bystander@example.com", goodPassword)
	a := login(t, e, "everywhere@example.com", goodPassword)
	b := login(t, e, "everywhere@example.com", goodPassword)
	other := login(t, e, "bystander@example.com", goodPassword)

	expect(t, e.do("POST", "/auth/logout-all", nil), http.StatusUnauthorized, "Authentication required")
	expect(t, e.do("POST", "/auth/logout-all", nil, bearer(a.Access)...), http.StatusNoContent, "")
	for _, s := range []session{a, b} {
		expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	}
	refresh(t, e, other.Refresh)
	login(t, e, "everywhere@example.com", goodPassword)
}

// Password change

func TestPasswordChangeChecksTheCurrentPasswordAndRevokesSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "change@example.com", goodPassword)
	s := login(t, e, "change@example.com", goodPassword)
	other := login(t, e, "change@example.com", goodPassword)
	const next = "Brand-New-Pass-9"

	expect(t, e.do("POST", "/auth/password/change", map[string]string{"currentPassword": goodPassword, "newPassword": next}),
		http.StatusUnauthorized, "Authentication required")
	expect(t, e.do("POST", "/auth/password/change", map[string]string{"currentPassword": "Wrong-Horse-42", "newPassword": next}, bearer(s.Access)...),
		http.StatusForbidden, "Current password is incorrect")
	// A missing, null or non-string current password is a bad request, not
	// a wrong password.
	for _, body := range []any{
		map[string]any{"newPassword": next},
		map[string]any{"currentPassword": nil, "newPassword": next},
		map[string]any{"currentPassword": "", "newPassword": next},
	} {
		expect(t, e.do("POST", "/auth/password/change", body, bearer(s.Access)...), http.StatusBadRequest, "Current password is required")
	}
	expect(t, e.do("POST", "/auth/password/change", map[string]any{"currentPassword": 12345, "newPassword": next}, bearer(s.Access)...),
		http.StatusBadRequest, "currentPassword must be a string")
	r := e.do("POST", "/auth/password/change", map[string]string{"currentPassword": goodPassword, "newPassword": "weakpass"}, bearer(s.Access)...)
	expect(t, r, http.StatusBadRequest, "")
	if !strings.Contains(r.Error(), "Password") {
		t.Fatalf("weak new password: %q", r.Error())
	}
	// Neither refusal changed anything.
	refreshed := refresh(t, e, s.Refresh)

	r = e.do("POST", "/auth/password/change", map[string]string{"currentPassword": goodPassword, "newPassword": next}, bearer(refreshed.Access)...)
	expect(t, r, http.StatusNoContent, "")
	for _, tok := range []string{refreshed.Refresh, other.Refresh} {
		expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": tok}), http.StatusUnauthorized, "Invalid refresh token")
	}
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": "change@example.com", "password": goodPassword}),
		http.StatusUnauthorized, "Invalid email or password")
	login(t, e, "change@example.com", next)
}

// Forgotten passwords

func TestForgotPasswordAnswers202AndMailsEveryAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "verified@example.com", goodPassword)
	register(t, e, "unverified@example.com", goodPassword)

	r := e.do("POST", "/auth/password/forgot", map[string]string{"email": "nobody@example.com"})
	expect(t, r, http.StatusAccepted, "")
	if _, ok := r.JSON["resetToken"]; ok {
		t.Errorf("nobody: a reset token in %s", r.Body)
	}
	for addr, n := range map[string]int{"Verified@Example.com": 2, "unverified@example.com": 2} {
		r := e.do("POST", "/auth/password/forgot", map[string]string{"email": addr})
		expect(t, r, http.StatusAccepted, "")
		if r.String("message") != "If the address is registered, a reset link is on its way" {
			t.Errorf("%s: message %s", addr, r.Body)
		}
		token := r.String("resetToken")
		if token == "" {
			t.Fatalf("no resetToken outside production: %s", r.Body)
		}
		if got := linkToken(t, mailTo(t, e, strings.ToLower(addr), n), "https://app.example.test/reset-password?token="); got != token {
			t.Fatalf("mailed token %q, body token %q", got, token)
		}
	}
	flushMail(e)
	for addr, want := range map[string]int{"nobody@example.com": 0, "unverified@example.com": 2, "verified@example.com": 2} {
		if n := mailedTo(e, addr); n != want {
			t.Errorf("%s got %d e-mails, want %d", addr, n, want)
		}
	}
}

// forgot asks for a reset link for a verified user and returns its token.
func forgot(t *testing.T, e *env, email string) string {
	t.Helper()
	r := e.as(t).do("POST", "/auth/password/forgot", map[string]string{"email": email})
	expect(t, r, http.StatusAccepted, "")
	if r.String("resetToken") == "" {
		t.Fatalf("no resetToken: %s", r.Body)
	}
	return r.String("resetToken")
}

func TestPasswordResetWorksOnceAndRevokesEverySession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "reset@example.com", goodPassword)
	a := login(t, e, "reset@example.com", goodPassword)
	b := login(t, e, "reset@example.com", goodPassword)
	token := forgot(t, e, "reset@example.com")
	const next = "Brand-New-Pass-9"

	r := e.do("POST", "/auth/password/reset", map[string]string{"token": token, "newPassword": next})
	expect(t, r, http.StatusNoContent, "")
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": token, "newPassword": "Other-New-Pass-8"}),
		http.StatusBadRequest, "Invalid or expired reset token")

	for _, s := range []session{a, b} {
		expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	}
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": "reset@example.com", "password": goodPassword}),
		http.StatusUnauthorized, "Invalid email or password")
	login(t, e, "reset@example.com", next)
}

func TestPasswordResetTokensExpireAfterOneHour(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "early@example.com", goodPassword)
	registerAndVerify(t, e, "late@example.com", goodPassword)
	early := forgot(t, e, "early@example.com")
	late := forgot(t, e, "late@example.com")

	e.Clock.Advance(59 * time.Minute)
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": early, "newPassword": "Brand-New-Pass-9"}), http.StatusNoContent, "")
	e.Clock.Advance(2 * time.Minute)
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": late, "newPassword": "Brand-New-Pass-9"}),
		http.StatusBadRequest, "Invalid or expired reset token")
	login(t, e, "late@example.com", goodPassword)
}

func TestAWeakNewPasswordLeavesTheResetTokenUsable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "weakreset@example.com", goodPassword)
	token := forgot(t, e, "weakreset@example.com")
	for _, weak := range []string{"", "short1A", "Password123", "alllowercase123"} {
		r := e.do("POST", "/auth/password/reset", map[string]string{"token": token, "newPassword": weak})
		expect(t, r, http.StatusBadRequest, "")
		if !strings.Contains(r.Error(), "Password") {
			t.Errorf("%q: message %q does not name the password rule", weak, r.Error())
		}
	}
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": token, "newPassword": "Brand-New-Pass-9"}), http.StatusNoContent, "")
	login(t, e, "weakreset@example.com", "Brand-New-Pass-9")
}

func TestPasswordResetRefusesGarbageTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "garbage@example.com", goodPassword)
	_, verification := register(t, e, "other@example.com", goodPassword)
	for _, tok := range []string{"", "nope", strings.Repeat("0", 64), verification} {
		expect(t, e.as(t).do("POST", "/auth/password/reset", map[string]string{"token": tok, "newPassword": "Brand-New-Pass-9"}),
			http.StatusBadRequest, "Invalid or expired reset token")
	}
}

func TestConcurrentResetsWithOneTokenSucceedExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "resetrace@example.com", goodPassword)
	token := forgot(t, e, "resetrace@example.com")
	var (
		mu  sync.Mutex
		won []string
	)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			pw := fmt.Sprintf("Racing-Pass-%02d", i)
			r, err := e.send("POST", "/auth/password/reset", map[string]string{"token": token, "newPassword": pw})
			switch {
			case err != nil:
				t.Error(err)
			case r.Status == http.StatusNoContent:
				mu.Lock()
				won = append(won, pw)
				mu.Unlock()
			case r.Status != http.StatusBadRequest || r.Error() != "Invalid or expired reset token":
				t.Errorf("loser answered %d %s", r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d concurrent resets succeeded, want exactly 1", len(won))
	}
	login(t, e, "resetrace@example.com", won[0])
}

func TestAPasswordChangeVoidsAnOpenResetLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "changed@example.com", goodPassword)
	token := forgot(t, e, "changed@example.com")
	s := login(t, e, "changed@example.com", goodPassword)
	expect(t, e.do("POST", "/auth/password/change", map[string]string{"currentPassword": goodPassword, "newPassword": "Brand-New-Pass-9"},
		bearer(s.Access)...), http.StatusNoContent, "")
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": token, "newPassword": "Other-New-Pass-8"}),
		http.StatusBadRequest, "Invalid or expired reset token")
	login(t, e, "changed@example.com", "Brand-New-Pass-9")
}
