package middleware

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/events"
	"apisec/app/metrics"
)

// Metrics counts every answered request by method, route pattern and
// status (c.FullPath: "" for no route, which m counts as metrics.Unmatched,
// so client-chosen paths never become label values). It goes first, so the
// time covers the whole chain.
func Metrics(m *metrics.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		m.Request(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start).Seconds())
	}
}

// Audit puts the request ID and client IP in the request's context, for the
// security events the services log. Only routes that may log one need it:
// it costs a context per request.
func Audit() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request = c.Request.WithContext(events.WithRequest(c.Request.Context(), requestOf(c)))
	}
}

func requestOf(c *gin.Context) events.Request {
	return events.Request{ID: RequestIDFrom(c), ClientIP: c.ClientIP()}
}

// LoginAttempt marks a login: a refusal by a limiter after it (the login
// and account limiters) is a throttled login.
func LoginAttempt() gin.HandlerFunc {
	return func(c *gin.Context) { c.Set(loginKey, true) }
}

const loginKey = "apisec.login"

// limitedLogin counts and logs a login that limiter refused.
func limitedLogin(c *gin.Context, m *metrics.Metrics, limiter string) {
	if _, ok := c.Get(loginKey); !ok {
		return
	}
	m.Login(metrics.LoginThrottled)
	events.Log(events.WithRequest(c.Request.Context(), requestOf(c)), baseLogger(c), events.LoginThrottled, "", slog.String("limiter", limiter))
}
