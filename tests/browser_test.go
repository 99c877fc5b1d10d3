package tests

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"apisec/routes"
)

var securityHeaders = map[string]string{
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

// Every answer, whatever its route or status (200, 400, 401, 404,
// 405, 413, …), carries the hardening headers, and HSTS because the test
// base URL is https. The routes come from the router, so a new one is covered.
func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	type request struct{ method, path, body string }
	reqs := []request{
		{"GET", "/no/such/route", ""},
		{"PUT", "/projects", "{}"},
		{"POST", "/auth/login", "{not json"},
		{"POST", "/auth/register", `{"email":"` + strings.Repeat("a", 2<<20) + `"}`},
	}
	handler, err := routes.New(e.App)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range handler.(*gin.Engine).Routes() {
		reqs = append(reqs, request{rt.Method, strings.Replace(rt.Path, ":id", "00000000-0000-0000-0000-000000000000", 1), "{}"})
	}
	statuses := map[int]bool{}
	for _, r := range reqs {
		res := e.do(r.method, r.path, r.body)
		statuses[res.Status] = true
		want := map[string]string{"Strict-Transport-Security": "max-age=31536000"}
		for k, v := range securityHeaders {
			want[k] = v
		}
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", r.method, r.path, res.Status, k, got, v)
			}
		}
	}
	for _, s := range []int{200, 400, 401, 404, 405, 413} {
		if !statuses[s] {
			t.Errorf("no answer had status %d; statuses seen %v", s, statuses)
		}
	}
}

// HSTS over http would pin a development host to https: only an https base
// URL sends it; the other headers do not depend on it.
func TestHSTSOnlyWithAnHTTPSBaseURL(t *testing.T) {
	t.Parallel()
	vars := unlimited()
	vars["APP_BASE_URL"] = "http://localhost:8080"
	e := newEnv(t, vars)
	res := e.do("GET", "/public/status", nil)
	if v, ok := res.Header["Strict-Transport-Security"]; ok {
		t.Fatalf("HSTS %q behind an http base URL", v)
	}
	for k, v := range securityHeaders {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
