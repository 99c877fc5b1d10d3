package accounts

import (
	netmail "net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"apisec/app/errs"
	"apisec/models"
)

// Limits on an address (RFC 5321: 64-octet local part, 254-octet path).
const (
	maxEmailBytes     = 254
	maxLocalPartBytes = 64
)

// The field-rule violations; each is Invalid and says which rule failed.
var (
	ErrEmailRequired    = errs.New(errs.Invalid, "Email is required")
	ErrEmailInvalid     = errs.New(errs.Invalid, "Email must be a valid address")
	ErrEmailTooLong     = errs.New(errs.Invalid, "Email must be at most 254 characters long")
	ErrEmailLocalLong   = errs.New(errs.Invalid, "Email must have at most 64 characters before the @")
	ErrEmailControlChar = errs.New(errs.Invalid, "Email must not contain control characters")
	ErrEmailDomain      = errs.New(errs.Invalid, "Email domain must contain a dot")
	ErrEmailDomainName  = errs.New(errs.Invalid, "Email domain must be a valid domain name")
	ErrRoleInvalid      = errs.New(errs.Invalid, "Role must be one of "+models.RoleNames(", "))
	ErrPlanInvalid      = errs.New(errs.Invalid, "Plan must be 1 to 64 characters of a-z, 0-9, _ and -")

	// ErrUserNotFound answers an operator command naming an unknown address.
	ErrUserNotFound = errs.New(errs.NotFound, "no user with that email")
)

// emailDomains turns a domain into the ASCII form DNS and SMTP use (IDNA2008
// as UTS #46 maps it for look-up: lower case, NFC, "bücher" → "xn--bcher-kva";
// an "xn--" label must decode to a valid one) and refuses what no mail
// provider would host: empty labels, labels over 63 octets or names over 253,
// a label starting or ending with "-" or with "--" in third and fourth place
// unless it is "xn--", characters other than letters, digits and "-", and
// right-to-left labels that break the Bidi rule.
var emailDomains = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true))

// normalizeEmail checks a new or looked-up address and returns the one form
// it is stored and compared in: trimmed, NFC, the local part lower-case and
// the domain in its ASCII form, so "Ann@Bücher.test" and
// "ann@xn--bcher-kva.test" are one address. Only a bare address is accepted
// ("a@example.com", not "A <a@example.com>" or one with comments), so what is
// stored is exactly what mail is sent to.
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
	}
	// One address typed with "ü" or with "u" + U+0308 is one address
	// (RFC 6532 asks for NFC).
	email = norm.NFC.String(email)
	// Non-ASCII must be letters, marks or digits (jürgen@bücher.example): no
	// format characters (RTL override, zero width), emoji, or the U+FFFD that
	// encoding/json puts in place of invalid UTF-8.
	if strings.IndexFunc(email, func(r rune) bool {
		return r >= utf8.RuneSelf && !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r)
	}) >= 0 {
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
	}
	domain, err = emailDomains.ToASCII(domain)
	switch {
	case err != nil:
		return "", ErrEmailDomainName
	case !strings.Contains(domain, "."):
		return "", ErrEmailDomain
	case strings.Trim(domain[strings.LastIndexByte(domain, '.')+1:], "0123456789") == "":
		return "", ErrEmailDomainName // an all-numeric top-level domain: an IP address, not a name
	}
	// Lower case can leave NFC (U+0130 "İ" becomes "i" + U+0307): normalise again.
	email = norm.NFC.String(strings.ToLower(local)) + "@" + domain
	if len(email) > maxEmailBytes { // the ASCII domain may be longer than the one typed
		return "", ErrEmailTooLong
	}
	return email, nil
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
