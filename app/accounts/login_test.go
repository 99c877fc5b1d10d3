package accounts

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

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

// cancelKey carries, in a context, the cancel function that the query
// callback of TestLoginOfAnUnknownOrMalformedAddressRunsBcrypt calls.
type cancelKey struct{}

// An unknown or malformed address must cost a bcrypt run like a wrong
// password. A client gone once the account lookup has run (cancelled
// context) shows whether the login then reaches the hasher: it answers 503
// if it does, 401 if it skipped the dummy comparison.
func TestLoginOfAnUnknownOrMalformedAddressRunsBcrypt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	err := e.db.Callback().Query().After("gorm:query").Register("test:cancel", func(tx *gorm.DB) {
		if cancel, ok := tx.Statement.Context.Value(cancelKey{}).(context.CancelFunc); ok {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// A malformed address is never looked up, so its client is gone from the start.
	for email, cancelFirst := range map[string]bool{"nobody@example.com": false, "not an address": true} {
		ctx, cancel := context.WithCancel(context.Background())
		ctx = context.WithValue(ctx, cancelKey{}, cancel)
		if cancelFirst {
			cancel()
		}
		_, err := e.svc.Login(ctx, email, testPassword)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want the hasher's refusal of a cancelled context", email, err)
		}
		wantErr(t, err, errs.ErrUnavailable)
	}
}

// Raising BCRYPT_COST upgrades a stored hash at the owner's next login.
func TestLoginRehashesAHashOfAnotherCost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verifiedUser(t, "rhea@example.com")
	old, err := bcrypt.GenerateFromPassword([]byte(testPassword), e.deps.Hasher.Cost()+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := models.UpdateUser(e.db, u.ID, e.clock.Now(), models.UserChanges{PasswordHash: new(string(old))}); err != nil {
		t.Fatal(err)
	}
	e.login(t, u.Email)
	got, err := models.UserByID(e.db, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(got.PasswordHash)); err != nil || cost != e.deps.Hasher.Cost() {
		t.Fatalf("stored hash cost %d (%v), want %d", cost, err, e.deps.Hasher.Cost())
	}
	if err := bcrypt.CompareHashAndPassword([]byte(got.PasswordHash), []byte(testPassword)); err != nil {
		t.Fatalf("the new hash does not match the password: %v", err)
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
