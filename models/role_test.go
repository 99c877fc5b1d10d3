package models_test

import (
	"testing"

	"apisec/models"
)

func TestTheRoleListDecidesValidityNamesAndTheRateLimitExemption(t *testing.T) {
	t.Parallel()
	if got := models.RoleNames(", "); got != "viewer, editor, admin" {
		t.Errorf("RoleNames = %q", got)
	}
	for _, r := range models.Roles() {
		if !r.Valid() {
			t.Errorf("listed role %q is not valid", r)
		}
		if got, want := r.RateLimitExempt(), r == models.RoleAdmin; got != want {
			t.Errorf("%q.RateLimitExempt() = %v, want %v (the contract exempts admins only)", r, got, want)
		}
	}
	for _, r := range []models.Role{"", "root", "Admin", "admin ", "viewer\x00"} {
		if r.Valid() || r.RateLimitExempt() {
			t.Errorf("unlisted role %q is valid or exempt", r)
		}
	}
}
