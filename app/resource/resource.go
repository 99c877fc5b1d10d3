// Package resource holds what every resource service needs besides its own
// rules: field checks, id checks, the contract's answer for the models'
// named errors, the caller a per-object rule decides on, and cursor pages.
// app/projects is the worked example of using it.
package resource

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"apisec/app/errs"
	"apisec/models"
)

// Caller is who is asking, as the access token says: what a per-object rule
// (the owner if an editor, or any admin) decides on.
type Caller struct {
	ID   string
	Role models.Role
}

// CheckText enforces a length in characters (min 0: optional) and refuses
// invalid UTF-8 and control characters other than newline and tab; the
// message names field.
func CheckText(field, v string, min, max int) error {
	n := utf8.RuneCountInString(v)
	switch {
	case min > 0 && n == 0:
		return errs.New(errs.Invalid, field+" is required")
	case n < min:
		return errs.New(errs.Invalid, fmt.Sprintf("%s must be at least %d characters", field, min))
	case n > max:
		return errs.New(errs.Invalid, fmt.Sprintf("%s must be at most %d characters", field, max))
	case !utf8.ValidString(v):
		return errs.New(errs.Invalid, field+" must be valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return errs.New(errs.Invalid, field+" must not contain control characters")
		}
	}
	return nil
}

// CheckID answers an id that models.NewID cannot have made as the 404 an
// unknown one gets, before any query (a NUL byte is an error on PostgreSQL).
func CheckID(id string) error {
	if !models.ValidID(id) {
		return errs.ErrNotFound
	}
	return nil
}

// ErrCallerGone is what a foreign-key failure on the caller's own id means:
// the account was deleted while its access token was still valid.
var ErrCallerGone = errs.ErrInvalidToken

// Translate gives the models' named errors the contract's answer:
// ErrNotFound is a 404 and ErrForeignKey is onMissingRef, what a reference
// to a missing row means for this write (ErrCallerGone when the only
// reference is the caller's id; nil leaves it an internal error). Other
// errors pass through.
func Translate(err error, onMissingRef error) error {
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrNotFound
	case errors.Is(err, models.ErrForeignKey) && onMissingRef != nil:
		return onMissingRef
	}
	return err
}
