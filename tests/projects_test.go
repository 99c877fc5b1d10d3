package tests

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// team signs in one user of each role.
type team struct{ viewer, editor, admin session }

func newTeam(t testing.TB, e *env) team {
	t.Helper()
	return team{
		viewer: userWithRole(t, e, "viewer@example.com", "viewer"),
		editor: userWithRole(t, e, "editor@example.com", "editor"),
		admin:  userWithRole(t, e, "admin@example.com", "admin"),
	}
}

// createProject creates a project as token and returns it.
func createProject(t testing.TB, e *env, token string, body any) map[string]any {
	t.Helper()
	r := e.as(t).do("POST", "/projects", body, bearer(token)...)
	expect(t, r, http.StatusCreated, "")
	p, _ := r.JSON["project"].(map[string]any)
	if p == nil {
		t.Fatalf("no project in %s", r.Body)
	}
	return p
}

func TestTheAccessTableOfProjectsAndAnalytics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	token := map[string]string{"viewer": tm.viewer.Access, "editor": tm.editor.Access, "admin": tm.admin.Access, "nobody": ""}
	type want struct{ viewer, editor, admin, nobody int }
	cases := []struct {
		method, path string
		body         any
		want         want
	}{
		{"GET", "/projects", nil, want{200, 200, 200, 401}},
		{"GET", "/projects/{id}", nil, want{200, 200, 200, 401}},
		{"POST", "/projects", map[string]string{"name": "Table"}, want{403, 201, 201, 401}},
		{"PATCH", "/projects/{id}", map[string]string{"name": "Renamed"}, want{403, 200, 200, 401}}, // the editor owns it
		{"DELETE", "/projects/{id}", nil, want{403, 403, 204, 401}},
		{"GET", "/analytics", nil, want{403, 403, 200, 401}},
	}
	for _, c := range cases {
		for who, status := range map[string]int{"viewer": c.want.viewer, "editor": c.want.editor, "admin": c.want.admin, "nobody": c.want.nobody} {
			t.Run(fmt.Sprintf("%s %s as %s", c.method, c.path, who), func(t *testing.T) {
				t.Parallel()
				path := c.path
				if strings.Contains(path, "{id}") {
					// Each case has its own project (of tm.editor), so a 204
					// for one does not turn into a 404 for the next.
					path = strings.Replace(path, "{id}", createProject(t, e, tm.editor.Access, map[string]string{"name": "Doomed"})["id"].(string), 1)
				}
				var headers []string
				if token[who] != "" {
					headers = bearer(token[who])
				}
				r := e.as(t).do(c.method, path, c.body, headers...)
				msg := map[int]string{401: "Authentication required", 403: "Insufficient permissions"}[status]
				expect(t, r, status, msg)
			})
		}
	}
}

func TestViewersListProjectsButCannotCreateThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)

	r := e.do("GET", "/projects", nil, bearer(tm.viewer.Access)...)
	expect(t, r, http.StatusOK, "")
	if list, ok := r.JSON["projects"].([]any); !ok || len(list) != 0 {
		t.Fatalf("projects of an empty database: %s", r.Body)
	}
	expect(t, e.do("POST", "/projects", map[string]string{"name": "Mine"}, bearer(tm.viewer.Access)...), http.StatusForbidden, "Insufficient permissions")

	created := createProject(t, e, tm.editor.Access, map[string]string{"name": "Shared"})
	r = e.do("GET", "/projects", nil, bearer(tm.viewer.Access)...)
	expect(t, r, http.StatusOK, "")
	list, _ := r.JSON["projects"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != created["id"] {
		t.Fatalf("viewer sees %s, want the one project %v", r.Body, created["id"])
	}
}

func TestEditorsCreateProjectsButCannotDeleteThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	_, claims := claimsOf(t, tm.editor.Access)

	r := e.do("POST", "/projects", map[string]string{"name": "  Apollo  ", "description": "To the moon\nand back"}, bearer(tm.editor.Access)...)
	expect(t, r, http.StatusCreated, "")
	p, _ := r.JSON["project"].(map[string]any)
	var keys []string
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"createdAt", "description", "id", "name", "ownerId"}; !slices.Equal(keys, want) {
		t.Fatalf("project keys %v, want %v", keys, want)
	}
	if p["name"] != "Apollo" || p["description"] != "To the moon\nand back" || p["ownerId"] != claims["sub"] || p["id"] == "" {
		t.Fatalf("project %v (editor %v)", p, claims["sub"])
	}
	if _, err := time.Parse(time.RFC3339Nano, p["createdAt"].(string)); err != nil {
		t.Fatalf("createdAt: %v", err)
	}

	// The description is optional.
	if p := createProject(t, e, tm.admin.Access, map[string]string{"name": "Gemini"}); p["description"] != "" {
		t.Fatalf("description of a project without one: %v", p["description"])
	}
	expect(t, e.do("DELETE", "/projects/"+p["id"].(string), nil, bearer(tm.editor.Access)...), http.StatusForbidden, "Insufficient permissions")
	r = e.do("GET", "/projects", nil, bearer(tm.editor.Access)...)
	if list, _ := r.JSON["projects"].([]any); len(list) != 2 {
		t.Fatalf("after a refused delete: %s", r.Body)
	}
}

