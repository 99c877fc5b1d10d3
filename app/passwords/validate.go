// Package passwords holds the password rules of the API contract and the
// bcrypt hasher that every password check goes through.
package passwords

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"apisec/app/errs"
)

// MinLength is the fewest characters a password may have, counted as a user
// sees them: grapheme clusters of its NFC form (see hasGraphemes).
const MinLength = 10

// MaxBytes is bcrypt's input limit: it ignores everything past 72 bytes, so
// a longer password would silently be truncated. It applies to the NFC form,
// the bytes that are hashed.
const MaxBytes = 72

// The rule violations, in the order Validate checks them. Each is a 400 whose
// message says which rule failed.
var (
	ErrRequired    = errs.New(errs.Invalid, "Password is required")
	ErrInvalidUTF8 = errs.New(errs.Invalid, "Password must be valid UTF-8 text")
	ErrControlChar = errs.New(errs.Invalid, "Password must not contain control characters")
	ErrInvisible   = errs.New(errs.Invalid, "Password must not contain invisible or format characters")
	ErrTooShort    = errs.New(errs.Invalid, "Password must be at least 10 characters long")
	ErrTooLong     = errs.New(errs.Invalid, "Password must be at most 72 bytes long")
	ErrNoUpper     = errs.New(errs.Invalid, "Password must contain an upper-case letter")
	ErrNoLower     = errs.New(errs.Invalid, "Password must contain a lower-case letter")
	ErrNoDigit     = errs.New(errs.Invalid, "Password must contain a digit")
	ErrCommon      = errs.New(errs.Invalid, "Password is too common; choose a less common one")
)

// Validate checks a new password against the contract's rules and returns
// the first one it breaks, always in the same order, or nil.
func Validate(password string) error {
	if password == "" {
		return ErrRequired
	}
	// Encoding first: counting characters of malformed text means nothing,
	// and control characters (NUL above all) break storage, logs and the
	// forms users type into. encoding/json turns invalid bytes and lone
	// surrogates into U+FFFD, so that character counts as invalid too.
	if !utf8.ValidString(password) || strings.ContainsRune(password, utf8.RuneError) {
		return ErrInvalidUTF8
	}
	// Every rule below sees what will be hashed; invisible characters would
	// pad the length rule ("Aa1" + seven U+200B) and dodge the common list.
	password = Normalize(password)
	var upper, lower, digit bool
	for _, r := range password {
		switch {
		case unicode.IsControl(r):
			return ErrControlChar
		case invisible(r):
			return ErrInvisible
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	switch {
	case !hasGraphemes(password, MinLength):
		return ErrTooShort
	case len(password) > MaxBytes:
		return ErrTooLong
	case !upper:
		return ErrNoUpper
	case !lower:
		return ErrNoLower
	case !digit:
		return ErrNoDigit
	case IsCommon(password):
		return ErrCommon
	}
	return nil
}
