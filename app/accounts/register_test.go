package accounts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/app/passwords"
	"apisec/app/tokens"
	"apisec/models"
)

func TestRegisterCreatesAnUnverifiedViewerAndMailsTheLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := e.register(t, "  Alice@Example.COM ")

	if u.Email != "alice@example.com" || u.Role != models.RoleViewer || u.Plan != models.DefaultPlan || u.EmailVerified {
		t.Fatalf("user = %+v", u)
	}
	if !tokens.ValidOpaqueToken(token) {
		t.Fatalf("verification token %q is not 64 hex characters", token)
	}
	mailed := e.waitMail(t, "alice@example.com", testBaseURL+"/auth/verify?token=")
	if mailed != token {
		t.Fatalf("mailed token %s, returned %s", mailed, token)
	}
	// Only the hash is stored, with a 24 h expiry.
	var at models.AccountToken
	if err := e.db.Where("user_id = ?", u.ID).Take(&at).Error; err != nil {
		t.Fatal(err)
	}
	if at.TokenHash != tokens.HashOpaqueToken(token) || at.Purpose != models.PurposeVerifyEmail || strings.Contains(at.TokenHash, token) {
		t.Fatalf("stored token = %+v", at)
	}
	if want := e.clock.Now().Add(24 * time.Hour); !at.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want %v", at.ExpiresAt, want)
	}
}

func TestRegisterReturnsNoTokenWhenTokensAreNotExposed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *Deps) { d.ExposeTokens = false })
	_, token, err := e.svc.Register(context.Background(), "bob@example.com", testPassword)
	if err != nil || token != "" {
		t.Fatalf("Register = %q, %v; want no token", token, err)
	}
	e.waitMail(t, "bob@example.com", "/auth/verify?token=")
}

func TestRegisterRefusesAVerifiedEmailWhateverItsCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "carol@example.com")
	for _, email := range []string{"carol@example.com", "CAROL@Example.com", " Carol@example.COM\t"} {
		_, _, err := e.svc.Register(context.Background(), email, testPassword)
		wantErr(t, err, errs.ErrEmailTaken)
	}
	if n := e.count(t, "users", ""); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
}

func TestConcurrentRegistrationsOfOneEmailCreateOneAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	results := parallel(8, func(i int) error {
		email := "dave@example.com"
		if i%2 == 1 {
			email = "DAVE@example.com"
		}
		_, _, err := e.svc.Register(context.Background(), email, testPassword)
		return err
	})
	// An unverified address registers again like a new one: every
	// registration gets its link, and there is one account.
	for _, err := range results {
		if err != nil {
			t.Fatalf("a concurrent registration failed: %v", err)
		}
	}
	if e.count(t, "users", "") != 1 || e.count(t, "account_tokens", "") != 8 {
		t.Fatalf("%d users, %d tokens; want 1 and 8", e.count(t, "users", ""), e.count(t, "account_tokens", ""))
	}
}

func TestRegisterRefusesBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		email, password string
		want            *errs.Error
	}{
		{"", testPassword, ErrEmailRequired},
		{"   ", testPassword, ErrEmailRequired},
		{"not-an-address", testPassword, ErrEmailInvalid},
		{"Eve <eve@example.com>", testPassword, ErrEmailInvalid},
		{"eve@example.com (work)", testPassword, ErrEmailInvalid},
		{"eve@localhost", testPassword, ErrEmailDomain},
		{"eve@[192.0.2.1]", testPassword, ErrEmailInvalid},
		{"eve@example.com, mallory@example.com", testPassword, ErrEmailInvalid},
		{"eve\x00@example.com", testPassword, ErrEmailControlChar},
		{strings.Repeat("e", 65) + "@example.com", testPassword, ErrEmailLocalLong},
		{"eve@" + strings.Repeat("a", 250) + ".com", testPassword, ErrEmailTooLong},
		{"eve@example.com", "", passwords.ErrRequired},
		{"eve@example.com", "Short1a", passwords.ErrTooShort},
		{"eve@example.com", "alllowercase123", passwords.ErrNoUpper},
		{"eve@example.com", "NoDigitsAtAllHere", passwords.ErrNoDigit},
		{"eve@example.com", "A1" + strings.Repeat("a", 71), passwords.ErrTooLong},
	}
	for _, c := range cases {
		_, _, err := e.svc.Register(context.Background(), c.email, c.password)
		wantErr(t, err, c.want)
	}
	if n := e.count(t, "users", ""); n != 0 {
		t.Fatalf("%d users written", n)
	}
	e.noMail(t)
}

