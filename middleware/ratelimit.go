package middleware

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ulule/limiter/v3"

	"apisec/app/errs"
	"apisec/app/ratelimit"
)

// Rate-limit response headers, as the contract names them.
const (
	headerLimit      = "X-RateLimit-Limit"
	headerRemaining  = "X-RateLimit-Remaining"
	headerReset      = "X-RateLimit-Reset"
	headerRetryAfter = "Retry-After"
)

// LimitGlobal applies the global limiter, keyed by client IP (IPv6 by /64).
// If the store fails the request goes through: an outage of Redis should not
// take the API down with it. The client IP is only as trustworthy as the
// engine's SetTrustedProxies.
func LimitGlobal(ls *ratelimit.Limiters) gin.HandlerFunc {
	if ls == nil || ls.Global == nil {
		return func(*gin.Context) {}
	}
	return func(c *gin.Context) {
		limit(c, ls, ls.Global, "global", ratelimit.ClientKey(c.ClientIP()), false, tooManyRequests)
	}
}

// LimitLogin applies the login limiter, keyed by client IP, and answers
// "Too many login attempts. Try again in N minutes." If the store fails it
// answers 503: brute-force protection never silently switches off.
func LimitLogin(ls *ratelimit.Limiters) gin.HandlerFunc {
	if ls == nil || ls.Login == nil {
		return func(*gin.Context) {}
	}
	return func(c *gin.Context) {
		limit(c, ls, ls.Login, "login", ratelimit.ClientKey(c.ClientIP()), true, tooManyLogins)
	}
}

// LimitUser applies the caller's plan limit, or the authenticated limit
// for an unlisted plan, keyed by user id; admins are not limited. It belongs
// after the authentication middleware and does nothing without a caller.
// Like the global limiter, it lets requests through when the store fails.
func LimitUser(ls *ratelimit.Limiters) gin.HandlerFunc {
	return func(c *gin.Context) {
		caller, ok := CallerFrom(c)
		if !ok {
			return
		}
		l := ls.ForUser(caller.Role, caller.Plan)
		if l == nil {
			return
		}
		name := "authenticated" // names only the log line of a store failure
		if l != ls.Authenticated {
			name = "plan"
		}
		limit(c, ls, l, name, caller.Subject, false, tooManyRequests)
	}
}

// limit takes one slot of l for key, sets the rate-limit headers and aborts
// with refuse's error when the window is full. A later limiter in the chain
// overwrites the headers, so the client sees the most specific one.
func limit(c *gin.Context, ls *ratelimit.Limiters, l *limiter.Limiter, name, key string,
	failClosed bool, refuse func(retryAfter int64, period time.Duration) error) {
	lc, err := l.Get(c.Request.Context(), key)
	if err != nil {
		if c.Request.Context().Err() != nil {
			// The client has gone; that is no store outage to log or count.
			Abort(c, errs.ErrUnavailable)
			return
		}
		if failClosed {
			logger(c).Error("rate limit store failed; refusing the request", "limiter", name, "err", err)
			Abort(c, errs.ErrUnavailable)
			return
		}
		ls.FailedOpen.Add(1)
		logger(c).Warn("rate limit store failed; letting the request through", "limiter", name, "err", err)
		return
	}
	h := c.Writer.Header()
	h.Set(headerLimit, strconv.FormatInt(lc.Limit, 10))
	h.Set(headerRemaining, strconv.FormatInt(lc.Remaining, 10))
	h.Set(headerReset, strconv.FormatInt(lc.Reset, 10))
	if lc.Reached {
		wait := retryAfter(lc.Reset, ls.Now())
		h.Set(headerRetryAfter, strconv.FormatInt(wait, 10))
		Abort(c, refuse(wait, l.Rate.Period))
	}
}

// retryAfter is the whole seconds from now until reset, at least 1 so a
// client never retries at once.
func retryAfter(reset int64, now time.Time) int64 {
	wait := time.Unix(reset, 0).Sub(now)
	return max(int64((wait+time.Second-1)/time.Second), 1)
}

func tooManyRequests(int64, time.Duration) error { return errs.ErrTooManyRequests }

// tooManyLogins names the minutes until a slot frees, rounded up. Reset is
// itself rounded up to a whole second, which could turn a full 15-minute
// wait into "16 minutes"; no wait is longer than the window, so cap it there.
func tooManyLogins(retryAfter int64, period time.Duration) error {
	minutes := (retryAfter + 59) / 60
	return errs.TooManyLoginAttempts(min(minutes, int64((period+time.Minute-1)/time.Minute)))
}
