package passwords

import (
	"unicode"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"
)

// Normalize returns password in Unicode NFC, the one form every rule, every
// hash and every comparison sees: "é" typed as one code point (most
// keyboards) or as "e" + U+0301 (macOS file names, some input methods) is
// the same password.
func Normalize(password string) string { return norm.NFC.String(password) }

// invisible reports whether r is a character a user cannot see and would
// not know they typed: format characters (Cf: U+200B zero width space, U+202E
// right-to-left override, U+00AD soft hyphen, U+FEFF), the line and paragraph
// separators (Zl, Zp) and the rest of Unicode's default-ignorable code points
// (variation selectors, Hangul fillers, U+034F combining grapheme joiner).
// Default_Ignorable_Code_Point is Cf + Other_Default_Ignorable_Code_Point +
// Variation_Selector, less a few Cf characters, which are refused anyway.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// hasGraphemes reports whether s has at least n user-perceived characters
// (Unicode extended grapheme clusters, UAX #29): "é" as e + U+0301, a flag
// (two regional indicators) or a letter stacked with ten accents each count
// once, as a user sees them. It stops after n, so a long input costs no more.
func hasGraphemes(s string, n int) bool {
	state := -1
	for ; n > 0 && s != ""; n-- {
		_, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
	}
	return n == 0
}
