package accounts

import (
	"context"
	"testing"
	"time"

	"apisec/app/errs"
	"apisec/app/passwords"
)

const newPassword = "Fresh9Meadow!Lantern"

func TestChangePasswordChecksTheCurrentOneAndEndsEverySession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "cora@example.com")
	ctx := context.Background()

	wantErr(t, e.svc.ChangePassword(ctx, u.ID, "Wrong7Password", newPassword), errs.ErrWrongPassword)
	wantErr(t, e.svc.ChangePassword(ctx, u.ID, testPassword, "weak"), passwords.ErrTooShort)
	if _, err := e.svc.Refresh(ctx, p.RefreshToken); err != nil {
		t.Fatalf("a refused change ended the session: %v", err)
	}
	e.clock.Advance(time.Minute) // beyond the reuse grace

	if err := e.svc.ChangePassword(ctx, u.ID, testPassword, newPassword); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "refresh_tokens", "revoked_at IS NULL"); n != 0 {
		t.Fatalf("%d refresh tokens left live", n)
	}
	_, err := e.svc.Login(ctx, u.Email, testPassword)
	wantErr(t, err, errs.ErrInvalidCredentials)
	if _, err := e.svc.Login(ctx, u.Email, newPassword); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}

func TestForgotPasswordMailsUnverifiedUsersTooAndTheResetVerifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.register(t, "dora@example.com") // unverified
	e.waitMail(t, "dora@example.com", "/auth/verify?token=")
	ctx := context.Background()
	if token, err := e.svc.ForgotPassword(ctx, "nobody@example.com"); err != nil || token != "" {
		t.Fatalf("ForgotPassword(nobody) = %q, %v; want nothing", token, err)
	}
	token, err := e.svc.ForgotPassword(ctx, "dora@example.com")
	if err != nil || token == "" {
		t.Fatalf("ForgotPassword(dora) = %q, %v; want a token", token, err)
	}
	if err := e.svc.ResetPassword(ctx, token, newPassword); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "users", "id = ? AND email_verified", u.ID); n != 1 {
		t.Fatal("the reset did not verify the address")
	}
	if n := e.count(t, "account_tokens", "purpose = 'verify_email' AND used_at IS NULL"); n != 0 {
		t.Fatalf("%d verification links still open after the reset", n)
	}
	if _, err := e.svc.Login(ctx, u.Email, newPassword); err != nil {
		t.Fatalf("login after the reset: %v", err)
	}
}

func TestResetPasswordWorksOnceAndEndsEverySession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "emil@example.com")
	ctx := context.Background()
	token, err := e.svc.ForgotPassword(ctx, "EMIL@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if mailed := e.waitMail(t, u.Email, testBaseURL+"/reset-password?token="); mailed != token {
		t.Fatalf("mailed %s, returned %s", mailed, token)
	}

	if err := e.svc.ResetPassword(ctx, token, newPassword); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.ResetPassword(ctx, token, newPassword+"2"), errs.ErrInvalidResetToken)
	e.clock.Advance(time.Minute)
	_, err = e.svc.Refresh(ctx, p.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	if _, err := e.svc.Login(ctx, u.Email, newPassword); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}

func TestAWeakNewPasswordDoesNotSpendTheResetToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "finn@example.com")
	ctx := context.Background()
	token, err := e.svc.ForgotPassword(ctx, "finn@example.com")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.ResetPassword(ctx, token, "password"), passwords.ErrTooShort)
	wantErr(t, e.svc.ResetPassword(ctx, token, "Password1234"), passwords.ErrCommon)
	if err := e.svc.ResetPassword(ctx, token, newPassword); err != nil {
		t.Fatalf("the token was spent by a refused password: %v", err)
	}
}

func TestResetTokenExpiresAfterOneHour(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "gina@example.com")
	ctx := context.Background()
	token, err := e.svc.ForgotPassword(ctx, "gina@example.com")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	wantErr(t, e.svc.ResetPassword(ctx, token, newPassword), errs.ErrInvalidResetToken)
}

func TestANewResetLinkSpendsTheOlderOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "hugo@example.com")
	ctx := context.Background()
	older, err := e.svc.ForgotPassword(ctx, "hugo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	newer, err := e.svc.ForgotPassword(ctx, "hugo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.ResetPassword(ctx, older, newPassword), errs.ErrInvalidResetToken)
	if err := e.svc.ResetPassword(ctx, newer, newPassword); err != nil {
		t.Fatal(err)
	}
}

func TestResetPasswordRefusesMalformedAndVerificationTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, verification := e.register(t, "iris@example.com")
	ctx := context.Background()
	for _, bad := range []string{"", "abc", verification + "0", verification} {
		wantErr(t, e.svc.ResetPassword(ctx, bad, newPassword), errs.ErrInvalidResetToken)
	}
	// The verification token is still good for its own purpose.
	if err := e.svc.Verify(ctx, verification); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentResetsWithOneTokenSucceedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "jack@example.com")
	token, err := e.svc.ForgotPassword(context.Background(), "jack@example.com")
	if err != nil {
		t.Fatal(err)
	}
	results := parallel(8, func(int) error { return e.svc.ResetPassword(context.Background(), token, newPassword) })
	ok := 0
	for _, err := range results {
		if err == nil {
			ok++
		} else {
			wantErr(t, err, errs.ErrInvalidResetToken)
		}
	}
	if ok != 1 {
		t.Fatalf("%d resets succeeded, want exactly 1", ok)
	}
}
