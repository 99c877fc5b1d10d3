package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
)

// MaxBodyBytes bounds every request body (the contract's 1 MiB).
const MaxBodyBytes = 1 << 20

const requestIDHeader = "X-Request-ID"

// RequestID takes a well-formed X-Request-ID from the client or makes one,
// and echoes it, so a client's report can be matched to the server's log.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Header(requestIDHeader, id)
		c.Set(requestIDKey, id)
		c.Next()
	}
}

// RequestIDFrom returns the request's ID.
func RequestIDFrom(c *gin.Context) string { return c.GetString(requestIDKey) }

const requestIDKey = "apisec.request_id"

// validRequestID accepts up to 64 of [A-Za-z0-9._-], so a hostile header
// cannot forge log lines or carry a payload.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Logger writes one structured line per request. It logs the path without
// the query string (tokens travel there, e.g. /auth/verify?token=) and no
// headers or bodies, so no password, token or Authorization value is logged.
// Nothing is built for a line the level filters out: this runs on every
// request.
func Logger(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Set(loggerKey, log)
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		ctx := c.Request.Context()
		if !log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", RequestIDFrom(c)),
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("client_ip", c.ClientIP()),
			slog.Int("bytes", max(c.Writer.Size(), 0)), // -1 when nothing was written
		}
		if caller, ok := CallerFrom(c); ok {
			attrs = append(attrs, slog.String("user_id", caller.Subject))
		}
		log.LogAttrs(ctx, level, "request", attrs...)
	}
}

// Recover answers a panic with a plain 500 and logs the stack; the stack
// never reaches the client.
func Recover() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(rec)
			}
			logger(c).Error("panic", "panic", rec, "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				Abort(c, errs.ErrInternal)
			} else {
				c.Abort()
			}
		}()
		c.Next()
	}
}

// LimitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, and while reading otherwise (see handlers' JSON binding).
func LimitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > MaxBodyBytes {
			Abort(c, errs.ErrBodyTooLarge)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
		c.Next()
	}
}

// NoStore keeps answers out of caches: they carry tokens and account data
// (RFC 6749 5.1). A handler may override it, as the JWK Set does.
func NoStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}

// NotFound answers an unknown route in the contract's JSON.
func NotFound(c *gin.Context) { Abort(c, errs.ErrNotFound) }

// MethodNotAllowed answers a known route with the wrong method.
func MethodNotAllowed(c *gin.Context) { Abort(c, errs.ErrMethodNotAllowed) }

// IsBodyTooLarge reports whether err came from the LimitBody reader.
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