func TestOnlyAdminsDeleteProjectsAndADeletedOneIsGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	keep := createProject(t, e, tm.editor.Access, map[string]string{"name": "Keep"})
	doomed := createProject(t, e, tm.editor.Access, map[string]string{"name": "Doomed"})
	path := "/projects/" + doomed["id"].(string)

	r := e.do("DELETE", path, nil, bearer(tm.admin.Access)...)
	expect(t, r, http.StatusNoContent, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	expect(t, e.do("DELETE", path, nil, bearer(tm.admin.Access)...), http.StatusNotFound, "Not found")

	list, _ := e.do("GET", "/projects", nil, bearer(tm.viewer.Access)...).JSON["projects"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != keep["id"] {
		t.Fatalf("after the delete: %v", list)
	}
}

func TestDeletingAMalformedOrUnknownProjectIdIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	createProject(t, e, tm.editor.Access, map[string]string{"name": "Survivor"})
	for _, id := range []string{
		"1",
		"not-a-uuid",
		"00000000-0000-0000-0000-000000000000",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"%27%20OR%20%271%27%3D%271",
		"%00",
		strings.Repeat("a", 2000),
		"%E2%80%AE",
	} {
		expect(t, e.as(t).do("DELETE", "/projects/"+id, nil, bearer(tm.admin.Access)...), http.StatusNotFound, "Not found")
	}
	list, _ := e.do("GET", "/projects", nil, bearer(tm.viewer.Access)...).JSON["projects"].([]any)
	if len(list) != 1 {
		t.Fatalf("a malformed delete removed something: %v", list)
	}
}

func TestProjectFieldsAreValidated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no name", map[string]string{"description": "nameless"}, "name"},
		{"an empty name", map[string]string{"name": ""}, "name"},
		{"a blank name", map[string]string{"name": " \t "}, "name"},
		{"a name of 201 characters", map[string]string{"name": strings.Repeat("n", 201)}, "name"},
		{"a name of 201 multi-byte characters", map[string]string{"name": strings.Repeat("é", 201)}, "name"},
		{"a description of 2001 characters", map[string]string{"name": "Long", "description": strings.Repeat("d", 2001)}, "description"},
		{"a name with a NUL", map[string]string{"name": "nul\x00name"}, "name"},
		{"a numeric name", `{"name":42}`, "name"},
		{"a description that is an object", `{"name":"ok","description":{}}`, "description"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := e.as(t).do("POST", "/projects", c.body, bearer(tm.editor.Access)...)
			expect(t, r, http.StatusBadRequest, "")
			if !strings.Contains(strings.ToLower(r.Error()), c.field) {
				t.Fatalf("message %q does not name %q", r.Error(), c.field)
			}
		})
	}
	t.Run("the longest allowed fields", func(t *testing.T) {
		t.Parallel()
		p := createProject(t, e, tm.editor.Access, map[string]string{"name": strings.Repeat("é", 200), "description": strings.Repeat("d", 2000)})
		if p["name"] != strings.Repeat("é", 200) {
			t.Fatalf("name stored as %v", p["name"])
		}
	})
}

// jsonCount reads a number at a path of keys in a JSON body.
func jsonCount(t testing.TB, body map[string]any, path ...string) int {
	t.Helper()
	var v any = body
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %v in %v", path, body)
		}
		v = m[k]
	}
	n, ok := v.(float64)
	if !ok {
		t.Fatalf("%v is %v, not a number", path, v)
	}
	return int(n)
}

func TestAnalyticsCountsUsersByRoleProjectsAndLogins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	admin := userWithRole(t, e, "admin@example.com", "admin")
	analytics := func() map[string]any {
		t.Helper()
		r := e.do("GET", "/analytics", nil, bearer(admin.Access)...)
		expect(t, r, http.StatusOK, "")
		return r.JSON
	}
	check := func(stage string, viewers, editors, admins, projects, logins int) {
		t.Helper()
		a := analytics()
		got := []int{
			jsonCount(t, a, "users", "byRole", "viewer"), jsonCount(t, a, "users", "byRole", "editor"), jsonCount(t, a, "users", "byRole", "admin"),
			jsonCount(t, a, "users", "total"), jsonCount(t, a, "projects", "total"), jsonCount(t, a, "logins", "total"),
		}
		want := []int{viewers, editors, admins, viewers + editors + admins, projects, logins}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: viewer, editor, admin, users, projects, logins = %v, want %v", stage, got, want)
		}
	}
	check("at the start", 0, 0, 1, 0, 1)

	editor := userWithRole(t, e, "editor@example.com", "editor")
	viewer := userWithRole(t, e, "viewer@example.com", "viewer")
	register(t, e, "unverified@example.com", goodPassword)
	check("with more users", 2, 1, 1, 0, 3)

	createProject(t, e, editor.Access, map[string]string{"name": "One"})
	doomed := createProject(t, e, admin.Access, map[string]string{"name": "Two"})
	login(t, e, "viewer@example.com", goodPassword)
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": "viewer@example.com", "password": "Wrong-Horse-42"}), http.StatusUnauthorized, "")
	check("with projects and another login", 2, 1, 1, 2, 4)

	expect(t, e.do("DELETE", "/projects/"+doomed["id"].(string), nil, bearer(admin.Access)...), http.StatusNoContent, "")
	check("after a delete", 2, 1, 1, 1, 4)

	for _, token := range []string{viewer.Access, editor.Access} {
		expect(t, e.do("GET", "/analytics", nil, bearer(token)...), http.StatusForbidden, "Insufficient permissions")
	}
	expect(t, e.do("GET", "/analytics", nil), http.StatusUnauthorized, "Authentication required")
}

// An access token outlives its user by up to its TTL; the project insert
// then fails on the owner's foreign key, which means the caller is gone.
func TestADeletedEditorsStillValidTokenIsAnInvalidToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	editor := userWithRole(t, e, "gone@example.com", "editor")
	_, claims := claimsOf(t, editor.Access)
	if err := e.App.DB.Exec("DELETE FROM users WHERE id = ?", claims["sub"]).Error; err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/projects", map[string]string{"name": "Orphan"}, bearer(editor.Access)...)
	expect(t, r, http.StatusUnauthorized, "Invalid token")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
}
