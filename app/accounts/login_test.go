package accounts

import (
	"context"
	"testing"

	"apisec/app/errs"
	"apisec/app/tokens"
	"apisec/models"
)

func TestLoginIssuesAPairAndRecordsTheLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verifiedUser(t, "mia@example.com")
	p := e.login(t, "  MIA@example.com ")

	c, err := e.tokens.Verify(p.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != u.ID || c.Role != models.RoleViewer || c.Plan != models.DefaultPlan {
		t.Fatalf("claims = %+v", c)
	}
	if !tokens.ValidOpaqueToken(p.RefreshToken) || p.ExpiresIn != 15*60 {
		t.Fatalf("pair = %+v", p)
	}
	var rt models.RefreshToken
	if err := e.db.Where("user_id = ?", u.ID).Take(&rt).Error; err != nil {
		t.Fatal(err)
	}
	if rt.TokenHash != tokens.HashOpaqueToken(p.RefreshToken) || !rt.ExpiresAt.Equal(e.clock.Now().Add(testRefreshTTL)) {
		t.Fatalf("stored refresh token = %+v", rt)
	}
	if n := e.count(t, "login_events", "user_id = ?", u.ID); n != 1 {
		t.Fatalf("%d login events, want 1", n)
	}
}

func TestLoginGivesTheSameAnswerForAnUnknownEmailAndAWrongPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "noah@example.com")
	ctx := context.Background()
	_, err := e.svc.Login(ctx, "nobody@example.com", testPassword)
	wantErr(t, err, errs.ErrInvalidCredentials)
	_, err = e.svc.Login(ctx, "noah@example.com", testPassword+"x")
	wantErr(t, err, errs.ErrInvalidCredentials)
	_, err = e.svc.Login(ctx, "not an address", testPassword)
	wantErr(t, err, errs.ErrInvalidCredentials)
	if n := e.count(t, "login_events", ""); n != 0 {
		t.Fatalf("%d login events recorded for failures", n)
	}
}

func TestLoginSaysEmailNotVerifiedOnlyAfterThePasswordMatched(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "olga@example.com")
	ctx := context.Background()
	_, err := e.svc.Login(ctx, "olga@example.com", "Wrong7Password")
	wantErr(t, err, errs.ErrInvalidCredentials)
	_, err = e.svc.Login(ctx, "olga@example.com", testPassword)
	wantErr(t, err, errs.ErrEmailNotVerified)
	if n := e.count(t, "refresh_tokens", ""); n != 0 {
		t.Fatalf("%d refresh tokens issued to an unverified user", n)
	}
}

func TestLogoutEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "paul@example.com")
	ctx := context.Background()
	phone, laptop := e.login(t, "paul@example.com"), e.login(t, "paul@example.com")

	if err := e.svc.Logout(ctx, phone.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(ctx, phone.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	if _, err := e.svc.Refresh(ctx, laptop.RefreshToken); err != nil {
		t.Fatalf("the other session ended too: %v", err)
	}
	if err := e.svc.Logout(ctx, phone.RefreshToken); err != nil {
		t.Fatalf("a second logout = %v, want nil", err)
	}
}

func TestLogoutRevokesTheWholeFamilyOfARotatedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verifiedUser(t, "quinn@example.com")
	ctx := context.Background()
	p := e.login(t, "quinn@example.com")
	next, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, next.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "refresh_tokens", "revoked_at IS NULL"); n != 0 {
		t.Fatalf("%d tokens of the session left live", n)
	}
}

func TestLogoutRefusesUnknownAndMalformedTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, bad := range []string{"", "short", "ABCDEF" + e.svc.successors.Successor("x")[6:], e.svc.successors.Successor("x")} {
		wantErr(t, e.svc.Logout(context.Background(), bad), errs.ErrInvalidRefreshToken)
	}
}

func TestLogoutAllEndsEverySessionOfTheUserOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verifiedUser(t, "rita@example.com")
	e.verifiedUser(t, "sam@example.com")
	ctx := context.Background()
	a, b, other := e.login(t, "rita@example.com"), e.login(t, "rita@example.com"), e.login(t, "sam@example.com")

	if err := e.svc.LogoutAll(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []TokenPair{a, b} {
		_, err := e.svc.Refresh(ctx, p.RefreshToken)
		wantErr(t, err, errs.ErrInvalidRefreshToken)
	}
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("another user's session ended: %v", err)
	}
}

func TestUserOfAnUnknownIDIsAnInvalidToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.User(context.Background(), models.NewID())
	wantErr(t, err, errs.ErrInvalidToken)
}
