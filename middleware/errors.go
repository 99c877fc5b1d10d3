// Package middleware holds the Gin middleware of the API: request IDs,
// logging, recovery, body limits, authentication, roles, rate limits, and the
// one place that turns errors into the contract's JSON.
package middleware

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/db"
)

// statusOf is the one table from error kinds to HTTP statuses; a kind it
// lacks is answered 500.
var statusOf = map[errs.Kind]int{
	errs.Internal:         http.StatusInternalServerError,
	errs.Invalid:          http.StatusBadRequest,
	errs.Unauthenticated:  http.StatusUnauthorized,
	errs.Forbidden:        http.StatusForbidden,
	errs.NotFound:         http.StatusNotFound,
	errs.MethodNotAllowed: http.StatusMethodNotAllowed,
	errs.Conflict:         http.StatusConflict,
	errs.TooLarge:         http.StatusRequestEntityTooLarge,
	errs.TooMany:          http.StatusTooManyRequests,
	errs.Unavailable:      http.StatusServiceUnavailable,
}

// Abort answers err and stops the chain. An *errs.Error is answered with its
// kind's status and its message; anything else is logged with the request
// ID and answered as a plain 500, so internal text never reaches the client.
func Abort(c *gin.Context, err error) {
	e, ok := errs.As(err)
	switch {
	case ok:
	case db.IsUnavailable(err):
		logger(c).Error("storage unavailable", "err", err)
		e = errs.ErrUnavailable
	default:
		logger(c).Error("request failed", "err", err)
		e = errs.ErrInternal
	}
	if e.Kind == errs.Unauthenticated {
		c.Header("WWW-Authenticate", "Bearer")
	}
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	c.AbortWithStatusJSON(status, gin.H{"error": e.Message})
}

// Handler is a Gin handler that returns its answer instead of writing it:
// a status and a body to encode as JSON (nil for none), or an error.
type Handler func(c *gin.Context) (status int, body any, err error)

// Handle adapts h to Gin: errors go through Abort, answers are written here.
func Handle(h Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		status, body, err := h(c)
		if err != nil {
			Abort(c, err)
			return
		}
		switch b := body.(type) {
		case nil:
			c.Status(status)
		case RawJSON:
			c.Data(status, "application/json; charset=utf-8", b)
		default:
			c.JSON(status, b)
		}
	}
}

// RawJSON is a body already encoded, e.g. a constant answer on a hot path;
// Handle writes it as it is.
type RawJSON []byte

// logger returns the logger set by the logging middleware, tagged with the
// request ID. It is built only when something is logged, off the hot path.
func logger(c *gin.Context) *slog.Logger {
	return baseLogger(c).With("request_id", RequestIDFrom(c))
}

// baseLogger is the logging middleware's logger, untagged.
func baseLogger(c *gin.Context) *slog.Logger {
	l, _ := c.Get(loggerKey)
	if sl, _ := l.(*slog.Logger); sl != nil {
		return sl
	}
	return slog.Default()
}

const loggerKey = "apisec.logger"
