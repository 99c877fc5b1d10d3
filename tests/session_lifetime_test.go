package tests

import (
	"net/http"
	"testing"
	"time"

	"apisec/app/tokens"
	"apisec/models"
)

// sidOf is the sid claim of an access token.
func sidOf(t testing.TB, token string) string {
	t.Helper()
	_, c := claimsOf(t, token)
	sid, _ := c["sid"].(string)
	return sid
}

func TestEachLoginIsASessionWhoseSidEveryRefreshKeeps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "sid@example.com", goodPassword)
	phone := login(t, e, "sid@example.com", goodPassword)
	laptop := login(t, e, "sid@example.com", goodPassword)
	sid := sidOf(t, phone.Access)
	if !models.ValidID(sid) || sidOf(t, laptop.Access) == sid {
		t.Fatalf("sids %q and %q: want two session ids", sid, sidOf(t, laptop.Access))
	}
	next := phone
	for range 3 {
		e.Clock.Advance(time.Minute)
		next = refresh(t, e, next.Refresh)
		if got := sidOf(t, next.Access); got != sid {
			t.Fatalf("sid after a refresh %q, want the login's %q", got, sid)
		}
	}
	expect(t, me(e, next.Access), http.StatusOK, "")
}

// A session rotated every eight minutes still ends an hour after its login
// with SESSION_MAX_AGE=1h: the last refreshes answer shorter lifetimes, no
// token points past the end, and from the end on nothing of it works.
func TestNoRefreshSucceedsPastTheSessionMaxAgeHoweverOftenItRotated(t *testing.T) {
	t.Parallel()
	vars := unlimited()
	vars["SESSION_MAX_AGE"] = "1h"
	e := newEnv(t, vars)
	registerAndVerify(t, e, "maxage@example.com", goodPassword)
	start := e.Clock.Now()
	end := start.Add(time.Hour)
	s := login(t, e, "maxage@example.com", goodPassword)
	for e.Clock.Now().Add(8 * time.Minute).Before(end) {
		e.Clock.Advance(8 * time.Minute)
		r := e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh})
		expect(t, r, http.StatusOK, "")
		s = sessionOf(t, r)
		left := end.Sub(e.Clock.Now())
		if want := int64(min(15*time.Minute, left) / time.Second); int64(r.JSON["expiresIn"].(float64)) != want {
			t.Fatalf("at +%v: expiresIn %v, want %d", e.Clock.Now().Sub(start), r.JSON["expiresIn"], want)
		}
		if _, c := claimsOf(t, s.Access); int64(c["exp"].(float64)) > end.Unix() {
			t.Fatalf("access token exp %v past the session's end %v", c["exp"], end.Unix())
		}
		rt, err := models.RefreshTokenByHash(e.App.DB, tokens.HashOpaqueToken(s.Refresh))
		if err != nil || rt.ExpiresAt.After(end) {
			t.Fatalf("refresh token expires %v (%v), past the session's end %v", rt.ExpiresAt, err, end)
		}
	}
	// A second before the end the session still refreshes, for one second.
	e.Clock.Set(end.Add(-time.Second))
	r := e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh})
	expect(t, r, http.StatusOK, "")
	if r.JSON["expiresIn"] != float64(1) {
		t.Fatalf("expiresIn a second before the end: %v", r.JSON["expiresIn"])
	}
	s = sessionOf(t, r)
	e.Clock.Set(end)
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	expect(t, me(e, s.Access), http.StatusUnauthorized, "Token expired")
	// A new login is a new session with its own hour.
	fresh := login(t, e, "maxage@example.com", goodPassword)
	e.Clock.Advance(59 * time.Minute)
	refresh(t, e, fresh.Refresh)
}

func TestASessionMaxAgeBelowTheAccessTokenLifetimeShortensTheFirstToken(t *testing.T) {
	t.Parallel()
	vars := unlimited()
	vars["SESSION_MAX_AGE"] = "10m"
	e := newEnv(t, vars)
	registerAndVerify(t, e, "short@example.com", goodPassword)
	r := e.do("POST", "/auth/login", map[string]string{"email": "short@example.com", "password": goodPassword})
	expect(t, r, http.StatusOK, "")
	if r.JSON["expiresIn"] != float64(600) {
		t.Fatalf("expiresIn %v, want 600", r.JSON["expiresIn"])
	}
	s := sessionOf(t, r)
	e.Clock.Advance(10 * time.Minute)
	expect(t, me(e, s.Access), http.StatusUnauthorized, "Token expired")
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
}

// The end is computed from the login time, not stored: an instance started
// with a lower SESSION_MAX_AGE ends the sessions already open by it too.
func TestALowerSessionMaxAgeAlsoEndsTheSessionsAlreadyOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "lowered@example.com", goodPassword)
	s := login(t, e, "lowered@example.com", goodPassword)
	restarted := newPeer(t, e, map[string]string{"SESSION_MAX_AGE": "1h"})
	e.Clock.Advance(time.Hour)
	expect(t, restarted.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	refresh(t, e, s.Refresh) // the token itself is live: only the new age ended it
}
