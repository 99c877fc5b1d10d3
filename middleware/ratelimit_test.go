package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"apisec/app/clocktest"
	"apisec/app/metrics"
	"apisec/app/ratelimit"
	"apisec/app/tokens"
	"apisec/models"
)

type rlClock = clocktest.Clock

// rlLimiters builds limiters on memory stores driven by a fake clock that
// starts on a whole second.
func rlLimiters(t *testing.T, rates ratelimit.Rates) (*ratelimit.Limiters, *rlClock) {
	t.Helper()
	clk := clocktest.New(time.Unix(1_750_000_000, 0))
	ls, err := ratelimit.NewLimiters(rates, func(string) (ratelimit.Store, error) {
		return ratelimit.NewMemoryStore(ratelimit.Clock(clk.Now)), nil
	}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Close() })
	return ls, clk
}

func perMinute(n int64) limiter.Rate { return limiter.Rate{Limit: n, Period: time.Minute} }

// rates sets the three limiters of the API; a zero Rate is off.
func rates(global, login, authenticated limiter.Rate, plans map[string]limiter.Rate) ratelimit.Rates {
	return ratelimit.Rates{ByPolicy: map[string]limiter.Rate{
		ratelimit.Global.Name: global, ratelimit.Login.Name: login, ratelimit.Authenticated.Name: authenticated,
	}, Plans: plans}
}

// rlEngine routes like the API: the global limit on everything, the login
// limit on /auth/login, and the user limit on /me behind a stand-in for
// RequireAuth that takes the caller from X-Test-User/Role/Plan.
func rlEngine(t *testing.T, ls *ratelimit.Limiters, trustedProxies []string, log *slog.Logger) *gin.Engine {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := gin.New()
	if err := r.SetTrustedProxies(trustedProxies); err != nil {
		t.Fatal(err)
	}
	ok := func(c *gin.Context) { c.Status(http.StatusOK) }
	r.Use(Logger(log))
	r.GET("/public/status", Limit(ls, ratelimit.Global), ok)
	r.POST("/auth/login", Limit(ls, ratelimit.Global), Limit(ls, ratelimit.Login), ok)
	fakeAuth := func(c *gin.Context) {
		if user := c.GetHeader("X-Test-User"); user != "" {
			c.Set(callerKey, tokens.Claims{Subject: user, Role: models.Role(c.GetHeader("X-Test-Role")), Plan: c.GetHeader("X-Test-Plan")})
		}
	}
	r.GET("/me", fakeAuth, Limit(ls, ratelimit.Authenticated), ok)
	return r
}

// rlDo sends a request from remote (host:port) with extra headers given as
// name, value pairs.
func rlDo(r http.Handler, method, path, remote string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func rlError(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return body.Error
}

// wantHeaders checks the rate-limit headers; retryAfter "" means absent.
func wantHeaders(t *testing.T, w *httptest.ResponseRecorder, limit, remaining int, reset time.Time, retryAfter string) {
	t.Helper()
	h := w.Header()
	got := [4]string{h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset"), h.Get("Retry-After")}
	want := [4]string{strconv.Itoa(limit), strconv.Itoa(remaining), strconv.FormatInt(reset.Unix(), 10), retryAfter}
	if got != want {
		t.Fatalf("limit, remaining, reset, retry-after = %q, want %q", got, want)
	}
}

const client = "192.0.2.1:5000"

func TestLimitGlobalSetsHeadersAndAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	ls, clk := rlLimiters(t, rates(perMinute(3), limiter.Rate{}, limiter.Rate{}, nil))
	r := rlEngine(t, ls, nil, nil)
	reset := clk.Now().Add(time.Minute)
	for i := range 3 {
		w := rlDo(r, http.MethodGet, "/public/status", client)
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
		wantHeaders(t, w, 3, 2-i, reset, "")
	}
	w := rlDo(r, http.MethodGet, "/public/status", client)
	if w.Code != http.StatusTooManyRequests || rlError(t, w) != "Too many requests" {
		t.Fatalf("4th request: %d %s", w.Code, w.Body)
	}
	wantHeaders(t, w, 3, 0, reset, "60")

	clk.Advance(59*time.Second + 500*time.Millisecond)
	wantHeaders(t, rlDo(r, http.MethodGet, "/public/status", client), 3, 0, reset, "1") // rounded up, never 0
	clk.Advance(500 * time.Millisecond)
	if w := rlDo(r, http.MethodGet, "/public/status", client); w.Code != http.StatusOK {
		t.Fatalf("after the window: %d", w.Code)
	}
}

func TestLimitLoginSaysHowManyMinutesRoundedUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		after   time.Duration // since the five attempts
		minutes string
		retry   string
	}{
		{0, "15", "900"},
		{30 * time.Second, "15", "870"},
		{time.Minute, "14", "840"},
		{13*time.Minute + 59*time.Second, "2", "61"},
		{14 * time.Minute, "1", "60"},
		{14*time.Minute + 59*time.Second, "1", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			t.Parallel()
			ls, clk := rlLimiters(t, rates(perMinute(100), limiter.Rate{Limit: 5, Period: 15 * time.Minute}, limiter.Rate{}, nil))
			r := rlEngine(t, ls, nil, nil)
			reset := clk.Now().Add(15 * time.Minute)
			for i := range 5 {
				w := rlDo(r, http.MethodPost, "/auth/login", client)
				if w.Code != http.StatusOK {
					t.Fatalf("attempt %d: %d", i+1, w.Code)
				}
				wantHeaders(t, w, 5, 4-i, reset, "") // the login limiter's headers win over the global one's
			}
			clk.Advance(tt.after)
			w := rlDo(r, http.MethodPost, "/auth/login", client)
			want := "Too many login attempts. Try again in " + tt.minutes + " minutes."
			if w.Code != http.StatusTooManyRequests || rlError(t, w) != want {
				t.Fatalf("got %d %s, want 429 %q", w.Code, w.Body, want)
			}
			wantHeaders(t, w, 5, 0, reset, tt.retry)
			// The global limiter does not share the login's budget.
			if w := rlDo(r, http.MethodGet, "/public/status", client); w.Code != http.StatusOK {
				t.Fatalf("public route: %d", w.Code)
			}
		})
	}
}

