package projects

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"apisec/app/clocktest"
	"apisec/app/errs"
	"apisec/app/resource"
	"apisec/db/dbtest"
	"apisec/models"
)

// env is one test's service over its own database and clock.
type env struct {
	svc   *Service
	clock *clocktest.Clock
	t     *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gdb, _ := dbtest.New(t)
	clk := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return &env{svc: New(gdb, clk.Now), clock: clk, t: t}
}

// user stores a user of role and returns it as a caller.
func (e *env) user(role models.Role) resource.Caller {
	e.t.Helper()
	now := e.clock.Now()
	u := &models.User{ID: models.NewID(), Email: models.NewID() + "@example.com", PasswordHash: "h", Role: role, Plan: models.DefaultPlan, CreatedAt: now, UpdatedAt: now}
	if err := models.CreateUser(e.svc.db, u); err != nil {
		e.t.Fatal(err)
	}
	return resource.Caller{ID: u.ID, Role: role}
}

func (e *env) create(owner resource.Caller, name string) *models.Project {
	e.t.Helper()
	p, err := e.svc.Create(context.Background(), owner, name, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// as returns a view of e whose helpers fail t.
func (e *env) as(t *testing.T) *env { c := *e; c.t = t; return &c }

func ptr(s string) *string { return &s }

// The rules share one database: each case makes its own users and projects,
// and a database per case would cost more than the cases.
func TestProjectRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, check := range map[string]func(*testing.T, *env){
		"only the owning editor or an admin updates a project":        onlyTheOwningEditorOrAnAdminUpdatesAProject,
		"an update changes only the fields it names, and checks them": anUpdateChangesOnlyTheFieldsItNamesAndChecksThem,
		"a created project reads back as it was answered":             aCreatedProjectReadsBackAsItWasAnswered,
		"creating for a deleted caller is an invalid token":           creatingForADeletedCallerIsAnInvalidToken,
		"getting a malformed or unknown id is not found":              gettingAMalformedOrUnknownIdIsNotFound,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, e.as(t))
		})
	}
}

