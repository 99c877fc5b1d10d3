package middleware

import (
	"context"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/app/metrics"
	"apisec/app/ratelimit"
)

// Rate-limit response headers, as the contract names them: the X-RateLimit
// trio and the IETF draft's RateLimit-Policy and RateLimit.
const (
	headerLimit      = "X-RateLimit-Limit"
	headerRemaining  = "X-RateLimit-Remaining"
	headerReset      = "X-RateLimit-Reset"
	headerPolicy     = "RateLimit-Policy"
	headerRateLimit  = "RateLimit"
	headerRetryAfter = "Retry-After"
)

// Limit applies policy p: it takes one slot of the budget p's key function
// picks, sets the rate-limit headers and aborts with p's refusal when the
// window is full. When the store fails it lets the request through, or
// answers 503 for a fail-closed policy. A later limiter in the chain
// overwrites the headers, so the client sees the most specific one. The
// client IP is only as trustworthy as the engine's SetTrustedProxies.
func Limit(ls *ratelimit.Limiters, p *ratelimit.Policy) gin.HandlerFunc {
	l := ls.Of(p)
	if l == nil {
		return func(*gin.Context) {}
	}
	return func(c *gin.Context) { take(c, ls, l) }
}

// CountFailures is Limit for policies that count only failures: the slot a
// request takes before its work (so parallel requests cannot slip past the
// limit) is given back unless the answer has status failed.
func CountFailures(ls *ratelimit.Limiters, p *ratelimit.Policy, failed int) gin.HandlerFunc {
	l := ls.Of(p)
	if l == nil {
		return func(*gin.Context) {}
	}
	l.GivesBack()
	return func(c *gin.Context) {
		res, limited := take(c, ls, l)
		if !limited || c.IsAborted() {
			return
		}
		c.Next()
		if c.Writer.Status() != failed {
			// The answer is written; the client need not wait for this.
			if err := res.Release(context.WithoutCancel(c.Request.Context())); err != nil {
				logger(c).Warn("rate limit slot not given back", "limiter", p.Name, "err", err)
			}
		}
	}
}

// take spends one slot of l and answers for it; limited is false when the
// request was not limited by l or its store failed.
func take(c *gin.Context, ls *ratelimit.Limiters, l *ratelimit.Limiter) (ratelimit.Result, bool) {
	res, limited, err := l.Take(c.Request.Context(), subjectOf(c), 1)
	switch {
	case err != nil:
		storeFailed(c, ls, l.Policy, err)
		return res, false
	case limited:
		answer(c, ls, l.Policy, res)
	}
	return res, limited
}

// subjectOf is what the key functions may key on: the client IP and, after
// RequireAuth, the caller.
func subjectOf(c *gin.Context) ratelimit.Subject {
	s := ratelimit.Subject{ClientIP: c.ClientIP()}
	if caller, ok := CallerFrom(c); ok {
		s.UserID, s.Role, s.Plan = caller.Subject, caller.Role, caller.Plan
	}
	if a, ok := c.Get(accountKey); ok {
		s.Account, s.Device = a.(account).name, a.(account).device
	}
	return s
}

// accountKey is where Account stores what it resolved.
const accountKey = "apisec.account"

type account struct{ name, device string }

// AccountResolver names the account a request checks a password for and
// the id of a valid device token for it ("" for none).
type AccountResolver func(c *gin.Context) (account, device string, err error)

// Account resolves the account for the limiters that key on it
// (ratelimit.ByAccount, ByDevice); it runs before them.
func Account(resolve AccountResolver) gin.HandlerFunc {
	return func(c *gin.Context) {
		name, device, err := resolve(c)
		if err != nil {
			Abort(c, err)
			return
		}
		c.Set(accountKey, account{name, device})
	}
}

// storeFailed applies p's outage rule.
func storeFailed(c *gin.Context, ls *ratelimit.Limiters, p *ratelimit.Policy, err error) {
	switch {
	case c.Request.Context().Err() != nil:
		// The client has gone; that is no store outage to log or count.
		Abort(c, errs.ErrUnavailable)
	case p.FailClosed:
		ls.Metrics.Decision(p.Name, metrics.FailedClosed)
		logger(c).Error("rate limit store failed; refusing the request", "limiter", p.Name, "err", err)
		Abort(c, errs.ErrUnavailable)
	default:
		ls.FailedOpen.Add(1)
		ls.Metrics.Decision(p.Name, metrics.FailedOpen)
		if !ratelimit.IsOpen(err) { // an open breaker has said so already
			logger(c).Warn("rate limit store failed; letting the request through", "limiter", p.Name, "err", err)
		}
	}
}

// answer sets the headers of res and refuses the request when it was. It
// is called once per decision, so it counts them.
func answer(c *gin.Context, ls *ratelimit.Limiters, p *ratelimit.Policy, res ratelimit.Result) {
	now := ls.Now()
	wait := res.WaitSeconds(now)
	remaining := strconv.FormatInt(res.Remaining, 10)
	h := c.Writer.Header()
	h.Set(headerLimit, strconv.FormatInt(res.Limit, 10))
	h.Set(headerRemaining, remaining)
	h.Set(headerReset, strconv.FormatInt(res.ResetUnix(now), 10))
	name := strconv.Quote(res.Name)
	h.Set(headerPolicy, name+";q="+strconv.FormatInt(res.Limit, 10)+";w="+strconv.FormatInt(int64(res.Window.Seconds()), 10))
	h.Set(headerRateLimit, name+";r="+remaining+";t="+strconv.FormatInt(wait, 10))
	if !res.Reached {
		ls.Metrics.Decision(p.Name, metrics.Allowed)
	} else {
		ls.Metrics.Decision(p.Name, metrics.Limited)
		limitedLogin(c, ls.Metrics, p.Name)
		wait = max(wait, 1) // never "retry at once"
		h.Set(headerRetryAfter, strconv.FormatInt(wait, 10))
		Abort(c, p.Refuse(time.Duration(wait)*time.Second))
	}
}
