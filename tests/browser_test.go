package tests

import (
	"apisec/db/dbtest"
	"apisec/handlers"
	"net/http"
	"os"
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
		if r.path == "/docs" && res.Status == http.StatusOK {
			want["Content-Security-Policy"] = handlers.DocsCSP // the page's own, allowing its assets
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

const (
	appOrigin   = "https://app.example.com"
	otherOrigin = "https://evil.example.net"
)

func corsEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	settings := unlimited()
	settings["CORS_ALLOWED_ORIGINS"] = "https://admin.example.com, " + appOrigin
	for k, v := range vars {
		settings[k] = v
	}
	return newEnv(t, settings)
}

func preflight(e *env, path, origin, method string, headers ...string) response {
	e.t.Helper()
	return e.do("OPTIONS", path, nil, append([]string{"Origin", origin, "Access-Control-Request-Method", method}, headers...)...)
}

// listsToken reports whether the comma list v names tok, case-insensitively.
func listsToken(v, tok string) bool {
	for _, s := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(s), tok) {
			return true
		}
	}
	return false
}

func corsHeadersOf(r response) []string {
	var out []string
	for k := range r.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	return out
}

func TestAPreflightFromAListedOriginIsAnsweredWithItsPermissions(t *testing.T) {
	t.Parallel()
	e := corsEnv(t, nil)
	for _, asked := range [][]string{
		{"Access-Control-Request-Headers", "authorization,content-type"},
		nil, // a client that asks for no header still learns the allowed ones
	} {
		r := preflight(e, "/projects", appOrigin, "POST", asked...)
		expect(t, r, http.StatusNoContent, "")
		h := r.Header
		if h.Get("Access-Control-Allow-Origin") != appOrigin || h.Get("Access-Control-Max-Age") != "600" {
			t.Errorf("asked %v: Allow-Origin %q, Max-Age %q", asked, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Max-Age"))
		}
		for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
			if !listsToken(h.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("asked %v: Allow-Methods %q lacks %s", asked, h.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, name := range []string{"Authorization", "Content-Type"} {
			if !listsToken(h.Get("Access-Control-Allow-Headers"), name) {
				t.Errorf("asked %v: Allow-Headers %q lacks %s", asked, h.Get("Access-Control-Allow-Headers"), name)
			}
		}
		if _, ok := h["Access-Control-Allow-Credentials"]; ok || !listsToken(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("asked %v: Allow-Credentials %q, Vary %q", asked, h.Get("Access-Control-Allow-Credentials"), h.Values("Vary"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Request-Id") == "" {
			t.Errorf("a preflight lacks the headers every answer carries: %v", h)
		}
	}
	// Another listed origin is answered with itself, never with the first.
	if got := preflight(e, "/projects", "https://admin.example.com", "GET").Header.Get("Access-Control-Allow-Origin"); got != "https://admin.example.com" {
		t.Errorf("second origin: Allow-Origin %q", got)
	}
}

// Answers to a listed origin let its script read them, rate-limit and
// request-ID headers included; every answer varies by Origin, so a cache
// never serves one origin's answer to another.
func TestAnswersToAListedOriginExposeTheRateLimitHeaders(t *testing.T) {
	t.Parallel()
	e := corsEnv(t, nil)
	for _, path := range []string{"/public/status", "/auth/me", "/no/such/route"} {
		r := e.do("GET", path, nil, "Origin", appOrigin)
		h := r.Header
		if h.Get("Access-Control-Allow-Origin") != appOrigin {
			t.Errorf("GET %s (%d): Allow-Origin %q", path, r.Status, h.Get("Access-Control-Allow-Origin"))
		}
		for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Retry-After", "X-Request-ID"} {
			if !listsToken(h.Get("Access-Control-Expose-Headers"), name) {
				t.Errorf("GET %s: Expose-Headers %q lacks %s", path, h.Get("Access-Control-Expose-Headers"), name)
			}
		}
		if _, ok := h["Access-Control-Allow-Credentials"]; ok {
			t.Errorf("GET %s allows credentials", path)
		}
	}
	if r := e.do("GET", "/public/status", nil); !listsToken(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("an answer without Origin lacks Vary: Origin: %q", r.Header.Values("Vary"))
	}
}

func TestAnOriginNotListedGetsNoCORSHeader(t *testing.T) {
	t.Parallel()
	e := corsEnv(t, nil)
	for _, origin := range []string{otherOrigin, "https://app.example.com.evil.net", "http://app.example.com", "null"} {
		for _, r := range []response{
			preflight(e, "/projects", origin, "POST", "Access-Control-Request-Headers", "authorization"),
			e.do("GET", "/public/status", nil, "Origin", origin),
		} {
			if got := corsHeadersOf(r); len(got) > 0 {
				t.Errorf("origin %s (status %d) got %v", origin, r.Status, got)
			}
			if !listsToken(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("origin %s: Vary %q", origin, r.Header.Values("Vary"))
			}
		}
	}
	// A listed origin asking for a method or header the API does not allow.
	for _, r := range []response{
		preflight(e, "/projects", appOrigin, "PUT"),
		preflight(e, "/projects", appOrigin, "POST", "Access-Control-Request-Headers", "x-admin-override"),
	} {
		if got := corsHeadersOf(r); len(got) > 0 {
			t.Errorf("a refused preflight got %v", got)
		}
	}
}

// With CORS_ALLOWED_ORIGINS empty nothing of CORS is on: an OPTIONS is the
// contract's 405 and no answer names an origin.
func TestWithNoOriginsListedNoAnswerCarriesACORSHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	r := preflight(e, "/projects", appOrigin, "POST")
	expect(t, r, http.StatusMethodNotAllowed, "Method not allowed")
	for _, r := range []response{r, e.do("GET", "/public/status", nil, "Origin", appOrigin)} {
		if got := corsHeadersOf(r); len(got) > 0 || len(r.Header.Values("Vary")) > 0 {
			t.Errorf("status %d: CORS headers %v, Vary %q", r.Status, got, r.Header.Values("Vary"))
		}
	}
}

// A preflight is answered before any limiter or handler: it spends no rate
// limit budget (the limiters' stores are the only storage before a handler)
// and is answered while the database and Redis are down.
func TestPreflightsTouchNeitherStorageNorRedis(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"RATE_LIMIT_GLOBAL": "3/1m", "RATE_LIMIT_LOGIN": "1/15m"}
	var proxy *dbtest.Proxy
	if redisURL := os.Getenv("TEST_REDIS_URL"); redisURL != "" {
		var proxied string
		proxy, proxied = dbtest.ProxyURL(t, redisURL)
		vars["REDIS_URL"] = proxied
	}
	e := corsEnv(t, vars)
	if proxy != nil {
		t.Cleanup(func() { proxy.SetMode(dbtest.Forward) }) // runs before the harness deletes the keys
	}
	for range 5 {
		for _, path := range []string{"/auth/login", "/public/status", "/projects"} {
			expect(t, preflight(e, path, appOrigin, "POST"), http.StatusNoContent, "")
		}
	}
	r := e.do("GET", "/public/status", nil, "Origin", appOrigin)
	expect(t, r, http.StatusOK, "")
	if got := r.Header.Get("X-RateLimit-Remaining"); got != "2" {
		t.Fatalf("after 15 preflights and one GET, X-RateLimit-Remaining %q, want 2: preflights were charged", got)
	}

	sqlDB, err := e.App.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	if proxy != nil {
		proxy.SetMode(dbtest.Reset)
	}
	expect(t, e.do("GET", "/readyz", nil), http.StatusServiceUnavailable, "") // storage really is gone
	r = preflight(e, "/auth/login", appOrigin, "POST", "Access-Control-Request-Headers", "content-type")
	expect(t, r, http.StatusNoContent, "")
	if r.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatalf("preflight with storage down: %v", r.Header)
	}
}
