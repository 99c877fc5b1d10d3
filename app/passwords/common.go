package passwords

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// commonList is the most common passwords of a public breach corpus, lower
// case, one per line; see common-passwords.SOURCE.md for where it comes from
// and scripts/update-common-passwords.sh for how to regenerate it.
//
//go:embed common-passwords.txt
var commonList string

// commonSet is built on first use, not at start-up: commands that never
// validate a password (migrate, keys) should not pay for 30k map entries.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSpace(commonList), "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			set[l] = struct{}{}
		}
	}
	return set
})

// IsCommon reports whether password is on the embedded list of commonly
// breached passwords, ignoring case, invisible characters and compatibility
// variants (NFKC folds fullwidth "Ｐａｓｓｗｏｒｄ１２３" to "Password123"): what
// is on the list must not pass in disguise.
func IsCommon(password string) bool {
	_, ok := commonSet()[commonKey(password)]
	return ok
}

// commonKey is the form IsCommon looks up: control and invisible characters
// removed, NFKC, lower case.
func commonKey(password string) string {
	password = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || invisible(r) {
			return -1
		}
		return r
	}, password)
	return strings.ToLower(norm.NFKC.String(password))
}

// CommonCount is the number of entries on the common-password list.
func CommonCount() int { return len(commonSet()) }
