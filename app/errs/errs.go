// Package errs holds the error kinds of the API contract. Services return
// them; the error middleware is the only place that writes them as JSON.
package errs

import (
	"errors"
	"net/http"
	"strconv"
)

// Error is an error the client may see: an HTTP status and the contract's
// message. Anything that is not an *Error is answered as a plain 500.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// New returns an Error with the given status and message.
func New(status int, message string) *Error { return &Error{Status: status, Message: message} }

// BadRequest is a 400 whose message says which rule failed.
func BadRequest(message string) *Error { return New(http.StatusBadRequest, message) }

// The contract's fixed answers.
var (
	ErrAuthRequired        = New(http.StatusUnauthorized, "Authentication required")
	ErrTokenExpired        = New(http.StatusUnauthorized, "Token expired")
	ErrInvalidToken        = New(http.StatusUnauthorized, "Invalid token")
	ErrForbidden           = New(http.StatusForbidden, "Insufficient permissions")
	ErrInvalidCredentials  = New(http.StatusUnauthorized, "Invalid email or password")
	ErrEmailNotVerified    = New(http.StatusForbidden, "Email not verified")
	ErrEmailTaken          = New(http.StatusConflict, "Email already registered")
	ErrInvalidRefreshToken = New(http.StatusUnauthorized, "Invalid refresh token")
	ErrInvalidVerification = New(http.StatusBadRequest, "Invalid or expired verification token")
	ErrInvalidResetToken   = New(http.StatusBadRequest, "Invalid or expired reset token")
	ErrWrongPassword       = New(http.StatusForbidden, "Current password is incorrect")
	ErrTooManyRequests     = New(http.StatusTooManyRequests, "Too many requests")
	ErrInvalidJSON         = New(http.StatusBadRequest, "Invalid JSON body")
	ErrBodyTooLarge        = New(http.StatusRequestEntityTooLarge, "Request body too large")
	ErrNotFound            = New(http.StatusNotFound, "Not found")
	ErrMethodNotAllowed    = New(http.StatusMethodNotAllowed, "Method not allowed")
	ErrUnavailable         = New(http.StatusServiceUnavailable, "Service unavailable")
	ErrInternal            = New(http.StatusInternalServerError, "Internal server error")
)

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// TooManyLoginAttempts is the login limiter's 429; minutes is rounded up by the caller.
func TooManyLoginAttempts(minutes int64) *Error {
	return New(http.StatusTooManyRequests, "Too many login attempts. Try again in "+itoa(minutes)+" minutes.")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
