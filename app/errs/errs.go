// Package errs holds the error kinds of the API contract. Services return
// them; each edge turns a kind into its own terms (middleware into an HTTP
// status, cli into an exit code), so no service knows of either.
package errs

import (
	"errors"
	"strconv"
)

// Kind is what went wrong, as far as the caller is concerned.
type Kind uint8

// The kinds. The zero value is Internal: a kind nobody chose is nobody's fault but ours.
const (
	Internal         Kind = iota
	Invalid               // a bad value; the message says which rule failed
	Unauthenticated       // no, or no valid, credentials
	Forbidden             // valid credentials, not allowed
	NotFound              // no such thing
	MethodNotAllowed      // the thing exists, the operation does not
	Conflict              // it exists already
	TooLarge              // the input is over its size limit
	TooMany               // a rate limit is reached
	Unavailable           // a dependency (database, Redis, bcrypt slots) did not answer in time
)

// Error is an error the client may see: a kind and the contract's message.
// Anything that is not an *Error is answered as Internal, its text logged.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// New returns an Error of the given kind and message.
func New(kind Kind, message string) *Error { return &Error{Kind: kind, Message: message} }

// The contract's fixed answers.
var (
	ErrAuthRequired        = New(Unauthenticated, "Authentication required")
	ErrTokenExpired        = New(Unauthenticated, "Token expired")
	ErrInvalidToken        = New(Unauthenticated, "Invalid token")
	ErrForbidden           = New(Forbidden, "Insufficient permissions")
	ErrInvalidCredentials  = New(Unauthenticated, "Invalid email or password")
	ErrEmailNotVerified    = New(Forbidden, "Email not verified")
	ErrEmailTaken          = New(Conflict, "Email already registered")
	ErrInvalidRefreshToken = New(Unauthenticated, "Invalid refresh token")
	ErrInvalidVerification = New(Invalid, "Invalid or expired verification token")
	ErrInvalidResetToken   = New(Invalid, "Invalid or expired reset token")
	ErrWrongPassword       = New(Forbidden, "Current password is incorrect")
	ErrTooManyRequests     = New(TooMany, "Too many requests")
	ErrInvalidJSON         = New(Invalid, "Invalid JSON body")
	ErrBodyTooLarge        = New(TooLarge, "Request body too large")
	ErrNotFound            = New(NotFound, "Not found")
	ErrMethodNotAllowed    = New(MethodNotAllowed, "Method not allowed")
	ErrUnavailable         = New(Unavailable, "Service unavailable")
	ErrInternal            = New(Internal, "Internal server error")
)

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// TooManyLoginAttempts is the login limiter's refusal; minutes is rounded up by the caller.
func TooManyLoginAttempts(minutes int64) *Error {
	return New(TooMany, "Too many login attempts. Try again in "+strconv.FormatInt(minutes, 10)+" minutes.")
}
