package tokens

import (
	"slices"
	"time"

	"apisec/models"
)

// Claims is what a verified access token says about its caller.
type Claims struct {
	Subject   string      // user id
	Session   string      // sid: the login (refresh-token family) the token was issued for
	Role      models.Role // checked on verification; as in the database at issue time
	Plan      string      // billing plan, read by the per-plan rate limits
	ID        string      // jti
	IssuedAt  time.Time   // iat
	ExpiresAt time.Time   // exp
}

// HasRole reports whether the caller's role is one of roles.
func (c Claims) HasRole(roles ...models.Role) bool {
	return slices.Contains(roles, c.Role)
}
