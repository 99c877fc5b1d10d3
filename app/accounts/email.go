package accounts

import (
	"net/http"
	netmail "net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"apisec/app/errs"
	"apisec/models"
)

// Limits on an address (RFC 5321: 64-octet local part, 254-octet path).
const (
	maxEmailBytes     = 254
	maxLocalPartBytes = 64
)

// The field-rule violations; each 400 says which rule failed.
var (
	ErrEmailRequired    = errs.BadRequest("Email is required")
	ErrEmailInvalid     = errs.BadRequest("Email must be a valid address")
	ErrEmailTooLong     = errs.BadRequest("Email must be at most 254 characters long")
	ErrEmailLocalLong   = errs.BadRequest("Email must have at most 64 characters before the @")
	ErrEmailControlChar = errs.BadRequest("Email must not contain control characters")
	ErrEmailDomain      = errs.BadRequest("Email domain must contain a dot")
	ErrRoleInvalid      = errs.BadRequest("Role must be one of " + models.RoleNames(", "))
	ErrPlanInvalid      = errs.BadRequest("Plan must be 1 to 64 characters of a-z, 0-9, _ and -")

	// ErrUserNotFound answers an operator command naming an unknown address.
	ErrUserNotFound = errs.New(http.StatusNotFound, "no user with that email")
)

// normalizeEmail checks a new or looked-up address and returns the form it
// is stored and compared in: trimmed and lower-case. Only a bare address is
// accepted ("a@example.com", not "A <a@example.com>" or one with comments),
// so what is stored is exactly what mail is sent to.
func normalizeEmail(raw string) (string, error) {
	email := strings.TrimSpace(raw)
	switch {
	case email == "":
		return "", ErrEmailRequired
	case len(email) > maxEmailBytes:
		return "", ErrEmailTooLong
	case !utf8.ValidString(email):
		return "", ErrEmailInvalid
	case strings.IndexFunc(email, unicode.IsControl) >= 0:
		return "", ErrEmailControlChar
	// Non-ASCII must be letters, marks or digits (jürgen@bücher.example): no
	// format characters (RTL override, zero width), emoji, or the U+FFFD that
	// encoding/json puts in place of invalid UTF-8.
	case strings.IndexFunc(email, func(r rune) bool {
		return r >= utf8.RuneSelf && !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r)
	}) >= 0:
		return "", ErrEmailInvalid
	}
	addr, err := netmail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", ErrEmailInvalid
	}
	at := strings.LastIndexByte(email, '@')
	local, domain := email[:at], email[at+1:]
	switch {
	case len(local) > maxLocalPartBytes:
		return "", ErrEmailLocalLong
	case strings.HasPrefix(domain, "["): // a domain literal, [192.0.2.1]
		return "", ErrEmailInvalid
	case !strings.Contains(domain, "."):
		return "", ErrEmailDomain
	}
	return strings.ToLower(email), nil
}

// checkRole refuses anything but the listed roles.
func checkRole(role models.Role) error {
	if !role.Valid() {
		return ErrRoleInvalid
	}
	return nil
}

// checkPlan applies models.ValidPlan.
func checkPlan(plan string) error {
	if !models.ValidPlan(plan) {
		return ErrPlanInvalid
	}
	return nil
}