func TestAFailedRegistrationLeavesNothingHalfWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Make the second insert of the transaction (the token) fail.
	boom := errors.New("injected failure")
	err := e.db.Callback().Create().Before("gorm:create").Register("test:fail_tokens", func(tx *gorm.DB) {
		if tx.Statement.Table == "account_tokens" {
			tx.AddError(boom)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.Register(context.Background(), "frank@example.com", testPassword)
	if !errors.Is(err, boom) {
		t.Fatalf("Register = %v, want the injected failure", err)
	}
	if _, ok := errs.As(err); ok {
		t.Fatalf("an infrastructure failure became a client error: %v", err)
	}
	if n := e.count(t, "users", ""); n != 0 {
		t.Fatalf("%d users left behind", n)
	}
	e.noMail(t)
}

func TestVerifyMarksTheAddressVerifiedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := e.register(t, "grace@example.com")
	ctx := context.Background()
	if err := e.svc.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.User(ctx, u.ID)
	if err != nil || !got.EmailVerified {
		t.Fatalf("User = %+v, %v; want verified", got, err)
	}
	wantErr(t, e.svc.Verify(ctx, token), errs.ErrInvalidVerification)
}

func TestVerifyRefusesMalformedAndUnknownTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.register(t, "heidi@example.com")
	for _, bad := range []string{"", "abc", strings.ToUpper(token), token + "0", token[:63] + "g", strings.Repeat("0", 64)} {
		wantErr(t, e.svc.Verify(context.Background(), bad), errs.ErrInvalidVerification)
	}
}

func TestVerificationTokenExpiresAfter24Hours(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.register(t, "ivan@example.com")
	e.clock.Advance(24 * time.Hour)
	wantErr(t, e.svc.Verify(context.Background(), token), errs.ErrInvalidVerification)
}

func TestConcurrentVerificationsOfOneTokenSucceedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.register(t, "judy@example.com")
	results := parallel(20, func(int) error { return e.svc.Verify(context.Background(), token) })
	ok := 0
	for _, err := range results {
		if err == nil {
			ok++
		} else {
			wantErr(t, err, errs.ErrInvalidVerification)
		}
	}
	if ok != 1 {
		t.Fatalf("%d verifications succeeded, want exactly 1", ok)
	}
}

func TestAMailFailureKeepsTheAccountAndResendWorksLater(t *testing.T) {
	t.Parallel()
	down := newEnv(t, func(d *Deps) { d.Mailer = smtpMailer(t, "127.0.0.1", closedPort(t)) })
	u, first := down.register(t, "ken@example.com")
	down.mail.Close() // wait for the failed send
	logs := down.logs.String()
	if !strings.Contains(logs, "send e-mail failed") || !strings.Contains(logs, u.ID) {
		t.Fatalf("the failure was not logged:\n%s", logs)
	}
	if strings.Contains(logs, first) {
		t.Fatal("the log holds the verification token")
	}
	if n := down.count(t, "users", "id = ?", u.ID); n != 1 {
		t.Fatal("the account was lost")
	}

	// The mail server is back: a second service on the same database.
	up := newEnv(t, func(d *Deps) { d.DB = down.db; d.Now = down.clock.Now })
	ctx := context.Background()
	token, err := up.svc.ResendVerification(ctx, "KEN@example.com")
	if err != nil || token == "" {
		t.Fatalf("ResendVerification = %q, %v", token, err)
	}
	if mailed := up.waitMail(t, "ken@example.com", testBaseURL+"/auth/verify?token="); mailed != token {
		t.Fatalf("mailed %s, returned %s", mailed, token)
	}
	wantErr(t, up.svc.Verify(ctx, first), errs.ErrInvalidVerification) // resending spent the old link
	if err := up.svc.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
}

func TestResendSendsNothingForUnknownOrVerifiedAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "leo@example.com")
	ctx := context.Background()
	for _, email := range []string{"nobody@example.com", "leo@example.com"} {
		token, err := e.svc.ResendVerification(ctx, email)
		if err != nil || token != "" {
			t.Fatalf("ResendVerification(%s) = %q, %v; want nothing", email, token, err)
		}
	}
	_, err := e.svc.ResendVerification(ctx, "not an address")
	wantErr(t, err, ErrEmailInvalid)
	e.noMail(t)
}

func TestRegisterPassesOnTheHashersUnavailability(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the hasher refuses work for a gone request with ErrUnavailable
	_, _, err := e.svc.Register(ctx, "lena@example.com", testPassword)
	wantErr(t, err, errs.ErrUnavailable)
	if n := e.count(t, "users", ""); n != 0 {
		t.Fatalf("%d users written", n)
	}
}