func TestLimitUserAppliesPlansAndExemptsAdmins(t *testing.T) {
	t.Parallel()
	ls, clk := rlLimiters(t, rates(limiter.Rate{}, limiter.Rate{}, perMinute(3), map[string]limiter.Rate{"free": perMinute(2), "vip": {}}))
	r := rlEngine(t, ls, nil, nil)
	reset := clk.Now().Add(time.Minute)
	me := func(user, role, plan string) *httptest.ResponseRecorder {
		return rlDo(r, http.MethodGet, "/me", client, "X-Test-User", user, "X-Test-Role", role, "X-Test-Plan", plan)
	}
	tests := []struct {
		name, user, role, plan string
		limit                  int // 0: never limited, no headers
	}{
		{"a listed plan gets its limit", "u1", "viewer", "free", 2},
		{"an unknown plan falls back to the authenticated limit", "u2", "viewer", "gold", 3},
		{"no plan gets the authenticated limit", "u3", "editor", "", 3},
		{"a plan set to off is not limited", "u4", "viewer", "vip", 0},
		{"admins are not limited", "u5", "admin", "free", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 10 {
				w := me(tt.user, tt.role, tt.plan)
				switch {
				case tt.limit == 0:
					if w.Code != http.StatusOK || w.Header().Get("X-RateLimit-Limit") != "" {
						t.Fatalf("request %d: %d, headers %v", i+1, w.Code, w.Header())
					}
				case i < tt.limit:
					if w.Code != http.StatusOK {
						t.Fatalf("request %d: %d", i+1, w.Code)
					}
					wantHeaders(t, w, tt.limit, tt.limit-1-i, reset, "")
				default:
					if w.Code != http.StatusTooManyRequests || rlError(t, w) != "Too many requests" {
						t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
					}
					wantHeaders(t, w, tt.limit, 0, reset, "60")
				}
			}
		})
	}
	// Counted per user, not per IP.
	if w := me("u6", "viewer", "free"); w.Code != http.StatusOK {
		t.Fatalf("another user: %d", w.Code)
	}
	// Without a caller there is nobody to count.
	if w := rlDo(r, http.MethodGet, "/me", client); w.Code != http.StatusOK || w.Header().Get("X-RateLimit-Limit") != "" {
		t.Fatalf("no caller: %d %v", w.Code, w.Header())
	}
}

