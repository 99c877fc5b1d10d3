package accounts

import (
	"context"
	"testing"
)

// A refresh racing a revocation must never leave a live token behind: on
// PostgreSQL, without the user-row lock, the revoking UPDATE misses a
// successor committed while it waited for the spent token's row.
func TestNoSessionSurvivesARevocationThatRacesARefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verifiedUser(t, "race@example.com")
	ctx := context.Background()
	revocations := map[string]func(refreshToken string) error{
		"logout":          func(rt string) error { return e.svc.Logout(ctx, rt) },
		"logout-all":      func(string) error { return e.svc.LogoutAll(ctx, u.ID) },
		"set-role":        func(string) error { return e.svc.SetRole(ctx, u.Email, "editor") },
		"change-password": func(string) error { return e.svc.ChangePassword(ctx, u.ID, testPassword, testPassword+"x") },
	}
	for name, revoke := range revocations {
		// A logout's UPDATE must land between the refresh's spend and its
		// commit; on a loaded machine with -race 20 rounds missed that once
		// in three runs, so it gets more.
		rounds := 10
		if name == "logout" {
			rounds = 40
		}
		for round := range rounds {
			pair := e.login(t, u.Email)
			errs := parallel(2, func(i int) error {
				if i == 0 {
					_, err := e.svc.Refresh(ctx, pair.RefreshToken)
					return err
				}
				return revoke(pair.RefreshToken)
			})
			if errs[1] != nil {
				t.Fatalf("%s round %d: %v", name, round, errs[1])
			}
			if live := e.count(t, "refresh_tokens", "user_id = ? AND revoked_at IS NULL", u.ID); live != 0 {
				t.Fatalf("%s round %d: %d refresh tokens still live (refresh: %v)", name, round, live, errs[0])
			}
			if name == "change-password" {
				if err := e.svc.ChangePassword(ctx, u.ID, testPassword+"x", testPassword); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// A login whose bcrypt check ran against a hash that has since changed must
// not start a session.
func TestLoginDoesNotSurviveAPasswordChangeDuringBcrypt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verifiedUser(t, "slow@example.com")
	ctx := context.Background()
	for round := range 10 {
		errs := parallel(2, func(i int) error {
			if i == 0 {
				_, err := e.svc.Login(ctx, u.Email, testPassword)
				return err
			}
			return e.svc.ChangePassword(ctx, u.ID, testPassword, testPassword+"y")
		})
		if errs[1] != nil {
			t.Fatalf("round %d: change: %v", round, errs[1])
		}
		if live := e.count(t, "refresh_tokens", "user_id = ? AND revoked_at IS NULL", u.ID); live != 0 {
			t.Fatalf("round %d: a session survived the password change (login: %v)", round, errs[0])
		}
		if err := e.svc.ChangePassword(ctx, u.ID, testPassword+"y", testPassword); err != nil {
			t.Fatal(err)
		}
	}
}
