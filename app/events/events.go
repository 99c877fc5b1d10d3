// Package events writes security events: log lines with an `event`
// attribute an operator can search and alert on, each with the request ID,
// client IP and user id where known. An event line never carries a
// password, token or hash; callers pass ids only.
package events

import (
	"context"
	"log/slog"
)

// Event is a security event's name.
type Event string

// The contract's security events.
const (
	LoginFailed     Event = "login.failed"     // wrong password or unknown address
	LoginThrottled  Event = "login.throttled"  // refused by the login or account limiter
	RefreshReuse    Event = "refresh.reuse"    // a spent refresh token again: its session is revoked
	SessionRevoked  Event = "session.revoked"  // logout or logout-all
	PasswordChanged Event = "password.changed" // every session of the user ended
	PasswordReset   Event = "password.reset"   // every session of the user ended
	RoleChanged     Event = "role.changed"     // every session of the user ended
	UserDeleted     Event = "user.deleted"
)

var messages = map[Event]string{
	LoginFailed:     "login failed",
	LoginThrottled:  "login throttled",
	RefreshReuse:    "spent refresh token reused; session revoked",
	SessionRevoked:  "session revoked",
	PasswordChanged: "password changed",
	PasswordReset:   "password reset",
	RoleChanged:     "role changed",
	UserDeleted:     "user deleted",
}

// Request is what an event knows of the HTTP request it happened in.
type Request struct {
	ID       string
	ClientIP string
}

type requestKey struct{}

// WithRequest returns ctx carrying r for the events logged under it.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// Log writes event e to log at Warn for the signs of an attack (failed,
// throttled, reuse) and Info otherwise, with the request of ctx, userID
// (omitted when empty) and attrs.
func Log(ctx context.Context, log *slog.Logger, e Event, userID string, attrs ...slog.Attr) {
	level := slog.LevelInfo
	switch e {
	case LoginFailed, LoginThrottled, RefreshReuse:
		level = slog.LevelWarn
	}
	if !log.Enabled(ctx, level) {
		return
	}
	all := make([]slog.Attr, 0, 4+len(attrs))
	all = append(all, slog.String("event", string(e)))
	if r, ok := ctx.Value(requestKey{}).(Request); ok {
		all = append(all, slog.String("request_id", r.ID), slog.String("client_ip", r.ClientIP))
	}
	if userID != "" {
		all = append(all, slog.String("user_id", userID))
	}
	log.LogAttrs(ctx, level, messages[e], append(all, attrs...)...)
}