func TestAStoreOutageFailsOpenExceptForLogin(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{
		Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, DialerRetries: 1, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = dead.Close() })
	ls, err := ratelimit.NewLimiters(rates(perMinute(1), perMinute(1), perMinute(1), nil), func(name string) (ratelimit.Store, error) {
		return ratelimit.NewRedisStore(dead, ratelimit.Name(name)), nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	reg := prometheus.NewRegistry()
	ls.Metrics = metrics.New(reg, "global", "login", "authenticated")
	r := rlEngine(t, ls, nil, log)

	for i := range 2 {
		if w := rlDo(r, http.MethodGet, "/public/status", client); w.Code != http.StatusOK || w.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("global, request %d: %d %v", i+1, w.Code, w.Header())
		}
		if w := rlDo(r, http.MethodGet, "/me", client, "X-Test-User", "u1", "X-Test-Role", "viewer"); w.Code != http.StatusOK {
			t.Fatalf("authenticated, request %d: %d", i+1, w.Code)
		}
	}
	if got := ls.FailedOpen.Load(); got != 4 {
		t.Fatalf("FailedOpen = %d, want 4", got)
	}
	w := rlDo(r, http.MethodPost, "/auth/login", client)
	if w.Code != http.StatusServiceUnavailable || rlError(t, w) != "Service unavailable" {
		t.Fatalf("login: %d %s, want 503 Service unavailable", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Fatalf("the answer leaks the error: %s", w.Body)
	}
	for _, c := range []struct {
		limiter, outcome string
		want             float64
	}{
		{"global", "failed_open", 3}, {"authenticated", "failed_open", 2}, {"login", "failed_closed", 1}, // the login passed global first
		{"global", "allowed", 0}, {"login", "failed_open", 0},
	} {
		if got := decisions(t, reg, c.limiter, c.outcome); got != c.want {
			t.Errorf("ratelimit_decisions_total{limiter=%q,outcome=%q} = %v, want %v", c.limiter, c.outcome, got, c.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"letting the request through", "limiter=global", "limiter=authenticated", "refusing the request", "limiter=login"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// decisions reads ratelimit_decisions_total{limiter,outcome} from reg.
func decisions(t *testing.T, reg *prometheus.Registry, limiter, outcome string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "ratelimit_decisions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := m.GetLabel() // sorted by name: limiter, outcome
			if l[0].GetValue() == limiter && l[1].GetValue() == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestXForwardedForCountsOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	t.Run("no trusted proxies: a spoofed header changes nothing", func(t *testing.T) {
		t.Parallel()
		ls, _ := rlLimiters(t, rates(perMinute(1), limiter.Rate{}, limiter.Rate{}, nil))
		r := rlEngine(t, ls, nil, nil)
		if w := rlDo(r, http.MethodGet, "/public/status", client, "X-Forwarded-For", "198.51.100.1"); w.Code != http.StatusOK {
			t.Fatalf("first: %d", w.Code)
		}
		if w := rlDo(r, http.MethodGet, "/public/status", client, "X-Forwarded-For", "198.51.100.2"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("spoofed second: %d, want 429", w.Code)
		}
	})
	t.Run("a trusted proxy's header names the client", func(t *testing.T) {
		t.Parallel()
		ls, _ := rlLimiters(t, rates(perMinute(1), limiter.Rate{}, limiter.Rate{}, nil))
		r := rlEngine(t, ls, []string{"10.0.0.0/8"}, nil)
		proxy := "10.1.2.3:4000"
		for _, xff := range []string{"198.51.100.1", "198.51.100.2", "203.0.113.9, 198.51.100.3"} {
			if w := rlDo(r, http.MethodGet, "/public/status", proxy, "X-Forwarded-For", xff); w.Code != http.StatusOK {
				t.Fatalf("client %s: %d", xff, w.Code)
			}
		}
		if w := rlDo(r, http.MethodGet, "/public/status", proxy, "X-Forwarded-For", "198.51.100.1"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("first client again: %d, want 429", w.Code)
		}
	})
}

func TestIPv6ClientsShareTheirSlash64(t *testing.T) {
	t.Parallel()
	ls, _ := rlLimiters(t, rates(perMinute(1), limiter.Rate{}, limiter.Rate{}, nil))
	r := rlEngine(t, ls, nil, nil)
	steps := []struct {
		remote string
		want   int
	}{
		{"[2001:db8:1:2::1]:5000", http.StatusOK},
		{"[2001:db8:1:2:ffff:eeee:dddd:9]:5001", http.StatusTooManyRequests}, // same /64
		{"[2001:db8:1:3::1]:5000", http.StatusOK},                            // next /64
		{"192.0.2.7:5000", http.StatusOK},
		{"[::ffff:192.0.2.7]:5000", http.StatusTooManyRequests}, // IPv4-mapped is the IPv4 client
	}
	for _, s := range steps {
		if w := rlDo(r, http.MethodGet, "/public/status", s.remote); w.Code != s.want {
			t.Fatalf("%s: %d, want %d", s.remote, w.Code, s.want)
		}
	}
}

func TestRateLimitMiddlewareWithLimitersOffPassesEverything(t *testing.T) {
	t.Parallel()
	for _, ls := range []*ratelimit.Limiters{nil, {}} {
		r := rlEngine(t, ls, nil, nil)
		for range 3 {
			for _, w := range []*httptest.ResponseRecorder{
				rlDo(r, http.MethodGet, "/public/status", client),
				rlDo(r, http.MethodPost, "/auth/login", client),
				rlDo(r, http.MethodGet, "/me", client, "X-Test-User", "u1", "X-Test-Role", "viewer"),
			} {
				if w.Code != http.StatusOK || w.Header().Get("X-RateLimit-Limit") != "" {
					t.Fatalf("%d %v", w.Code, w.Header())
				}
			}
		}
	}
}

// ctxStore fails the way a network store does when the request is cancelled.
type ctxStore struct{ ratelimit.Store }

func (ctxStore) Take(ctx context.Context, _ string, _ int64, _ limiter.Rate) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, ctx.Err()
}

func TestAClientThatHasGoneIsNotCountedAsAnOutage(t *testing.T) {
	t.Parallel()
	ls, err := ratelimit.NewLimiters(rates(perMinute(1), limiter.Rate{}, limiter.Rate{}, nil),
		func(string) (ratelimit.Store, error) { return ctxStore{}, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rlEngine(t, ls, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/public/status", nil)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || ls.FailedOpen.Load() != 0 {
		t.Fatalf("%d, FailedOpen %d; want 503 and 0", w.Code, ls.FailedOpen.Load())
	}
}

// countedStore counts the decisions that reach a real store.
type countedStore struct {
	ratelimit.Store
	takes *atomic.Int64
}

func (s countedStore) Take(ctx context.Context, key string, count int64, rate limiter.Rate) (ratelimit.Decision, error) {
	s.takes.Add(1)
	return s.Store.Take(ctx, key, count, rate)
}

// A client past its budget is answered from the limiter's memory, with the
// very answer, headers and metrics a decision of the store gives.
func TestARememberedRefusalAnswersExactlyAsTheStoreDoes(t *testing.T) {
	t.Parallel()
	clk := clocktest.New(time.Unix(1_750_000_000, 0))
	store := ratelimit.NewMemoryStore(ratelimit.Clock(clk.Now))
	t.Cleanup(func() { _ = store.Close() })
	var takes atomic.Int64
	// newLimiters shares store: each new Limiters has an empty memo, so
	// its first refusal is the store's.
	newLimiters := func() *ratelimit.Limiters {
		ls, err := ratelimit.NewLimiters(rates(perMinute(3), limiter.Rate{}, limiter.Rate{}, nil),
			func(string) (ratelimit.Store, error) { return countedStore{store, &takes}, nil }, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	ls := newLimiters()
	reg := prometheus.NewRegistry()
	ls.Metrics = metrics.New(reg, "global")
	r := rlEngine(t, ls, nil, nil)
	start := clk.Now()
	for i := range 3 {
		clk.Set(start.Add(time.Duration(i) * 10 * time.Second))
		if w := rlDo(r, http.MethodGet, "/public/status", client); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
	asked := takes.Load()
	refused := 0
	for _, at := range []time.Duration{20 * time.Second, 21*time.Second + 300*time.Millisecond, 59 * time.Second, time.Minute - time.Microsecond} {
		clk.Set(start.Add(at))
		memo := rlDo(r, http.MethodGet, "/public/status", client)
		before := takes.Load()
		fromStore := rlDo(rlEngine(t, newLimiters(), nil, nil), http.MethodGet, "/public/status", client)
		if takes.Load() != before+1 {
			t.Fatal("the fresh limiters did not ask the store")
		}
		refused++
		if memo.Code != http.StatusTooManyRequests || memo.Body.String() != fromStore.Body.String() {
			t.Fatalf("at +%s: %d %s, the store's %d %s", at, memo.Code, memo.Body, fromStore.Code, fromStore.Body)
		}
		for name := range fromStore.Header() {
			if got, want := memo.Header().Values(name), fromStore.Header().Values(name); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("at +%s: %s %q, the store's %q", at, name, got, want)
			}
		}
		if len(memo.Header()) != len(fromStore.Header()) {
			t.Fatalf("at +%s: headers %v, the store's %v", at, memo.Header(), fromStore.Header())
		}
	}
	// The request that filled the window told the memo: no refusal asked the store.
	if got := takes.Load() - asked - int64(refused); got != 0 {
		t.Fatalf("%d refusals of the remembering limiters asked the store, want 0", got)
	}
	if got := decisions(t, reg, "global", "limited"); got != float64(refused) {
		t.Fatalf("limited decisions %v, want %d", got, refused)
	}
	clk.Set(start.Add(time.Minute)) // the first slot frees
	if w := rlDo(r, http.MethodGet, "/public/status", client); w.Code != http.StatusOK {
		t.Fatalf("at the reset: %d", w.Code)
	}
}
