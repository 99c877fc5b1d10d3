package tests

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Registration

func TestRegistrationCreatesAnUnverifiedViewerAndMailsTheLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("POST", "/auth/register", map[string]string{"email": "new.user@example.com", "password": goodPassword})
	expect(t, r, http.StatusCreated, "")

	user, _ := r.JSON["user"].(map[string]any)
	var keys []string
	for k := range user {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"createdAt", "email", "emailVerified", "id", "plan", "role"}; !slices.Equal(keys, want) {
		t.Fatalf("user keys %v, want %v; body %s", keys, want, r.Body)
	}
	if user["id"] == "" || user["email"] != "new.user@example.com" || user["role"] != "viewer" ||
		user["plan"] != "free" || user["emailVerified"] != false {
		t.Fatalf("user %v", user)
	}
	created, err := time.Parse(time.RFC3339Nano, user["createdAt"].(string))
	if err != nil || !created.Equal(e.Clock.Now()) {
		t.Fatalf("createdAt %v (%v), want the app clock's %v", user["createdAt"], err, e.Clock.Now())
	}
	body := strings.ToLower(string(r.Body))
	for _, leak := range []string{"hash", "$2a$", "$2b$", strings.ToLower(goodPassword)} {
		if strings.Contains(body, leak) {
			t.Fatalf("body holds %q: %s", leak, r.Body)
		}
	}

	token := r.String("verificationToken")
	if token == "" {
		t.Fatalf("no verificationToken outside production: %s", r.Body)
	}
	mail := mailTo(t, e, "new.user@example.com", 1)
	if got := linkToken(t, mail, "https://app.example.test/auth/verify?token="); got != token {
		t.Fatalf("mailed token %q, body token %q", got, token)
	}
}

func TestRegisteringATakenEmailIsAConflictWhateverItsCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	register(t, e, "taken@example.com", goodPassword)
	for _, email := range []string{"taken@example.com", "Taken@Example.COM", "  TAKEN@example.com  "} {
		r := e.do("POST", "/auth/register", map[string]string{"email": email, "password": "Another-Pass-77"})
		if r.Status != http.StatusConflict || r.Error() != "Email already registered" {
			t.Errorf("%q: %d %s", email, r.Status, r.Body)
		}
	}
}

func TestRegistrationRefusesWeakPasswordsNamingTheRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	cases := []struct {
		name, password, rule string
	}{
		{"empty", "", "required"},
		{"nine characters", "Abcdefgh1", "at least 10"},
		{"no upper-case letter", "lowercase-only-1", "upper-case"},
		{"no lower-case letter", "UPPERCASE-ONLY-1", "lower-case"},
		{"no digit", "No-Digits-Anywhere", "digit"},
		{"73 ASCII bytes", "Aa1" + strings.Repeat("x", 70), "72 bytes"},
		{"73 bytes in 38 characters", "Aa1" + strings.Repeat("é", 35), "72 bytes"},
		{"commonly breached", "Password123", "common"},
		{"commonly breached in another case", "pASSWORD123", "common"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := e.as(t).do("POST", "/auth/register", map[string]string{"email": "weak@example.com", "password": c.password})
			expect(t, r, http.StatusBadRequest, "")
			if !strings.Contains(strings.ToLower(r.Error()), c.rule) {
				t.Fatalf("message %q does not name the rule %q", r.Error(), c.rule)
			}
		})
	}
	// Exactly 72 bytes is allowed: the limit is bcrypt's, not one byte less.
	r := e.do("POST", "/auth/register", map[string]string{"email": "exactly72@example.com", "password": "Aa1" + strings.Repeat("x", 69)})
	expect(t, r, http.StatusCreated, "")
}

func TestRegistrationRefusesMalformedEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	for _, email := range []string{
		"",
		"   ",
		"plainaddress",
		"@example.com",
		"user@",
		"user@@example.com",
		"user@localhost",
		"two words@example.com",
		"Display Name <user@example.com>",
		"<user@example.com>",
		"user@[192.0.2.1]",
		"user@example..com",
		".user@example.com",
		"user@example.com\r\nBcc: victim@example.com",
		"user\t@example.com",
		strings.Repeat("x", 65) + "@example.com",
		strings.Repeat("x", 64) + "@" + strings.Repeat("d", 190) + ".com",
	} {
		r := e.do("POST", "/auth/register", map[string]string{"email": email, "password": goodPassword})
		if r.Status != http.StatusBadRequest || !strings.Contains(strings.ToLower(r.Error()), "email") {
			t.Errorf("%q: %d %s, want 400 naming the e-mail", email, r.Status, r.Body)
		}
	}
}

