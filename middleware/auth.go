package middleware

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/app/tokens"
	"apisec/models"
)

// callerKey is where RequireAuth stores the verified claims; only CallerFrom
// reads it.
const callerKey = "apisec.caller"

// RequireAuth admits requests with a valid "Authorization: Bearer" access
// token and stores its claims for CallerFrom. A missing or malformed header
// is "Authentication required"; a bad token is "Token expired" or "Invalid
// token", as ts.Verify says.
func RequireAuth(ts *tokens.Service) gin.HandlerFunc {
	if ts == nil {
		panic("middleware.RequireAuth: nil token service")
	}
	return func(c *gin.Context) {
		// More than one Authorization header is ambiguous: proxies and
		// frameworks disagree on which one counts, so none does.
		values := c.Request.Header.Values("Authorization")
		if len(values) != 1 {
			Abort(c, errs.ErrAuthRequired)
			return
		}
		raw, ok := tokens.ParseBearer(values[0])
		if !ok {
			Abort(c, errs.ErrAuthRequired)
			return
		}
		claims, err := ts.Verify(raw)
		if err != nil {
			Abort(c, err) // errs.ErrTokenExpired or errs.ErrInvalidToken
			return
		}
		c.Set(callerKey, claims)
		c.Next()
	}
}

// CallerFrom returns the claims RequireAuth verified for this request.
func CallerFrom(c *gin.Context) (tokens.Claims, bool) {
	v, ok := c.Get(callerKey)
	if !ok {
		return tokens.Claims{}, false
	}
	claims, ok := v.(tokens.Claims)
	return claims, ok
}

// RequireRole admits callers whose role is one of roles; it runs after
// RequireAuth. Unknown role names panic at route setup, where a typo would
// otherwise lock every caller out.
func RequireRole(roles ...models.Role) gin.HandlerFunc {
	if len(roles) == 0 {
		panic("middleware.RequireRole: no roles")
	}
	for _, r := range roles {
		if !r.Valid() {
			panic(fmt.Sprintf("middleware.RequireRole: unknown role %q", r))
		}
	}
	allowed := append([]models.Role(nil), roles...)
	return func(c *gin.Context) {
		caller, ok := CallerFrom(c)
		switch {
		case !ok:
			Abort(c, errs.ErrAuthRequired)
		case !caller.HasRole(allowed...):
			Abort(c, errs.ErrForbidden)
		default:
			c.Next()
		}
	}
}
