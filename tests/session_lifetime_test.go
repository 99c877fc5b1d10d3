package tests

import (
	"net/http"
	"testing"
	"time"

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