// Walking the pages sees every project once, newest first, ties in
// created_at included, and a project created mid-walk shifts nothing.
func TestPagesVisitEveryProjectOnceNewestFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ed := e.user(models.RoleEditor)
	const total = 7
	for i := range total {
		if i%3 == 0 { // groups of projects created at the same instant
			e.clock.Advance(1500 * time.Microsecond)
		}
		e.create(ed, "p")
	}
	ctx := context.Background()
	var got []string
	page := resource.Page{Limit: 3}
	for n := 0; ; n++ {
		if n > total {
			t.Fatalf("no last page after %d pages: %v", n, got)
		}
		list, next, err := e.svc.List(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list {
			got = append(got, p.ID)
		}
		if n == 0 {
			e.clock.Advance(time.Hour)
			e.create(ed, "newer than the walk") // on no later page
		}
		if next == nil {
			break
		}
		if len(list) != 3 {
			t.Fatalf("page %d has %d projects and a next cursor", n, len(list))
		}
		if page, err = resource.ParsePage(map[string][]string{"cursor": {*next}, "limit": {"3"}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != total {
		t.Fatalf("walked %d projects, want %d: %v", len(got), total, got)
	}
	all, _, err := e.svc.List(ctx, resource.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID {
			t.Fatalf("not newest first at %d: %v then %v", i, a.Key(), b.Key())
		}
	}
	if ids := idsOf(all[1:]); !slices.Equal(got, ids) {
		t.Fatalf("walk %v, one page %v", got, ids)
	}
}

func idsOf(ps []models.Project) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// PATCH's per-object rule: any admin, or the owner if an editor; a missing
// project is a 404 for everyone, before the rule.
func onlyTheOwningEditorOrAnAdminUpdatesAProject(t *testing.T, e *env) {
	owner := e.user(models.RoleEditor)
	p := e.create(owner, "Apollo")
	demoted := e.user(models.RoleEditor)
	kept := e.create(demoted, "Kept")
	demoted.Role = models.RoleViewer // as its next token says
	cases := []struct {
		name   string
		caller resource.Caller
		id     string
		want   error
	}{
		{"the owner, an editor", owner, p.ID, nil},
		{"an admin", e.user(models.RoleAdmin), p.ID, nil},
		{"another editor", e.user(models.RoleEditor), p.ID, errs.ErrForbidden},
		{"a viewer", e.user(models.RoleViewer), p.ID, errs.ErrForbidden},
		{"the owner, now a viewer", demoted, kept.ID, errs.ErrForbidden},
		{"the owner, of an unknown id", owner, models.NewID(), errs.ErrNotFound},
		{"a viewer, of an unknown id", demoted, models.NewID(), errs.ErrNotFound},
		{"an admin, of a malformed id", e.user(models.RoleAdmin), "1 OR 1=1", errs.ErrNotFound},
	}
	for _, c := range cases {
		got, err := e.svc.Update(context.Background(), c.caller, c.id, models.ProjectChanges{Description: ptr("by " + c.name)})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err == nil && (got.Description != "by "+c.name || got.Name != "Apollo" || got.OwnerID != owner.ID) {
			t.Errorf("%s: updated to %+v", c.name, got)
		}
	}
	if got, _ := e.svc.Get(context.Background(), kept.ID); got.Description != "" {
		t.Fatalf("a refused update changed the project: %+v", got)
	}
}

func anUpdateChangesOnlyTheFieldsItNamesAndChecksThem(t *testing.T, e *env) {
	owner := e.user(models.RoleEditor)
	p, err := e.svc.Create(context.Background(), owner, "Gemini", "Two seats")
	if err != nil {
		t.Fatal(err)
	}
	update := func(ch models.ProjectChanges) (*models.Project, error) {
		return e.svc.Update(context.Background(), owner, p.ID, ch)
	}
	if got, err := update(models.ProjectChanges{Name: ptr("  Gemini 2  ")}); err != nil || got.Name != "Gemini 2" || got.Description != "Two seats" {
		t.Fatalf("rename: %+v, %v", got, err)
	}
	if got, err := update(models.ProjectChanges{Description: ptr("")}); err != nil || got.Name != "Gemini 2" || got.Description != "" {
		t.Fatalf("clearing the description: %+v, %v", got, err)
	}
	if got, err := update(models.ProjectChanges{}); err != nil || got.Name != "Gemini 2" || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("an empty update: %+v, %v", got, err)
	}
	for field, ch := range map[string]models.ProjectChanges{
		"name":        {Name: ptr(" ")},
		"description": {Name: ptr("fine"), Description: ptr(strings.Repeat("d", MaxDescriptionLen+1))},
	} {
		if _, err := update(ch); err == nil || !strings.HasPrefix(err.Error(), field+" ") {
			t.Errorf("bad %s: %v", field, err)
		}
	}
	if got, _ := e.svc.Get(context.Background(), p.ID); got.Name != "Gemini 2" {
		t.Fatalf("a refused update changed the name: %+v", got)
	}
}

// The 201's createdAt is what later reads show: PostgreSQL keeps
// microseconds, SQLite nanoseconds.
func aCreatedProjectReadsBackAsItWasAnswered(t *testing.T, e *env) {
	e.clock.Advance(123456789 * time.Nanosecond)
	p := e.create(e.user(models.RoleEditor), "Mercury")
	got, err := e.svc.Get(context.Background(), p.ID)
	if err != nil || *got != *p {
		t.Fatalf("read back %+v, %v; created %+v", got, err, p)
	}
}

// A token outlives its user; the insert's foreign key then says the caller
// is gone.
func creatingForADeletedCallerIsAnInvalidToken(t *testing.T, e *env) {
	_, err := e.svc.Create(context.Background(), resource.Caller{ID: models.NewID(), Role: models.RoleEditor}, "Orphan", "")
	if !errors.Is(err, errs.ErrInvalidToken) {
		t.Fatalf("%v, want Invalid token", err)
	}
}

func gettingAMalformedOrUnknownIdIsNotFound(t *testing.T, e *env) {
	e.create(e.user(models.RoleEditor), "Survivor")
	for _, id := range []string{"", "1", "nul\x00", models.NewID(), strings.Repeat("a", 36)} {
		if _, err := e.svc.Get(context.Background(), id); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("%q: %v", id, err)
		}
	}
}
