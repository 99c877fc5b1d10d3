package tests

import (
	"net/http"
	"testing"
	"time"
)

// MAIL_COOLDOWN: one resend-verification and one reset e-mail per address
// per cooldown; the answers never change.
func TestMailCooldownHoldsBackRepeatsWithoutChangingTheAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	unverified, verified := "cool-"+randomHex(t, 3)+"@example.test", "cool-"+randomHex(t, 3)+"@example.test"
	expect(t, e.do("POST", "/auth/register", map[string]string{"email": unverified, "password": goodPassword}), http.StatusCreated, "")
	registerAndVerify(t, e, verified, goodPassword)
	resend := func() response { return e.do("POST", "/auth/verify/resend", map[string]string{"email": unverified}) }
	forgot := func() response { return e.do("POST", "/auth/password/forgot", map[string]string{"email": verified}) }
	mailed := func(addr string, want int) {
		t.Helper()
		flushMail(e)
		if got := mailedTo(e, addr); got != want {
			t.Fatalf("%d e-mails to %s, want %d", got, addr, want)
		}
	}
	first := [2]response{resend(), forgot()}
	mailed(unverified, 2) // registration, then the first resend: registration is not held
	verifiedBefore := mailedTo(e, verified)
	for range 3 {
		e.Clock.Advance(10 * time.Second)
		for i, r := range [2]response{resend(), forgot()} {
			// (Outside production a mailed token is also returned; that
			// development aid is the only difference.)
			if r.Status != first[i].Status || r.String("message") != first[i].String("message") {
				t.Fatalf("held-back answer %d %s, want %d %s", r.Status, r.Body, first[i].Status, first[i].Body)
			}
		}
	}
	mailed(unverified, 2)
	mailed(verified, verifiedBefore)

	e.Clock.Advance(30 * time.Second) // a minute since the first
	resend()
	forgot()
	mailed(unverified, 3)
	mailed(verified, verifiedBefore+1)
}
