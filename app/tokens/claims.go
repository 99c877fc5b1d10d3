package tokens

import "time"

// Claims is what a verified access token says about its caller.
type Claims struct {
	Subject   string    // user id
	Role      string    // viewer, editor or admin, as in the database at issue time
	Plan      string    // billing plan, read by the per-plan rate limits
	ID        string    // jti
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
}
