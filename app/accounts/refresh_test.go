package accounts

import (
	"context"
	"strings"
	"testing"
	"time"

	"apisec/app/errs"
	"apisec/app/tokens"
	"apisec/models"
)

// session signs a fresh verified user in and returns the user and pair.
func (e *env) session(t *testing.T, email string) (*models.User, TokenPair) {
	t.Helper()
	u := e.verifiedUser(t, email)
	return u, e.login(t, email)
}

func (e *env) familyOf(t *testing.T, refreshToken string) string {
	t.Helper()
	rt, err := models.RefreshTokenByHash(e.db, tokens.HashOpaqueToken(refreshToken))
	if err != nil {
		t.Fatal(err)
	}
	return rt.FamilyID
}

func TestRefreshRotatesAndSpendsTheOldToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "uma@example.com")
	ctx := context.Background()
	e.clock.Advance(time.Minute)

	next, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == p.RefreshToken || !tokens.ValidOpaqueToken(next.RefreshToken) || next.ExpiresIn != 15*60 {
		t.Fatalf("pair = %+v", next)
	}
	if c, err := e.tokens.Verify(next.AccessToken); err != nil || c.Subject != u.ID {
		t.Fatalf("access token: %+v, %v", c, err)
	}
	if e.familyOf(t, next.RefreshToken) != e.familyOf(t, p.RefreshToken) {
		t.Fatal("the successor is in another family")
	}
	old, err := models.RefreshTokenByHash(e.db, tokens.HashOpaqueToken(p.RefreshToken))
	if err != nil || old.ReplacedAt == nil || !old.ReplacedAt.Equal(e.clock.Now()) {
		t.Fatalf("old token = %+v, %v; want replaced now", old, err)
	}
	// The chain goes on.
	if _, err := e.svc.Refresh(ctx, next.RefreshToken); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshRetryWithinTheGraceReturnsTheSameSuccessor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.session(t, "vera@example.com")
	ctx := context.Background()
	first, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testGrace - time.Second)
	retry, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatalf("retry within grace: %v", err)
	}
	if retry.RefreshToken != first.RefreshToken {
		t.Fatal("the retry got another successor: the family forked")
	}
	if _, err := e.tokens.Verify(retry.AccessToken); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "refresh_tokens", "revoked_at IS NULL"); n != 2 {
		t.Fatalf("%d live tokens, want the original and one successor", n)
	}
	if _, err := e.svc.Refresh(ctx, retry.RefreshToken); err != nil {
		t.Fatalf("the successor stopped working: %v", err)
	}
}

func TestReuseAfterTheGraceRevokesTheWholeFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.session(t, "walt@example.com")
	_, other := e.session(t, "xena@example.com")
	ctx := context.Background()
	next, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testGrace + time.Second)

	_, err = e.svc.Refresh(ctx, p.RefreshToken) // the thief, or the victim, replays
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	if !strings.Contains(e.logs.String(), "reused") {
		t.Fatal("the reuse was not logged")
	}
	// The revocation was committed although the request failed.
	family := e.familyOf(t, p.RefreshToken)
	if n := e.count(t, "refresh_tokens", "family_id = ? AND revoked_at IS NULL", family); n != 0 {
		t.Fatalf("%d tokens of the family left live", n)
	}
	_, err = e.svc.Refresh(ctx, next.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("another session was revoked: %v", err)
	}
}

func TestReuseWithNoGraceConfiguredRevokesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *Deps) { d.ReuseGrace = 0 })
	_, p := e.session(t, "yuri@example.com")
	ctx := context.Background()
	next, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(ctx, p.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	_, err = e.svc.Refresh(ctx, next.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
}

func TestConcurrentRefreshesOfOneTokenRotateOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.session(t, "zoe@example.com")
	const n = 10
	pairs := make([]TokenPair, n)
	results := parallel(n, func(i int) error {
		var err error
		pairs[i], err = e.svc.Refresh(context.Background(), p.RefreshToken)
		return err
	})
	for i, err := range results {
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if pairs[i].RefreshToken != pairs[0].RefreshToken {
			t.Fatalf("refresh %d got another successor: the family forked", i)
		}
	}
	family := e.familyOf(t, p.RefreshToken)
	if got := e.count(t, "refresh_tokens", "family_id = ?", family); got != 2 {
		t.Fatalf("%d tokens in the family, want the original and one successor", got)
	}
	if got := e.count(t, "refresh_tokens", "family_id = ? AND replaced_at IS NOT NULL", family); got != 1 {
		t.Fatalf("%d tokens replaced, want 1", got)
	}
	if got := e.count(t, "refresh_tokens", "revoked_at IS NOT NULL"); got != 0 {
		t.Fatalf("%d tokens revoked by a race", got)
	}
}

func TestTheAccessTokenAfterARefreshCarriesTheCurrentRoleAndPlan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "abe@example.com")
	ctx := context.Background()
	// A role changed in the database directly (SetRole would also end the
	// session) and a plan changed by the operator.
	if err := models.UpdateUser(e.db, u.ID, e.clock.Now(), models.UserChanges{Role: new(models.RoleEditor)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetPlan(ctx, u.Email, "pro"); err != nil {
		t.Fatal(err)
	}
	next, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.tokens.Verify(next.AccessToken)
	if err != nil || c.Role != models.RoleEditor || c.Plan != "pro" {
		t.Fatalf("claims = %+v, %v; want editor on pro", c, err)
	}
	// A retry within the grace reads them afresh too.
	if err := models.UpdateUser(e.db, u.ID, e.clock.Now(), models.UserChanges{Role: new(models.RoleAdmin)}); err != nil {
		t.Fatal(err)
	}
	retry, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := e.tokens.Verify(retry.AccessToken); err != nil || c.Role != models.RoleAdmin {
		t.Fatalf("claims = %+v, %v; want admin", c, err)
	}
}

func TestRefreshRefusesMalformedUnknownExpiredAndRevokedTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.session(t, "bea@example.com")
	ctx := context.Background()
	for _, bad := range []string{"", "x", strings.ToUpper(p.RefreshToken), p.RefreshToken + "0", strings.Repeat("0", 64)} {
		_, err := e.svc.Refresh(ctx, bad)
		wantErr(t, err, errs.ErrInvalidRefreshToken)
	}

	e.clock.Advance(testRefreshTTL)
	_, err := e.svc.Refresh(ctx, p.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)

	revoked := e.login(t, "bea@example.com")
	if err := e.svc.Logout(ctx, revoked.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(ctx, revoked.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
}

// P rotated to S1, and S1 to S2: presenting P again, even inside P's grace
// window, must not answer with S1 (already spent) and so walk the chain
// forward; it is reuse, and the family dies.
func TestARetryAfterTheSuccessorWasSpentRevokesTheFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.session(t, "cleo@example.com")
	ctx := context.Background()
	s1, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := e.svc.Refresh(ctx, s1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testGrace / 2)

	_, err = e.svc.Refresh(ctx, p.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	if n := e.count(t, "refresh_tokens", "family_id = ? AND revoked_at IS NULL", e.familyOf(t, p.RefreshToken)); n != 0 {
		t.Fatalf("%d tokens of the family left live", n)
	}
	_, err = e.svc.Refresh(ctx, s2.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
}