func TestRegistrationRefusesMissingFieldsAndWrongTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	cases := []struct {
		name, body, msg string
	}{
		{"empty object", `{}`, "Email is required"},
		{"no password", `{"email":"a@example.com"}`, "Password is required"},
		{"no email", `{"password":"Correct-Horse-42"}`, "Email is required"},
		{"null email", `{"email":null,"password":"Correct-Horse-42"}`, "Email is required"},
		{"password a number", `{"email":"a@example.com","password":1234567890}`, "password must be a string"},
		{"password a boolean", `{"email":"a@example.com","password":true}`, "password must be a string"},
		{"password an array", `{"email":"a@example.com","password":["Correct-Horse-42"]}`, "password must be a string"},
		{"email an object", `{"email":{"a":"b"},"password":"Correct-Horse-42"}`, "email must be a string"},
		{"a string", `"a@example.com"`, "Invalid JSON body"},
		{"null", `null`, "Email is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			expect(t, e.as(t).do("POST", "/auth/register", c.body), http.StatusBadRequest, c.msg)
		})
	}
}

func TestRegistrationRefusesOddUnicode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	cases := []struct {
		name, body string
	}{
		{"NUL in the e-mail", `{"email":"nul\u0000user@example.com","password":"Correct-Horse-42"}`},
		{"NUL in the password", `{"email":"nul@example.com","password":"Correct\u0000Horse-42"}`},
		{"escape in the password", `{"email":"esc@example.com","password":"Correct\u001bHorse-42"}`},
		{"right-to-left override in the e-mail", `{"email":"user\u202egro.elpmaxe@example.com","password":"Correct-Horse-42"}`},
		{"zero-width space in the e-mail", `{"email":"us\u200ber@example.com","password":"Correct-Horse-42"}`},
		{"emoji in the e-mail", `{"email":"😀@example.com","password":"Correct-Horse-42"}`},
		// encoding/json quietly turns invalid UTF-8 and lone surrogates into
		// U+FFFD; the rules must still refuse what the client sent.
		{"invalid UTF-8 in the e-mail", "{\"email\":\"bad\xff\xfe@example.com\",\"password\":\"Correct-Horse-42\"}"},
		{"invalid UTF-8 in the password", "{\"email\":\"bad@example.com\",\"password\":\"Correct\xc3\x28Horse-42\"}"},
		{"lone surrogate in the password", `{"email":"sur@example.com","password":"Correct\ud800Horse-42"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := e.as(t).do("POST", "/auth/register", c.body)
			expect(t, r, http.StatusBadRequest, "")
			if r.Error() == "" {
				t.Fatalf("no error message: %s", r.Body)
			}
		})
	}
}

func TestAFailedRegistrationLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	for _, password := range []string{"short1A", "Password123", "nocapitals123"} {
		r := e.do("POST", "/auth/register", map[string]string{"email": "retry@example.com", "password": password})
		expect(t, r, http.StatusBadRequest, "")
	}
	register(t, e, "retry@example.com", goodPassword)
	flushMail(e)
	if n := mailedTo(e, "retry@example.com"); n != 1 {
		t.Fatalf("%d e-mails for one registration", n)
	}
}

// Verification

func TestVerificationWorksOnceAndThenLetsTheUserIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	register(t, e, "once@example.com", goodPassword)
	token := linkToken(t, mailTo(t, e, "once@example.com", 1), "https://app.example.test/auth/verify?token=")

	expect(t, e.do("GET", "/auth/verify?token="+token, nil), http.StatusOK, "")
	expect(t, e.do("GET", "/auth/verify?token="+token, nil), http.StatusBadRequest, "Invalid or expired verification token")

	s := login(t, e, "once@example.com", goodPassword)
	r := me(e, s.Access)
	expect(t, r, http.StatusOK, "")
	if u, _ := r.JSON["user"].(map[string]any); u["emailVerified"] != true {
		t.Fatalf("me after verification: %s", r.Body)
	}
}

func TestVerificationTokensExpireAfter24Hours(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	_, early := register(t, e, "early@example.com", goodPassword)
	_, late := register(t, e, "late@example.com", goodPassword)

	e.Clock.Advance(24*time.Hour - time.Minute)
	expect(t, e.do("GET", "/auth/verify?token="+early, nil), http.StatusOK, "")

	e.Clock.Advance(2 * time.Minute)
	expect(t, e.do("GET", "/auth/verify?token="+late, nil), http.StatusBadRequest, "Invalid or expired verification token")
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": "late@example.com", "password": goodPassword}),
		http.StatusForbidden, "Email not verified")
}

func TestVerificationRefusesMissingAndGarbageTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	_, real := register(t, e, "garbage@example.com", goodPassword)
	for _, query := range []string{
		"",
		"?token=",
		"?token=nope",
		"?token=" + strings.Repeat("0", 64),
		"?token=" + strings.ToUpper(real),
		"?token=" + real[:63],
		"?token=" + real + "0",
		"?token=" + real[:60] + "%00%00%00%00",
		"?token=%27%20OR%201%3D1--",
		"?tok=" + real,
	} {
		r := e.do("GET", "/auth/verify"+query, nil)
		if r.Status != http.StatusBadRequest || r.Error() != "Invalid or expired verification token" {
			t.Errorf("%q: %d %s", query, r.Status, r.Body)
		}
	}
	// None of those spent or harmed the real token.
	expect(t, e.do("GET", "/auth/verify?token="+real, nil), http.StatusOK, "")
}

func TestConcurrentVerificationsOfOneTokenSucceedExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	_, token := register(t, e, "race@example.com", goodPassword)
	ok := 0
	for _, r := range e.concurrently(t, 10, "GET", "/auth/verify?token="+token, nil) {
		switch {
		case r.Status == http.StatusOK:
			ok++
		case r.Status != http.StatusBadRequest || r.Error() != "Invalid or expired verification token":
			t.Errorf("loser answered %d %s", r.Status, r.Body)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 10 concurrent verifications succeeded, want exactly 1", ok)
	}
}

// Resending the verification e-mail

func TestResendAnswers202ForUnknownUnverifiedAndVerifiedAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	register(t, e, "pending@example.com", goodPassword)
	registerAndVerify(t, e, "done@example.com", goodPassword)

	var bodies []string
	for _, email := range []string{"nobody@example.com", "pending@example.com", "done@example.com"} {
		r := e.do("POST", "/auth/verify/resend", map[string]string{"email": email})
		expect(t, r, http.StatusAccepted, "")
		bodies = append(bodies, string(r.Body))
	}
	if bodies[0] != bodies[1] || bodies[0] != bodies[2] {
		t.Errorf("the answers tell the addresses apart:\n%s", strings.Join(bodies, "\n"))
	}

	token := linkToken(t, mailTo(t, e, "pending@example.com", 2), "https://app.example.test/auth/verify?token=")
	expect(t, e.do("GET", "/auth/verify?token="+token, nil), http.StatusOK, "")
	login(t, e, "pending@example.com", goodPassword)

	flushMail(e)
	for addr, want := range map[string]int{"nobody@example.com": 0, "done@example.com": 1, "pending@example.com": 2} {
		if n := mailedTo(e, addr); n != want {
			t.Errorf("%s got %d e-mails, want %d", addr, n, want)
		}
	}
}

func TestResendRefusesAMalformedEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	expect(t, e.do("POST", "/auth/verify/resend", map[string]string{"email": "not-an-address"}), http.StatusBadRequest, "")
	expect(t, e.do("POST", "/auth/verify/resend", `{"email":`), http.StatusBadRequest, "Invalid JSON body")
}

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

func TestForgotPasswordAnswers202AndMailsOnlyVerifiedUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "verified@example.com", goodPassword)
	register(t, e, "unverified@example.com", goodPassword)

	for _, email := range []string{"nobody@example.com", "unverified@example.com"} {
		r := e.do("POST", "/auth/password/forgot", map[string]string{"email": email})
		expect(t, r, http.StatusAccepted, "")
		if _, ok := r.JSON["resetToken"]; ok {
			t.Errorf("%s: a reset token in %s", email, r.Body)
		}
	}
	r := e.do("POST", "/auth/password/forgot", map[string]string{"email": "Verified@Example.com"})
	expect(t, r, http.StatusAccepted, "")
	token := r.String("resetToken")
	if token == "" {
		t.Fatalf("no resetToken outside production: %s", r.Body)
	}
	if got := linkToken(t, mailTo(t, e, "verified@example.com", 2), "https://app.example.test/reset-password?token="); got != token {
		t.Fatalf("mailed token %q, body token %q", got, token)
	}
	flushMail(e)
	for addr, want := range map[string]int{"nobody@example.com": 0, "unverified@example.com": 1, "verified@example.com": 2} {
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

func TestConcurrentRegistrationsOfOneAddressCreateOneAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	statuses := map[int]int{}
	for _, r := range e.concurrently(t, 8, "POST", "/auth/register", map[string]string{"email": "twice@example.com", "password": goodPassword}) {
		statuses[r.Status]++
		if r.Status == http.StatusConflict && r.Error() != "Email already registered" {
			t.Errorf("conflict message %q", r.Error())
		}
	}
	if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 7 {
		t.Fatalf("statuses %v, want one 201 and seven 409", statuses)
	}
	flushMail(e)
	if n := mailedTo(e, "twice@example.com"); n != 1 {
		t.Fatalf("%d verification e-mails for one account", n)
	}
}

func TestProductionKeepsMailedTokensOutOfResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"APP_ENV": "production", "BCRYPT_COST": "10"})
	r := e.do("POST", "/auth/register", map[string]string{"email": "prod@example.com", "password": goodPassword})
	expect(t, r, http.StatusCreated, "")
	if _, ok := r.JSON["verificationToken"]; ok {
		t.Fatalf("production registration shows the token: %s", r.Body)
	}
	token := linkToken(t, mailTo(t, e, "prod@example.com", 1), "https://app.example.test/auth/verify?token=")
	expect(t, e.do("GET", "/auth/verify?token="+token, nil), http.StatusOK, "")

	r = e.do("POST", "/auth/password/forgot", map[string]string{"email": "prod@example.com"})
	expect(t, r, http.StatusAccepted, "")
	if _, ok := r.JSON["resetToken"]; ok {
		t.Fatalf("production forgot-password shows the token: %s", r.Body)
	}
	reset := linkToken(t, mailTo(t, e, "prod@example.com", 2), "https://app.example.test/reset-password?token=")
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": reset, "newPassword": "Brand-New-Pass-9"}), http.StatusNoContent, "")
}
