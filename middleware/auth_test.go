package middleware_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ulule/limiter/v3"

	"apisec/app/clocktest"
	"apisec/app/ratelimit"
	"apisec/app/tokens"
	"apisec/db/dbtest"
	"apisec/middleware"
	"apisec/models"
)

// authKey is generated once per test binary: RSA key generation is slow.
var authKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// authClock is a settable clock for one test's token service.
type authClock = clocktest.Clock

func newAuthService(tb testing.TB, cacheSize int) (*tokens.Service, *authClock) {
	tb.Helper()
	clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	ts, err := tokens.New(tokens.Config{
		PrivateKey: authKey(), Issuer: "https://api.test", Audience: "apisec",
		TTL: 15 * time.Minute, ClockSkew: 5 * time.Second, Clock: clock.Now, CacheSize: cacheSize,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ts, clock
}

// subjectOf is a fixed user id per role, so an answer shows whose token it read.
func subjectOf(role models.Role) string {
	return "00000000-0000-4000-8000-" + fmt.Sprintf("%012x", role[0])
}

func issue(tb testing.TB, ts *tokens.Service, role models.Role) string {
	tb.Helper()
	is, err := ts.Issue(tokens.Grant{Subject: subjectOf(role), Session: subjectOf(role), Role: role, Plan: "free"})
	if err != nil {
		tb.Fatal(err)
	}
	return is.Token
}

// newAuthEngine routes /me behind RequireAuth, /editors and /admin behind
// role checks, and /unauthenticated-admin behind a role check alone.
func newAuthEngine(ts *tokens.Service) *gin.Engine {
	r := gin.New()
	me := func(c *gin.Context) {
		caller, ok := middleware.CallerFrom(c)
		if !ok {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, gin.H{"sub": caller.Subject, "role": caller.Role})
	}
	r.GET("/me", middleware.RequireAuth(ts, nil, nil), me)
	r.GET("/editors", middleware.RequireAuth(ts, nil, nil), middleware.RequireRole(models.RoleEditor, models.RoleAdmin), me)
	r.GET("/admin", middleware.RequireAuth(ts, nil, nil), middleware.RequireRole(models.RoleAdmin), me)
	r.GET("/unauthenticated-admin", middleware.RequireRole(models.RoleAdmin), me)
	return r
}

func serve(r http.Handler, path string, authorization ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func errorMessage(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return body.Error
}

func TestRequireAuthAnswersTheContractsThree401s(t *testing.T) {
	t.Parallel()
	ts, clock := newAuthService(t, 0)
	r := newAuthEngine(ts)
	valid := issue(t, ts, models.RoleViewer)
	// Same key, another issuer: the signature verifies, the token must not.
	foreign, err := tokens.New(tokens.Config{PrivateKey: authKey(), Issuer: "https://evil.test", Audience: "apisec", TTL: time.Minute, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		headers []string
		message string
	}{
		{"no header", nil, "Authentication required"},
		{"empty header", []string{""}, "Authentication required"},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, "Authentication required"},
		{"scheme only", []string{"Bearer"}, "Authentication required"},
		{"two tokens", []string{"Bearer " + valid + " " + valid}, "Authentication required"},
		{"characters outside b64token", []string{"Bearer abc$def"}, "Authentication required"},
		{"b64token that is no JWT", []string{"Bearer abc+def/=="}, "Invalid token"},
		{"two Authorization headers", []string{"Bearer " + valid, "Bearer " + valid}, "Authentication required"},
		{"garbage token", []string{"Bearer abc.def.ghi"}, "Invalid token"},
		{"another issuer", []string{"Bearer " + issue(t, foreign, models.RoleAdmin)}, "Invalid token"},
	}
	for _, c := range cases {
		w := serve(r, "/me", c.headers...)
		if w.Code != http.StatusUnauthorized || errorMessage(t, w) != c.message || w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s: %d %s WWW-Authenticate=%q; want 401 %q with Bearer", c.name, w.Code, w.Body, w.Header().Get("WWW-Authenticate"), c.message)
		}
	}

	clock.Advance(10 * time.Minute)
	if w := serve(r, "/me", "bearer "+valid); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sub":"`+subjectOf(models.RoleViewer)+`"`) {
		t.Errorf("valid token: %d %s", w.Code, w.Body)
	}
	clock.Advance(6 * time.Minute) // 16 minutes after issue: past TTL and leeway
	w := serve(r, "/me", "Bearer "+valid)
	if w.Code != http.StatusUnauthorized || errorMessage(t, w) != "Token expired" || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("expired token: %d %s", w.Code, w.Body)
	}
}

func TestRequireRoleAdmitsOnlyListedRoles(t *testing.T) {
	t.Parallel()
	ts, _ := newAuthService(t, 0)
	r := newAuthEngine(ts)
	viewer, editor, admin := issue(t, ts, models.RoleViewer), issue(t, ts, models.RoleEditor), issue(t, ts, models.RoleAdmin)
	cases := []struct {
		path, token string
		status      int
	}{
		{"/me", viewer, http.StatusOK},
		{"/editors", viewer, http.StatusForbidden},
		{"/editors", editor, http.StatusOK},
		{"/editors", admin, http.StatusOK},
		{"/admin", viewer, http.StatusForbidden},
		{"/admin", editor, http.StatusForbidden},
		{"/admin", admin, http.StatusOK},
	}
	for _, c := range cases {
		w := serve(r, c.path, "Bearer "+c.token)
		if w.Code != c.status {
			t.Errorf("%s as %s: %d %s; want %d", c.path, c.token[len(c.token)-6:], w.Code, w.Body, c.status)
		}
		if c.status == http.StatusForbidden {
			if msg := errorMessage(t, w); msg != "Insufficient permissions" || w.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("%s: 403 %q, WWW-Authenticate %q", c.path, msg, w.Header().Get("WWW-Authenticate"))
			}
		}
	}
}

