package tests

import (
	"net/http"
	"testing"
)

// Account pre-hijacking: someone registers another person's address first.
// The owner's registration answers as for a new address, its link makes the
// owner's password the account's, and the first registrant's password and
// link are then worth nothing.
func TestRegisteringAnAddressFirstGainsNothingOnceItsOwnerRegisters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	const victim, attackerPassword, ownerPassword = "victim@example.com", "Attacker-Pass-11", "Owner-Secret-22"
	fresh := e.do("POST", "/auth/register", map[string]string{"email": "fresh@example.com", "password": goodPassword})
	_, attackerLink := register(t, e, victim, attackerPassword)

	// Exactly as for a new address: status, fields, and a createdAt of now.
	r := e.do("POST", "/auth/register", map[string]string{"email": victim, "password": ownerPassword})
	expect(t, r, http.StatusCreated, "")
	user, _ := r.JSON["user"].(map[string]any)
	freshUser, _ := fresh.JSON["user"].(map[string]any)
	for k := range freshUser {
		if _, ok := user[k]; !ok {
			t.Fatalf("re-registration lacks %q: %s", k, r.Body)
		}
	}
	if user["emailVerified"] != false || user["createdAt"] != freshUser["createdAt"] || user["role"] != "viewer" {
		t.Fatalf("re-registration answered %s, a new address %s", r.Body, fresh.Body)
	}
	ownerLink := r.String("verificationToken")

	expect(t, e.do("GET", "/auth/verify?token="+ownerLink, nil), http.StatusOK, "")
	expect(t, e.do("GET", "/auth/verify?token="+attackerLink, nil), http.StatusBadRequest, "Invalid or expired verification token")
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": victim, "password": attackerPassword}),
		http.StatusUnauthorized, "Invalid email or password")
	login(t, e, victim, ownerPassword)
	// Now the address is taken.
	expect(t, e.do("POST", "/auth/register", map[string]string{"email": victim, "password": attackerPassword}),
		http.StatusConflict, "Email already registered")
}

// The owner who only asks for a reset gets in too, and the first
// registrant's link, followed later (a mail scanner), brings nothing back.
func TestAResetVerifiesAnUnverifiedAccountAndVoidsItsOlderLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	const victim, attackerPassword, ownerPassword = "victim2@example.com", "Attacker-Pass-11", "Owner-Secret-22"
	_, attackerLink := register(t, e, victim, attackerPassword)
	r := e.do("POST", "/auth/password/forgot", map[string]string{"email": victim})
	expect(t, r, http.StatusAccepted, "")
	expect(t, e.do("POST", "/auth/password/reset", map[string]string{"token": r.String("resetToken"), "newPassword": ownerPassword}),
		http.StatusNoContent, "")
	expect(t, e.do("GET", "/auth/verify?token="+attackerLink, nil), http.StatusBadRequest, "Invalid or expired verification token")
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": victim, "password": attackerPassword}),
		http.StatusUnauthorized, "Invalid email or password")
	if s := login(t, e, victim, ownerPassword); s.Access == "" {
		t.Fatal("no access token after the reset")
	}
}
