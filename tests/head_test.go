package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"apisec/models"
	"apisec/routes"
)

// Every GET route answers HEAD with GET's status and headers and no body;
// the routes come from the router itself, so a new GET route is covered.
func TestEveryGETRouteAnswersHEADLikeGET(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	admin := userWithRole(t, e, "head-admin@example.com", models.RoleAdmin)
	project := createProject(t, e, admin.Access, map[string]string{"name": "probe"})
	_, verification := register(t, e, "head@example.com", goodPassword)

	handler, err := routes.New(e.App)
	if err != nil {
		t.Fatal(err)
	}
	// Headers that differ between any two requests.
	volatile := map[string]bool{"Date": true, "X-Request-Id": true, "X-Ratelimit-Remaining": true, "X-Ratelimit-Reset": true, "Ratelimit": true}
	// A route with a parameter needs a path to something that exists: a new
	// resource adds its own here.
	paths := map[string]string{
		"/projects/:id": "/projects/" + project["id"].(string),
		"/docs/:asset":  "/docs/docs.js",
	}
	for _, rt := range handler.(*gin.Engine).Routes() {
		if rt.Method != http.MethodGet {
			continue
		}
		path := rt.Path
		if strings.Contains(path, ":") {
			if path = paths[rt.Path]; path == "" {
				t.Errorf("GET %s: add a path to an existing object to this test's paths", rt.Path)
				continue
			}
		}
		if rt.Path == "/auth/verify" {
			path += "?token=" + verification
		}
		head := e.do("HEAD", path, nil, bearer(admin.Access)...)
		get := e.do("GET", path, nil, bearer(admin.Access)...)
		if head.Status != get.Status || get.Status >= 400 {
			t.Errorf("%s: HEAD %d, GET %d", rt.Path, head.Status, get.Status)
		}
		if len(head.Body) != 0 {
			t.Errorf("%s: HEAD has a body: %q", rt.Path, head.Body)
		}
		for name := range get.Header {
			if !volatile[name] && head.Header.Get(name) != get.Header.Get(name) {
				t.Errorf("%s: header %s: HEAD %q, GET %q", rt.Path, name, head.Header.Get(name), get.Header.Get(name))
			}
		}
	}
	// The GET after the HEAD verified the address: HEAD spent nothing.
	if u, err := models.UserByEmail(e.App.DB, "head@example.com"); err != nil || !u.EmailVerified {
		t.Fatalf("after HEAD and GET /auth/verify: %+v, %v", u, err)
	}
}

// Link checkers send HEAD: it must not verify an account.
func TestHEADOnAVerificationLinkDoesNotSpendIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	_, token := register(t, e, "scanner@example.com", goodPassword)
	expect(t, e.do("HEAD", "/auth/verify?token="+token, nil), http.StatusOK, "")
	if u, err := models.UserByEmail(e.App.DB, "scanner@example.com"); err != nil || u.EmailVerified {
		t.Fatalf("HEAD verified the account: %+v, %v", u, err)
	}
	if r := e.do("HEAD", "/auth/verify?token="+strings.Repeat("0", 64), nil); r.Status != http.StatusBadRequest {
		t.Fatalf("HEAD with an unknown token: %d", r.Status)
	}
	expect(t, e.do("GET", "/auth/verify?token="+token, nil), http.StatusOK, "")
}
