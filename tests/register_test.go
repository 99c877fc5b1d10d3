package tests

import (
	"context"
	"net/http"
	"slices"
	"strings"
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

func TestRegisteringAVerifiedEmailIsAConflictWhateverItsCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "taken@example.com", goodPassword)
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

func TestConcurrentRegistrationsOfOneAddressCreateOneAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	// An unverified address registers again like a new one: each gets 201
	// and its own link; one account holds the address.
	for _, r := range e.concurrently(t, 8, "POST", "/auth/register", map[string]string{"email": "twice@example.com", "password": goodPassword}) {
		expect(t, r, http.StatusCreated, "")
	}
	var n int64
	if err := e.App.DB.Table("users").Where("email = ?", "twice@example.com").Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d accounts (%v), want 1", n, err)
	}
	flushMail(e)
	if n := mailedTo(e, "twice@example.com"); n != 8 {
		t.Fatalf("%d verification e-mails, want 8", n)
	}
}

// Production keeps the tokens it mails out of responses, and the accounts
// service itself withholds them (not only the handlers), so a CLI command or
// a new route calling it gets none either.
func TestProductionKeepsMailedTokensOutOfResponses(t *testing.T) {
	t.Parallel()
	// Production's bcrypt slots are few and cost 10 is slow under -race on
	// a busy machine: a long BCRYPT_WAIT keeps the test from answering 503.
	e := newEnv(t, map[string]string{"APP_ENV": "production", "BCRYPT_COST": "10", "BCRYPT_WAIT": "1m"})
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

	if e.App.Config.ExposesTokens() {
		t.Fatal("the production configuration exposes mailed tokens")
	}
	svc, ctx := e.App.Accounts, context.Background()
	if _, token, err := svc.Register(ctx, "wired@example.com", goodPassword); err != nil || token != "" {
		t.Fatalf("Register = %q, %v; want no token", token, err)
	}
	e.Clock.Advance(time.Minute) // past MAIL_COOLDOWN since the first reset mail
	if token, err := svc.ForgotPassword(ctx, "prod@example.com"); err != nil || token != "" {
		t.Fatalf("ForgotPassword = %q, %v; want no token", token, err)
	}
	mailTo(t, e, "wired@example.com", 1)
	mailTo(t, e, "prod@example.com", 3)
}
