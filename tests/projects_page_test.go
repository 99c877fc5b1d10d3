package tests

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"apisec/app/resource"
	"apisec/models"
)

// listPage gets one page of GET /projects and returns its ids and nextCursor
// ("" for null, which must be present).
func listPage(t testing.TB, e *env, token, query string) ([]string, string) {
	t.Helper()
	r := e.as(t).do("GET", "/projects"+query, nil, bearer(token)...)
	expect(t, r, http.StatusOK, "")
	next, present := r.JSON["nextCursor"]
	list, ok := r.JSON["projects"].([]any)
	if !present || !ok {
		t.Fatalf("GET /projects%s: %s", query, r.Body)
	}
	ids := make([]string, len(list))
	for i, p := range list {
		ids[i] = p.(map[string]any)["id"].(string)
	}
	cursor, _ := next.(string)
	if next != nil && cursor == "" {
		t.Fatalf("nextCursor %v is neither a string nor null", next)
	}
	return ids, cursor
}

func TestProjectsAreListedNewestFirstInCursorPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	viewer := userWithRole(t, e, "viewer@example.com", models.RoleViewer)
	editor := userWithRole(t, e, "editor@example.com", models.RoleEditor)
	_, claims := claimsOf(t, editor.Access)
	owner := resource.Caller{ID: claims["sub"].(string), Role: models.RoleEditor}
	const total = 60 // more than the default page
	for i := range total {
		if i%4 == 0 { // some share an instant: the order must not depend on the clock alone
			e.Clock.Advance(time.Millisecond)
		}
		if _, err := e.App.Projects.Create(context.Background(), owner, "p"+strconv.Itoa(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	all, next := listPage(t, e, viewer.Access, "?limit=200")
	if len(all) != total || next != "" {
		t.Fatalf("limit=200: %d projects, nextCursor %q", len(all), next)
	}
	first, next := listPage(t, e, viewer.Access, "")
	if len(first) != resource.DefaultLimit || next == "" || !slices.Equal(first, all[:resource.DefaultLimit]) {
		t.Fatalf("the default page: %d projects, nextCursor %q", len(first), next)
	}

	var walked []string
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 3 {
			t.Fatalf("no last page after 3 pages of 25 for %d projects", total)
		}
		q := "?limit=25"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		ids, next := listPage(t, e, viewer.Access, q)
		walked = append(walked, ids...)
		if pages == 1 {
			e.Clock.Advance(time.Second)
			createProject(t, e, editor.Access, map[string]string{"name": "Newer than the walk"})
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(walked, all) {
		t.Fatalf("the walk by 25 differs from the single page:\n%v\n%v", walked, all)
	}
	// Newest first: what was created last comes first.
	latest, _ := listPage(t, e, viewer.Access, "?limit=1")
	if r := e.do("GET", "/projects/"+latest[0], nil, bearer(viewer.Access)...); r.JSON["project"].(map[string]any)["name"] != "Newer than the walk" {
		t.Fatalf("the first project is %s", r.Body)
	}
}

func TestBadLimitsAndCursorsAre400sNamingTheParameter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	viewer := userWithRole(t, e, "viewer@example.com", models.RoleViewer)
	for _, q := range []string{
		"limit=0", "limit=201", "limit=-5", "limit=ten", "limit=", "limit=2.5",
		"cursor=", "cursor=not-a-cursor", "cursor=%00", "cursor=" + strings.Repeat("A", 2000), "limit=5&cursor=MTIz",
	} {
		r := e.do("GET", "/projects?"+q, nil, bearer(viewer.Access)...)
		expect(t, r, http.StatusBadRequest, "")
		param := "limit"
		if strings.Contains(q, "cursor") {
			param = "cursor"
		}
		if !strings.Contains(r.Error(), param) {
			t.Errorf("?%s: message %q does not name %s", q, r.Error(), param)
		}
	}
}

func TestAProjectIsReadByIdAsItWasCreated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	e.Clock.Advance(123456789 * time.Nanosecond) // finer than PostgreSQL keeps
	created := createProject(t, e, tm.editor.Access, map[string]string{"name": "Apollo", "description": "Moon"})
	r := e.do("GET", "/projects/"+created["id"].(string), nil, bearer(tm.viewer.Access)...)
	expect(t, r, http.StatusOK, "")
	got := r.JSON["project"].(map[string]any)
	for _, k := range []string{"id", "name", "description", "ownerId", "createdAt"} {
		if got[k] != created[k] {
			t.Errorf("%s: GET %v, POST %v", k, got[k], created[k])
		}
	}
	for _, id := range []string{models.NewID(), "not-a-uuid", "%00", strings.Repeat("a", 500)} {
		expect(t, e.as(t).do("GET", "/projects/"+id, nil, bearer(tm.viewer.Access)...), http.StatusNotFound, "Not found")
	}
}

func TestOnlyTheOwningEditorOrAnAdminPatchesAProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	tm := newTeam(t, e)
	other := userWithRole(t, e, "other-editor@example.com", models.RoleEditor)
	p := createProject(t, e, tm.editor.Access, map[string]string{"name": "Apollo", "description": "Moon"})
	path := "/projects/" + p["id"].(string)
	patch := func(token string, body any) response {
		t.Helper()
		return e.do("PATCH", path, body, bearer(token)...)
	}

	r := patch(tm.editor.Access, map[string]string{"name": "  Apollo 11 "})
	expect(t, r, http.StatusOK, "")
	if got := r.JSON["project"].(map[string]any); got["name"] != "Apollo 11" || got["description"] != "Moon" || got["createdAt"] != p["createdAt"] || got["ownerId"] != p["ownerId"] {
		t.Fatalf("after the owner's rename: %v", got)
	}
	expect(t, patch(tm.admin.Access, map[string]any{"description": ""}), http.StatusOK, "")
	for _, token := range []string{other.Access, tm.viewer.Access} {
		expect(t, patch(token, map[string]string{"name": "Hijacked"}), http.StatusForbidden, "Insufficient permissions")
		// Whoever may not edit learns nothing from the body's checks.
		expect(t, patch(token, map[string]string{"name": ""}), http.StatusForbidden, "Insufficient permissions")
	}
	expect(t, patch(tm.editor.Access, map[string]string{"name": " "}), http.StatusBadRequest, "name is required")
	expect(t, patch(tm.editor.Access, `{"name":`), http.StatusBadRequest, "Invalid JSON body")
	expect(t, patch(tm.editor.Access, `{"description":7}`), http.StatusBadRequest, "description must be a string")
	expect(t, patch(tm.editor.Access, map[string]string{"description": strings.Repeat("d", 2001)}), http.StatusBadRequest, "description must be at most 2000 characters")

	got := e.do("GET", path, nil, bearer(tm.viewer.Access)...).JSON["project"].(map[string]any)
	if got["name"] != "Apollo 11" || got["description"] != "" {
		t.Fatalf("stored after the refused patches: %v", got)
	}
	for _, id := range []string{models.NewID(), "not-a-uuid"} {
		expect(t, e.do("PATCH", "/projects/"+id, map[string]string{"name": "x"}, bearer(tm.admin.Access)...), http.StatusNotFound, "Not found")
	}
	expect(t, e.do("PATCH", path, map[string]string{"name": "x"}), http.StatusUnauthorized, "Authentication required")
}
