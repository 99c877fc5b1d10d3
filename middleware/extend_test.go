package middleware

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/config"
	"apisec/app/ratelimit"
	"apisec/app/tokens"
)

// Adding a limiter as docs/extending.md says: one Policy in
// ratelimit.Policies (appended here for the test's length) and one route
// line. Its setting is then read, defaulted and validated like the others,
// and the one Limit middleware applies it with the usual headers and 429.
func TestAddingALimiterIsOnePolicyAndOneRouteLine(t *testing.T) {
	// Not parallel: Policies is package state, which the parallel tests
	// read only once every sequential test and its cleanup are done.
	export := &ratelimit.Policy{Name: "export", Setting: "RATE_LIMIT_EXPORT", Default: "2/1m",
		Key: ratelimit.ByUser, Refuse: ratelimit.TooManyRequests}
	saved := ratelimit.Policies
	ratelimit.Policies = append(slices.Clip(saved), export)
	t.Cleanup(func() { ratelimit.Policies = saved })

	load := func(value string) (*config.Config, error) {
		return config.Load(func(k string) string {
			if k == export.Setting {
				return value
			}
			return ""
		})
	}
	if cfg, err := load(""); err != nil || cfg.Rates.ByPolicy["export"].Limit != 2 || cfg.Rates.ByPolicy["export"].Period != time.Minute {
		t.Fatalf("default: %v", err)
	}
	if _, err := load("lots"); err == nil || !strings.Contains(err.Error(), "RATE_LIMIT_EXPORT") {
		t.Fatalf("a bad value: %v, want an error naming the variable", err)
	}
	if cfg, err := load("off"); err != nil || cfg.Rates.ByPolicy["export"].Limit != 0 {
		t.Fatalf("off: %v", err)
	}
	cfg, err := load("3/1m")
	if err != nil {
		t.Fatal(err)
	}

	ls, _ := rlLimiters(t, cfg.Rates)
	r := gin.New()
	signedIn := func(c *gin.Context) { c.Set(callerKey, tokens.Claims{Subject: c.GetHeader("X-Test-User")}) }
	r.GET("/export", signedIn, Limit(ls, export), func(c *gin.Context) { c.Status(http.StatusOK) }) // the route line
	for i := range 3 {
		if w := rlDo(r, http.MethodGet, "/export", client, "X-Test-User", "ada"); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
	w := rlDo(r, http.MethodGet, "/export", client, "X-Test-User", "ada")
	if w.Code != http.StatusTooManyRequests || rlError(t, w) != "Too many requests" {
		t.Fatalf("4th request: %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"export";q=3;w=60` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
	if w := rlDo(r, http.MethodGet, "/export", client, "X-Test-User", "bob"); w.Code != http.StatusOK {
		t.Fatalf("another user's budget: %d", w.Code)
	}
}
