package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"apisec/models"
)

// rlPassword passes the contract's password rules.
const rlPassword = "Rate-Limit-Test-9"

// rlHeaders are the rate-limit headers the contract names.
var rlHeaders = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}

// rlCreateUser creates a verified user with role and plan directly in the
// database and returns it with its e-mail address.
func rlCreateUser(t *testing.T, e *env, role, plan string) *models.User {
	t.Helper()
	email := "rl-" + role + "-" + plan + "-" + randomHex(t, 4) + "@example.test"
	u, err := e.App.Accounts.CreateUser(context.Background(), email, rlPassword, models.Role(role), plan, true)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// rlLogin signs email in through POST /auth/login and returns the access
// token. It spends one global and one login slot of the caller's IP.
func rlLogin(t *testing.T, e *env, email string, headers ...string) string {
	t.Helper()
	r := e.do("POST", "/auth/login", map[string]string{"email": email, "password": rlPassword}, headers...)
	expect(t, r, http.StatusOK, "")
	tok := r.String("accessToken")
	if tok == "" {
		t.Fatalf("login %s: no accessToken in %s", email, r.Body)
	}
	return tok
}

// rlSignIn creates a user with role and plan and returns an access token.
func rlSignIn(t *testing.T, e *env, role, plan string) string {
	t.Helper()
	return rlLogin(t, e, rlCreateUser(t, e, role, plan).Email)
}

// rlRepeat sends the same request n times, fails at the first answer that
// does not have status want, and returns the last answer.
func rlRepeat(t *testing.T, e *env, n int, method, path string, body any, want int, headers ...string) response {
	t.Helper()
	var r response
	for i := range n {
		r = e.do(method, path, body, headers...)
		if r.Status != want {
			t.Fatalf("%s %s request %d of %d: status %d, want %d; body %s", method, path, i+1, n, r.Status, want, r.Body)
		}
	}
	return r
}

// rlHeaderInt returns header name of r as an integer, failing when it is
// missing or not a whole number.
func rlHeaderInt(t *testing.T, r response, name string) int64 {
	t.Helper()
	v := r.Header.Get(name)
	if v == "" {
		t.Fatalf("no %s header (status %d, headers %v)", name, r.Status, r.Header)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not a whole number", name, v)
	}
	return n
}

// rlExpectLimit checks r's X-RateLimit-Limit and X-RateLimit-Remaining.
func rlExpectLimit(t *testing.T, r response, limit, remaining int64) {
	t.Helper()
	if got := rlHeaderInt(t, r, "X-RateLimit-Limit"); got != limit {
		t.Fatalf("X-RateLimit-Limit %d, want %d", got, limit)
	}
	if got := rlHeaderInt(t, r, "X-RateLimit-Remaining"); got != remaining {
		t.Fatalf("X-RateLimit-Remaining %d, want %d", got, remaining)
	}
}

// rlExpectNoLimitHeaders fails if r carries any rate-limit header.
func rlExpectNoLimitHeaders(t *testing.T, r response, what string) {
	t.Helper()
	for _, h := range rlHeaders {
		if v := r.Header.Get(h); v != "" {
			t.Fatalf("%s: unexpected %s: %s", what, h, v)
		}
	}
}

// rlExpect429 checks a refusal: the status, the contract's message, a JSON
// body with nothing but "error", and a Retry-After of want seconds (any
// positive value when want is 0).
func rlExpect429(t *testing.T, r response, msg string, want int64) {
	t.Helper()
	expect(t, r, http.StatusTooManyRequests, msg)
	if len(r.JSON) != 1 {
		t.Fatalf("429 body %s, want only an error field", r.Body)
	}
	if got := rlHeaderInt(t, r, "Retry-After"); got < 1 || want > 0 && got != want {
		t.Fatalf("Retry-After %d, want %d", got, want)
	}
	if rem := rlHeaderInt(t, r, "X-RateLimit-Remaining"); rem != 0 {
		t.Fatalf("X-RateLimit-Remaining %d on a 429, want 0", rem)
	}
}

// rlWhileUnavailable repeats send while it answers 503, for at most d of
// real time, and returns the last answer: how long recovery may take.
func rlWhileUnavailable(d time.Duration, send func() response) response {
	deadline := time.Now().Add(d)
	r := send()
	for r.Status == http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		r = send()
	}
	return r
}

// rlAdvanceTo moves the env's clock forward to at.
func rlAdvanceTo(t *testing.T, e *env, at time.Time) {
	t.Helper()
	d := at.Sub(e.Clock.Now())
	if d < 0 {
		t.Fatalf("clock is at %s, cannot go back to %s", e.Clock.Now(), at)
	}
	e.Clock.Advance(d)
}

// rlStatuses sends n copies of a request at once and counts the answers by
// status. It does not use e.do, which may only fail the test from the
// test's own goroutine.
func rlStatuses(t *testing.T, e *env, n int, method, path string, headers ...string) map[int]int {
	t.Helper()
	return rlParallel(t, n, func(int) (int, error) { return rlSend(method, e.URL+path, nil, headers...) })
}

// rlParallel runs n copies of send at once and counts the statuses.
func rlParallel(t *testing.T, n int, send func(i int) (int, error)) map[int]int {
	t.Helper()
	var (
		mu       sync.Mutex
		statuses = make(map[int]int)
		errs     []error
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			status, err := send(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			statuses[status]++
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", len(errs), n, errs[0])
	}
	return statuses
}

// rlSend sends a request with an optional JSON body from any goroutine.
func rlSend(method, u string, body any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, checkAnswer(req, res.StatusCode, res.Header, raw)
}
