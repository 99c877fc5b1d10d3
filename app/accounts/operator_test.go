package accounts

import (
	"context"
	"strings"
	"testing"

	"apisec/app/errs"
	"apisec/app/passwords"
	"apisec/models"
)

func TestCreateUserMakesAVerifiedAdminWhoCanSignInAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.svc.CreateUser(ctx, "Root@Example.com", testPassword, models.RoleAdmin, "enterprise", true)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "root@example.com" || u.Role != models.RoleAdmin || u.Plan != "enterprise" || !u.EmailVerified {
		t.Fatalf("user = %+v", u)
	}
	p := e.login(t, "root@example.com")
	if c, err := e.tokens.Verify(p.AccessToken); err != nil || c.Role != models.RoleAdmin || c.Plan != "enterprise" {
		t.Fatalf("claims = %+v, %v", c, err)
	}
	e.noMail(t)
}

func TestCreateUserDefaultsToAnUnverifiedViewerOnTheFreePlan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, err := e.svc.CreateUser(context.Background(), "kim@example.com", testPassword, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != models.RoleViewer || u.Plan != models.DefaultPlan || u.EmailVerified {
		t.Fatalf("user = %+v", u)
	}
}

func TestCreateUserRefusesBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.CreateUser(ctx, "lara@example.com", testPassword, "", "", true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		email, password string
		role            models.Role
		plan            string
		want            *errs.Error
	}{
		{"LARA@example.com", testPassword, "", "", errs.ErrEmailTaken},
		{"max@example.com", testPassword, "superuser", "", ErrRoleInvalid},
		{"max@example.com", testPassword, "Admin", "", ErrRoleInvalid},
		{"max@example.com", testPassword, "", "Pro", ErrPlanInvalid},
		{"max@example.com", testPassword, "", "pro plan", ErrPlanInvalid},
		{"max@example.com", testPassword, "", strings.Repeat("p", 65), ErrPlanInvalid},
		{"max@example.com", "weak", "", "", passwords.ErrTooShort},
		{"max@", testPassword, "", "", ErrEmailInvalid},
	}
	for _, c := range cases {
		_, err := e.svc.CreateUser(ctx, c.email, c.password, c.role, c.plan, true)
		wantErr(t, err, c.want)
	}
	if n := e.count(t, "users", ""); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
	if !strings.Contains(ErrRoleInvalid.Message, "viewer, editor, admin") {
		t.Fatalf("the role message %q does not name the roles", ErrRoleInvalid.Message)
	}
}

func TestSetRoleChangesTheRoleAndEndsEverySession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "nina@example.com")
	ctx := context.Background()
	if err := e.svc.SetRole(ctx, "NINA@example.com", models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.User(ctx, u.ID)
	if err != nil || got.Role != models.RoleEditor {
		t.Fatalf("user = %+v, %v; want editor", got, err)
	}
	_, err = e.svc.Refresh(ctx, p.RefreshToken)
	wantErr(t, err, errs.ErrInvalidRefreshToken)
	next := e.login(t, u.Email)
	if c, err := e.tokens.Verify(next.AccessToken); err != nil || c.Role != models.RoleEditor {
		t.Fatalf("claims = %+v, %v", c, err)
	}
}

func TestSetRoleRefusesUnknownRolesAndUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "otto@example.com")
	ctx := context.Background()
	wantErr(t, e.svc.SetRole(ctx, u.Email, "owner"), ErrRoleInvalid)
	wantErr(t, e.svc.SetRole(ctx, "nobody@example.com", models.RoleAdmin), ErrUserNotFound)
	if ErrUserNotFound.Message != "no user with that email" {
		t.Fatalf("message = %q", ErrUserNotFound.Message)
	}
	got, _ := e.svc.User(ctx, u.ID)
	if got.Role != models.RoleViewer {
		t.Fatalf("role = %s, want unchanged", got.Role)
	}
	if _, err := e.svc.Refresh(ctx, p.RefreshToken); err != nil {
		t.Fatalf("a refused change ended the session: %v", err)
	}
}

func TestSetPlanChangesThePlanAndKeepsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, p := e.session(t, "pia@example.com")
	ctx := context.Background()
	if err := e.svc.SetPlan(ctx, u.Email, "team-2024_b"); err != nil {
		t.Fatal(err)
	}
	next, err := e.svc.Refresh(ctx, p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := e.tokens.Verify(next.AccessToken); err != nil || c.Plan != "team-2024_b" {
		t.Fatalf("claims = %+v, %v", c, err)
	}
	wantErr(t, e.svc.SetPlan(ctx, u.Email, ""), ErrPlanInvalid)
	wantErr(t, e.svc.SetPlan(ctx, u.Email, "PRO"), ErrPlanInvalid)
	wantErr(t, e.svc.SetPlan(ctx, "nobody@example.com", "pro"), ErrUserNotFound)
}
