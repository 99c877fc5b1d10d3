package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"apisec/models"
)

// goodPassword passes every password rule.
const goodPassword = "Correct-Horse-42"

// mailWait bounds the wait for an e-mail the app sends in the background.
const mailWait = 10 * time.Second

// unlimited is an environment with every rate limiter off, for tests that
// send more requests than the default limits admit.
func unlimited() map[string]string {
	return map[string]string{
		"RATE_LIMIT_GLOBAL":        "off",
		"RATE_LIMIT_LOGIN":         "off",
		"RATE_LIMIT_AUTHENTICATED": "off",
	}
}

// as returns a view of e whose requests report to t: subtests and parallel
// cases must not fail the test that made the env.
func (e *env) as(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// send is do without a testing.TB, for goroutines: it returns an error
// instead of failing the test.
func (e *env) send(method, path string, body any, headers ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	if err := checkAnswer(req, res.StatusCode, res.Header, raw); err != nil {
		return response{}, err
	}
	out := response{Status: res.StatusCode, Header: res.Header, Body: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			return out, fmt.Errorf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return out, nil
}

// concurrently sends the same request n times at once and returns the
// answers; a transport failure fails t.
func (e *env) concurrently(t testing.TB, n int, method, path string, body any) []response {
	t.Helper()
	out := make([]response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = e.send(method, path, body)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// session is the answer to a login or a refresh.
type session struct {
	Access, Refresh string
}

// register registers email and returns the body's user and verification token.
func register(t testing.TB, e *env, email, password string) (map[string]any, string) {
	t.Helper()
	r := e.as(t).do("POST", "/auth/register", map[string]string{"email": email, "password": password})
	expect(t, r, http.StatusCreated, "")
	user, _ := r.JSON["user"].(map[string]any)
	token := r.String("verificationToken")
	if user == nil || token == "" {
		t.Fatalf("register %s: body %s", email, r.Body)
	}
	return user, token
}

// registerAndVerify registers email and verifies it through the API.
func registerAndVerify(t testing.TB, e *env, email, password string) {
	t.Helper()
	_, token := register(t, e, email, password)
	expect(t, e.as(t).do("GET", "/auth/verify?token="+token, nil), http.StatusOK, "")
}

// login signs in and returns the pair.
func login(t testing.TB, e *env, email, password string) session {
	t.Helper()
	r := e.as(t).do("POST", "/auth/login", map[string]string{"email": email, "password": password})
	expect(t, r, http.StatusOK, "")
	return sessionOf(t, r)
}

// refresh spends refreshToken and returns the new pair.
func refresh(t testing.TB, e *env, refreshToken string) session {
	t.Helper()
	r := e.as(t).do("POST", "/auth/refresh", map[string]string{"refreshToken": refreshToken})
	expect(t, r, http.StatusOK, "")
	return sessionOf(t, r)
}

func sessionOf(t testing.TB, r response) session {
	t.Helper()
	s := session{Access: r.String("accessToken"), Refresh: r.String("refreshToken")}
	if s.Access == "" || s.Refresh == "" {
		t.Fatalf("no token pair in %s", r.Body)
	}
	return s
}

// userWithRole creates a verified user with role through the operator path
// (as `users create` does) and signs them in.
func userWithRole(t testing.TB, e *env, email string, role models.Role) session {
	t.Helper()
	if _, err := e.App.Accounts.CreateUser(context.Background(), email, goodPassword, role, "", true); err != nil {
		t.Fatalf("create %s %s: %v", role, email, err)
	}
	return login(t, e, email, goodPassword)
}

// mailTo returns the n-th e-mail (from 1) sent to addr, waiting for it:
// mail goes out in the background, in no particular order.
func mailTo(t testing.TB, e *env, addr string, n int) string {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for {
		seen := 0
		for _, m := range e.Mail.Messages() {
			if slices.Contains(m.To, addr) {
				if seen++; seen == n {
					return m.Body
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("e-mail %d to %s did not arrive within %v", n, addr, mailWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flushMail waits for every e-mail the app is still sending; later ones are
// sent before the request that asks for them is answered.
func flushMail(e *env) { e.App.Mail.Close() }

// mailedTo counts the e-mails received so far for addr.
func mailedTo(e *env, addr string) int {
	n := 0
	for _, m := range e.Mail.Messages() {
		if slices.Contains(m.To, addr) {
			n++
		}
	}
	return n
}

// linkToken finds the link starting with prefix in an e-mail body and
// returns its token parameter.
func linkToken(t testing.TB, body, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `([0-9A-Za-z_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link %s… in e-mail:\n%s", prefix, body)
	}
	return m[1]
}

// claimsOf decodes an access token's header and payload without verifying it.
func claimsOf(t testing.TB, token string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		t.Fatalf("decode %q: %v", token, err)
	}
	return parsed.Header, claims
}

// roleClaim is the role claim of an access token.
func roleClaim(t testing.TB, token string) string {
	t.Helper()
	_, c := claimsOf(t, token)
	r, _ := c["role"].(string)
	return r
}

// me calls GET /auth/me with token.
func me(e *env, token string) response {
	e.t.Helper()
	return e.do("GET", "/auth/me", nil, bearer(token)...)
}