func TestRequireRoleWithoutACallerAsksForAuthentication(t *testing.T) {
	t.Parallel()
	ts, _ := newAuthService(t, 0)
	w := serve(newAuthEngine(ts), "/unauthenticated-admin", "Bearer "+issue(t, ts, models.RoleAdmin))
	if w.Code != http.StatusUnauthorized || errorMessage(t, w) != "Authentication required" {
		t.Errorf("%d %s; want 401 Authentication required", w.Code, w.Body)
	}
}

func TestRequireRoleRefusesUnknownRolesAtSetup(t *testing.T) {
	t.Parallel()
	for _, roles := range [][]models.Role{nil, {"admn"}, {models.RoleAdmin, "Admin"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireRole(%q) did not panic", roles)
				}
			}()
			middleware.RequireRole(roles...)
		}()
	}
}

func TestCallerFromIgnoresValuesOfAnotherType(t *testing.T) {
	t.Parallel()
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	if _, ok := middleware.CallerFrom(c); ok {
		t.Error("caller found in a fresh context")
	}
	c.Set("apisec.caller", map[string]string{"role": "admin"})
	if _, ok := middleware.CallerFrom(c); ok {
		t.Error("a value of another type was taken for the caller")
	}
}

func FuzzRequireAuthHeader(f *testing.F) {
	ts, _ := newAuthService(f, 0)
	valid := issue(f, ts, models.RoleAdmin)
	r := newAuthEngine(ts)
	for _, seed := range []string{"", "Bearer " + valid, "bearer " + valid, "Bearer  " + valid, "Bearer " + valid + "x", "Basic x", "Bearer a.b.c", "Bearer \xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		req.Header["Authorization"] = []string{header}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if strings.EqualFold(header, "Bearer "+valid) {
			if w.Code != http.StatusOK {
				t.Fatalf("valid header %q: %d", header, w.Code)
			}
			return
		}
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Fatalf("header %q: %d %s", header, w.Code, w.Body)
		}
		switch msg := errorMessage(t, w); msg {
		case "Authentication required", "Invalid token":
		default:
			t.Fatalf("header %q: message %q", header, msg)
		}
	})
}

func BenchmarkRequireAuth(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"cache=off", -1}, {"cache=on", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			ts, _ := newAuthService(b, bc.size)
			r := newAuthEngine(ts)
			header := "Bearer " + issue(b, ts, models.RoleAdmin)
			req := httptest.NewRequest(http.MethodGet, "/admin", nil)
			req.Header.Set("Authorization", header)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkForgedTokenFlood is one IP sending tokens with a real kid and a
// wrong signature, from 32 goroutines per core: "verify" is no limiter,
// each an RSA verification (the full cost); under-budget adds the charge
// (a peek and a take); past-budget is the 429 before any verification,
// answered from the limiter's memory of refusals, or with memo=off by a
// peek at the store. On each store: in process, and Redis when
// TEST_REDIS_URL is set. The past-budget ÷ verify ratio of ns/op is issue
// 15's budget (≥ 5×).
func BenchmarkForgedTokenFlood(b *testing.B) {
	ts, _ := newAuthService(b, 0)
	tok := issue(b, ts, models.RoleViewer)
	forged := "Bearer " + tok[:len(tok)-4] + "AAAA"
	stores := map[string]func(b *testing.B, name string) ratelimit.Store{
		"memory": func(b *testing.B, _ string) ratelimit.Store {
			s := ratelimit.NewMemoryStore()
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"redis": func(b *testing.B, name string) ratelimit.Store {
			client, ok := dbtest.Redis(b)
			if !ok {
				b.Skip("TEST_REDIS_URL not set")
			}
			prefix := dbtest.KeyPrefix(b) + name
			dbtest.DeleteKeys(b, client, "rl:"+prefix+":*")
			return ratelimit.NewRedisStore(client, ratelimit.Name(prefix), ratelimit.Timeout(2*time.Second))
		},
	}
	run := func(b *testing.B, rate limiter.Rate, newStore func(*testing.B, string) ratelimit.Store, memo bool, want int) {
		rates := ratelimit.Rates{ByPolicy: map[string]limiter.Rate{ratelimit.Global.Name: rate}}
		ls, err := ratelimit.NewLimiters(rates, func(name string) (ratelimit.Store, error) { return newStore(b, name), nil }, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ls.Close() })
		if l := ls.Of(ratelimit.Global); l != nil && !memo {
			l.GivesBack() // turns the memo off
		}
		r := gin.New()
		r.GET("/me", middleware.RequireAuth(ts, ls, ratelimit.Global), func(c *gin.Context) { c.Status(http.StatusOK) })
		serve(r, "/me", forged) // spends the one slot of a past-budget run
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if w := serve(r, "/me", forged); w.Code != want {
					b.Error(w.Code, w.Body)
					return
				}
			}
		})
	}
	b.Run("verify", func(b *testing.B) { run(b, limiter.Rate{}, nil, true, http.StatusUnauthorized) })
	for _, store := range []string{"memory", "redis"} {
		b.Run("store="+store, func(b *testing.B) {
			b.Run("under-budget", func(b *testing.B) {
				run(b, limiter.Rate{Limit: 1_000_000, Period: time.Hour}, stores[store], true, http.StatusUnauthorized)
			})
			for _, memo := range []bool{false, true} {
				b.Run(fmt.Sprintf("past-budget/memo=%v", memo), func(b *testing.B) {
					run(b, limiter.Rate{Limit: 1, Period: time.Hour}, stores[store], memo, http.StatusTooManyRequests)
				})
			}
		})
	}
}
