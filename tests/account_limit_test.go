package tests

import (
	"apisec/db/dbtest"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// The account limiter: failed password checks per address across every
// client IP, with device tokens keeping the owner in.

// acctEnv trusts the loopback proxy, so each request can come from its own IP.
func acctEnv(t *testing.T, settings map[string]string) *env {
	t.Helper()
	s := map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32", "RATE_LIMIT_ACCOUNT": "3/15m"}
	for k, v := range settings {
		s[k] = v
	}
	return newEnv(t, s)
}

// fromIP is the header of a client at 10.0.<n/256>.<n%256>.
func fromIP(n int) []string {
	return []string{"X-Forwarded-For", "10.0." + strconv.Itoa(n/256) + "." + strconv.Itoa(n%256)}
}

func acctLogin(e *env, email, password, device string, ip int) response {
	body := map[string]string{"email": email, "password": password}
	if device != "" {
		body["deviceToken"] = device
	}
	return e.do("POST", "/auth/login", body, fromIP(ip)...)
}

func TestGuessesFromManyIPsStopAtTheAccountLimitButNotItsOwner(t *testing.T) {
	t.Parallel()
	e := acctEnv(t, nil)
	u := rlCreateUser(t, e, "viewer", "")
	// Successful logins are no failed checks: more than the budget, all fine.
	var device string
	for i := range 4 {
		r := acctLogin(e, u.Email, rlPassword, "", 1000+i)
		expect(t, r, http.StatusOK, "")
		if device = r.String("deviceToken"); device == "" {
			t.Fatalf("login answered no deviceToken: %s", r.Body)
		}
	}
	for _, email := range []string{u.Email, "nobody-" + randomHex(t, 3) + "@example.test"} {
		for i := range int64(3) {
			r := acctLogin(e, email, "Wrong-Password-1", "", int(i)) // a new IP each time
			expect(t, r, http.StatusUnauthorized, "Invalid email or password")
			rlExpectLimit(t, r, 3, 2-i)
			if got := r.Header.Get("RateLimit-Policy"); got != `"account";q=3;w=900` {
				t.Fatalf("RateLimit-Policy %q", got)
			}
		}
		// Known and unknown addresses are throttled alike; the right
		// password from yet another IP is refused unchecked.
		rlExpect429(t, acctLogin(e, email, rlPassword, "", 99), rlLoginRefused, 15*60)
	}
	// The owner's device token is its own budget.
	r := acctLogin(e, u.Email, rlPassword, device, 200)
	expect(t, r, http.StatusOK, "")
	// A device token for another account, or a forged one, is none.
	other := rlCreateUser(t, e, "viewer", "")
	otherDevice := acctLogin(e, other.Email, rlPassword, "", 300).String("deviceToken")
	rlExpect429(t, acctLogin(e, u.Email, rlPassword, otherDevice, 201), rlLoginRefused, 0)
	rlExpect429(t, acctLogin(e, u.Email, rlPassword, device[:len(device)-4]+"AAAA", 202), rlLoginRefused, 0)

	// A device token whose own budget is spent is refused like none.
	for i := range 3 {
		expect(t, acctLogin(e, u.Email, "Wrong-Password-2", device, 210+i), http.StatusUnauthorized, "Invalid email or password")
	}
	rlExpect429(t, acctLogin(e, u.Email, rlPassword, device, 220), rlLoginRefused, 0)

	e.Clock.Advance(15 * time.Minute)
	expect(t, acctLogin(e, u.Email, rlPassword, "", 230), http.StatusOK, "")
}

func TestParallelGuessesCannotSlipPastTheAccountLimit(t *testing.T) {
	t.Parallel()
	e := acctEnv(t, map[string]string{"RATE_LIMIT_LOGIN": "off", "RATE_LIMIT_GLOBAL": "off"})
	u := rlCreateUser(t, e, "viewer", "")
	got := rlParallel(t, 24, func(i int) (int, error) {
		return rlSend("POST", e.URL+"/auth/login", map[string]string{"email": u.Email, "password": "Wrong-Password-" + strconv.Itoa(i)}, fromIP(i)...)
	})
	if got[http.StatusUnauthorized] != 3 || got[http.StatusTooManyRequests] != 21 {
		t.Fatalf("%v, want 3×401 and 21×429", got)
	}
}

func TestAPasswordChangeVoidsDeviceTokens(t *testing.T) {
	t.Parallel()
	e := acctEnv(t, nil)
	u := rlCreateUser(t, e, "viewer", "")
	r := acctLogin(e, u.Email, rlPassword, "", 1)
	device, access := r.String("deviceToken"), r.String("accessToken")
	const next = "Another-Secret-77"
	expect(t, e.do("POST", "/auth/password/change", map[string]string{"currentPassword": rlPassword, "newPassword": next},
		append(bearer(access), fromIP(1)...)...), http.StatusNoContent, "")
	for i := range 3 {
		acctLogin(e, u.Email, "Wrong-Password-3", "", 10+i)
	}
	rlExpect429(t, acctLogin(e, u.Email, next, device, 20), rlLoginRefused, 0)
}

func TestAWrongCurrentPasswordCountsForTheAccountAndTheIPsLoginLimit(t *testing.T) {
	t.Parallel()
	change := func(e *env, access, current string, ip int) response {
		return e.do("POST", "/auth/password/change", map[string]string{"currentPassword": current, "newPassword": "Another-Secret-77"},
			append(bearer(access), fromIP(ip)...)...)
	}
	t.Run("account", func(t *testing.T) {
		t.Parallel()
		e := acctEnv(t, map[string]string{"RATE_LIMIT_ACCOUNT": "2/15m"})
		u := rlCreateUser(t, e, "viewer", "")
		access := acctLogin(e, u.Email, rlPassword, "", 1).String("accessToken")
		for i := range 2 {
			expect(t, change(e, access, "Wrong-Password-4", 10+i), http.StatusForbidden, "Current password is incorrect")
		}
		rlExpect429(t, change(e, access, rlPassword, 20), rlLoginRefused, 15*60)
		rlExpect429(t, acctLogin(e, u.Email, rlPassword, "", 21), rlLoginRefused, 0)
	})
	t.Run("login", func(t *testing.T) {
		t.Parallel()
		e := acctEnv(t, map[string]string{"RATE_LIMIT_ACCOUNT": "off", "RATE_LIMIT_LOGIN": "3/15m"})
		u := rlCreateUser(t, e, "viewer", "")
		access := acctLogin(e, u.Email, rlPassword, "", 1).String("accessToken") // one login slot of IP 1
		expect(t, change(e, access, "Wrong-Password-5", 1), http.StatusForbidden, "Current password is incorrect")
		// A refused request or a right password takes nothing.
		expect(t, change(e, access, "", 1), http.StatusBadRequest, "Current password is required")
		expect(t, change(e, access, "Wrong-Password-5", 1), http.StatusForbidden, "Current password is incorrect")
		rlExpect429(t, change(e, access, rlPassword, 1), rlLoginRefused, 15*60)
		rlExpect429(t, acctLogin(e, u.Email, rlPassword, "", 1), rlLoginRefused, 0)
		expect(t, change(e, access, rlPassword, 2), http.StatusNoContent, "")
	})
}

func TestWhenRedisIsDownTheAccountLimiterFailsClosed(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("needs TEST_REDIS_URL: the in-process store cannot fail, so there is no outage to simulate without Redis")
	}
	proxy, proxied := dbtest.ProxyURL(t, redisURL)
	e := acctEnv(t, map[string]string{"REDIS_URL": proxied, "RATE_LIMIT_LOGIN": "off"})
	t.Cleanup(func() { proxy.SetMode(dbtest.Forward) })
	u := rlCreateUser(t, e, "viewer", "")
	device := acctLogin(e, u.Email, rlPassword, "", 1).String("deviceToken")

	proxy.SetMode(dbtest.BlackHole)
	for _, d := range []string{"", device} {
		r := acctLogin(e, u.Email, rlPassword, d, 2)
		expect(t, r, http.StatusServiceUnavailable, "Service unavailable")
		if r.String("accessToken") != "" {
			t.Fatalf("login during the outage answered %s", r.Body)
		}
	}
	proxy.SetMode(dbtest.Forward)
	expect(t, rlWhileUnavailable(2*time.Second, func() response { return acctLogin(e, u.Email, rlPassword, device, 3) }), http.StatusOK, "")
}
