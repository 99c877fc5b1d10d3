package middleware

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/app/ratelimit"
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
//
// A request that fails takes a slot of policy pays (the client IP's global
// budget); once that is spent, tokens not already in the verified cache get
// pays' 429 before any signature check, so a flood of forged tokens costs a
// peek, not an RSA verification each; past the budget the limiter answers
// the peek from its memory of refusals, not its store. Valid tokens are
// never charged.
func RequireAuth(ts *tokens.Service, ls *ratelimit.Limiters, pays *ratelimit.Policy) gin.HandlerFunc {
	if ts == nil {
		panic("middleware.RequireAuth: nil token service")
	}
	charge := ls.Of(pays)
	return func(c *gin.Context) {
		raw, ok := bearerToken(c)
		if ok {
			if claims, hit := ts.Cached(raw); hit {
				c.Set(callerKey, claims)
				return
			}
		}
		var s ratelimit.Subject
		if charge != nil {
			s = subjectOf(c)
			if res, limited, err := charge.Take(c.Request.Context(), s, 0); err == nil && limited && res.Reached {
				answer(c, ls, pays, res)
				return
			}
		}
		var err error = errs.ErrAuthRequired
		if ok {
			var claims tokens.Claims
			if claims, err = ts.Verify(raw); err == nil {
				c.Set(callerKey, claims)
				return
			}
		}
		if charge != nil {
			res, limited, terr := charge.Take(c.Request.Context(), s, 1)
			switch {
			case terr != nil:
				storeFailed(c, ls, pays, terr)
			case limited:
				answer(c, ls, pays, res)
			}
			if c.IsAborted() {
				return
			}
		}
		Abort(c, err) // errs.ErrAuthRequired, ErrTokenExpired or ErrInvalidToken
	}
}

// bearerToken is the request's one Bearer token. More than one
// Authorization header is ambiguous: proxies and frameworks disagree on
// which one counts, so none does.
func bearerToken(c *gin.Context) (string, bool) {
	values := c.Request.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	return tokens.ParseBearer(values[0])
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
