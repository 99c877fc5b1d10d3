package models

import "strings"

// Role is what a signed-in user may do. The roles table holds the same
// names, and users.role references it.
type Role string

// The roles the contract names.
const (
	RoleViewer Role = "viewer" // the default at registration
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

// roles is the one list of roles: validation, messages, CLI help, analytics
// and the rate-limit exemption read it. Adding a role is a line here and a
// migration inserting its name into the roles table (a test checks that the
// two agree); the order is the order messages and help list them in.
var roles = [...]struct {
	role            Role
	rateLimitExempt bool // skips the authenticated (per-user) rate limit
}{
	{RoleViewer, false},
	{RoleEditor, false},
	{RoleAdmin, true}, // the contract exempts admins
}

// Roles returns every role, in the list's order.
func Roles() []Role {
	out := make([]Role, len(roles))
	for i, r := range roles {
		out[i] = r.role
	}
	return out
}

// RoleNames joins the role names with sep: "viewer, editor, admin".
func RoleNames(sep string) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r.role)
	}
	return strings.Join(names, sep)
}

// Valid reports whether r is a listed role.
func (r Role) Valid() bool { return r.index() >= 0 }

// RateLimitExempt reports whether callers with role r skip the per-user
// rate limit.
func (r Role) RateLimitExempt() bool { i := r.index(); return i >= 0 && roles[i].rateLimitExempt }

// index is r's place in roles, or -1. A scan, without allocating: it runs
// on every token verified.
func (r Role) index() int {
	for i, e := range roles {
		if e.role == r {
			return i
		}
	}
	return -1
}
