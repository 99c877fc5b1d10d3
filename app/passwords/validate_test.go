package passwords

import (
	"errors"
	"strings"
	"testing"

	"apisec/app/errs"
)

func TestValidateReportsTheFirstBrokenRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		want     error
	}{
		{"empty", "", ErrRequired},
		{"invalid UTF-8", "Abcdefghi1\xff", ErrInvalidUTF8},
		{"NUL byte", "Abcdefghi1\x00", ErrControlChar},
		{"newline", "Abcde\nfghi1", ErrControlChar},
		{"tab", "Abcde\tfghi1", ErrControlChar},
		{"DEL", "Abcdefghi1\x7f", ErrControlChar},
		{"C1 control", "Abcdefghi1\u0085", ErrControlChar},
		{"control before length", "A\x00", ErrControlChar},
		{"zero width space", "Correct\u200bHorse42", ErrInvisible},
		{"right-to-left override", "Correct\u202eHorse42", ErrInvisible},
		{"byte order mark", "\ufeffCorrectHorse42", ErrInvisible},
		{"soft hyphen", "Correct\u00adHorse42", ErrInvisible},
		{"word joiner", "Correct\u2060Horse42", ErrInvisible},
		{"line separator", "Correct\u2028Horse42", ErrInvisible},
		{"paragraph separator", "Correct\u2029Horse42", ErrInvisible},
		{"variation selector", "Correct\ufe0fHorse42", ErrInvisible},
		{"Hangul filler", "Correct\u3164Horse42", ErrInvisible},
		{"combining grapheme joiner", "Correct\u034fHorse42", ErrInvisible},
		{"tag character", "Correct\U000e0041Horse42", ErrInvisible},
		{"invisible before length", "Aa1\u200b", ErrInvisible},
		{"zero-width padding", "Aa1" + strings.Repeat("\u200b", 7), ErrInvisible},
		{"common behind a zero width space", "Password123\u200b", ErrInvisible},
		{"9 characters", "Abcdefgh1", ErrTooShort},
		{"length before classes", "abc", ErrTooShort},
		{"73 bytes", "Aa1" + strings.Repeat("x", 70), ErrTooLong},
		{"no upper-case", "abcdefghi1", ErrNoUpper},
		{"no lower-case", "ABCDEFGHI1", ErrNoLower},
		{"no digit", "Abcdefghij", ErrNoDigit},
		{"upper before lower", "1234567890", ErrNoUpper},
		{"common", "Password123", ErrCommon},
		{"valid", "Tr0ub4dor&3x", nil},
		{"valid with spaces", "correct Horse 9 battery", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := Validate(tc.password); err != tc.want {
				t.Fatalf("Validate(%q) = %v, want %v", tc.password, err, tc.want)
			}
		})
	}
}

func TestValidateErrorsAreInvalidNamingTheRule(t *testing.T) {
	t.Parallel()
	want := map[error]string{
		ErrRequired:    "Password is required",
		ErrInvalidUTF8: "Password must be valid UTF-8 text",
		ErrControlChar: "Password must not contain control characters",
		ErrInvisible:   "Password must not contain invisible or format characters",
		ErrTooShort:    "Password must be at least 10 characters long",
		ErrTooLong:     "Password must be at most 72 bytes long",
		ErrNoUpper:     "Password must contain an upper-case letter",
		ErrNoLower:     "Password must contain a lower-case letter",
		ErrNoDigit:     "Password must contain a digit",
		ErrCommon:      "Password is too common; choose a less common one",
	}
	for err, msg := range want {
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.Invalid || e.Message != msg {
			t.Errorf("got %#v, want a 400 with message %q", err, msg)
		}
	}
}

func TestValidateCountsCharactersNotBytes(t *testing.T) {
	t.Parallel()
	// "é" is 2 bytes: 9 runes stay too short however many bytes they take,
	// and 10 runes pass.
	nine := "Ab1" + strings.Repeat("é", 6)
	ten := "Ab1" + strings.Repeat("é", 7)
	if len(nine) < MinLength {
		t.Fatalf("test setup: %q should be at least %d bytes", nine, MinLength)
	}
	if err := Validate(nine); err != ErrTooShort {
		t.Errorf("9 runes (%d bytes): got %v, want ErrTooShort", len(nine), err)
	}
	if err := Validate(ten); err != nil {
		t.Errorf("10 runes (%d bytes): got %v, want nil", len(ten), err)
	}
}

func TestValidateCountsWhatAUserSees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, password string
		want           error
	}{
		// Each of these is at least 10 runes but fewer than 10 characters
		// on screen.
		{"accents stacked on 3 letters", "Aa1" + strings.Repeat("\u0301\u0308", 4), ErrTooShort},
		{"e + U+0301 six times", "Ab1" + strings.Repeat("e\u0301", 6), ErrTooShort},
		{"flags, two runes each", "Aa1" + strings.Repeat("\U0001F1EB\U0001F1F7", 6), ErrTooShort},
		{"skin-tone modifiers", "Aa1" + strings.Repeat("\U0001F44D\U0001F3FD", 6), ErrTooShort},
		{"ten with decomposed accents", "Ab1" + strings.Repeat("e\u0301", 7), nil},
		{"ten with flags", "Aa1bcdefg" + "\U0001F1EB\U0001F1F7", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := Validate(tc.password); err != tc.want {
				t.Fatalf("Validate(%q) = %v, want %v", tc.password, err, tc.want)
			}
		})
	}
}

func TestValidateAppliesEveryRuleToTheNFCForm(t *testing.T) {
	t.Parallel()
	// The byte limit counts what is hashed: 34 × "é" is 68 bytes in NFC,
	// 102 as typed with "e" + U+0301.
	typed := "Aa1" + strings.Repeat("e\u0301", 34)
	if err := Validate(typed); err != nil {
		t.Errorf("%d bytes in NFC, %d as typed: got %v, want nil", len(Normalize(typed)), len(typed), err)
	}
}

func TestValidateLimitsBytesNotCharacters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		want     error
	}{
		{"72 ASCII bytes", "Aa1" + strings.Repeat("x", 69), nil},
		{"73 ASCII bytes", "Aa1" + strings.Repeat("x", 70), ErrTooLong},
		// 3-byte runes: 24 runes are exactly 72 bytes...
		{"72 bytes of 3-byte runes", "Aa1" + strings.Repeat("€", 23), nil},
		// ...and one more ASCII byte tips it over with only 28 characters.
		{"73 bytes, 28 runes", "Aa1x" + strings.Repeat("€", 23), ErrTooLong},
		{"4-byte runes over the limit", "Aa1" + strings.Repeat("😀", 18), ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.want == nil && len(tc.password) != MaxBytes {
				t.Fatalf("test setup: %d bytes, want %d", len(tc.password), MaxBytes)
			}
			if err := Validate(tc.password); err != tc.want {
				t.Fatalf("Validate(%d bytes) = %v, want %v", len(tc.password), err, tc.want)
			}
		})
	}
}

func TestValidateIsUnicodeAware(t *testing.T) {
	t.Parallel()
	// Greek capital and small letters, Arabic-Indic digit.
	if err := Validate("Ωmegaλλλλ٣"); err != nil {
		t.Errorf("got %v, want nil", err)
	}
	if err := Validate("ωmegaλλλλ٣"); err != ErrNoUpper {
		t.Errorf("got %v, want ErrNoUpper", err)
	}
}

func TestValidateRejectsCommonPasswordsWhateverTheirCase(t *testing.T) {
	t.Parallel()
	// Real list entries that pass every other rule once capitalised.
	for _, pw := range []string{
		"Password123", "PassWord123", "pASSWORD123",
		"Password1234", "Qwerty12345", "qwERTY12345",
		"1Q2w3e4r5t", "Q1w2e3r4t5", "1qaz2WSX3edc", "Liverpool1",
	} {
		if err := Validate(pw); err != ErrCommon {
			t.Errorf("Validate(%q) = %v, want ErrCommon", pw, err)
		}
	}
	// Compatibility variants fold to the entry: fullwidth letters and digits.
	if err := Validate("Ｐａｓｓｗｏｒｄ１２３"); err != ErrCommon {
		t.Errorf("fullwidth Password123: got %v, want ErrCommon", err)
	}
	if err := Validate("Password123!x"); err != nil {
		t.Errorf("a variant that is not on the list: got %v, want nil", err)
	}
}

func TestIsCommonSeesThroughInvisibleCharacters(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"Password123\u200b", "Pass\u00adword123", "\ufeffPassword123", "Password123\u0000", "Pa\u2060ssword123"} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false, want true", pw)
		}
	}
}

func TestCommonListHasAtLeastTenThousandEntries(t *testing.T) {
	t.Parallel()
	if n := CommonCount(); n < 10_000 {
		t.Fatalf("common list has %d entries, want at least 10000", n)
	}
	for _, pw := range []string{"123456", "password", "qwerty", "PASSWORD", "Dragon"} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false, want true", pw)
		}
	}
}

func TestCommonListFileIsLowerCaseAndUnique(t *testing.T) {
	t.Parallel()
	lines := strings.Split(strings.TrimSuffix(commonList, "\n"), "\n")
	if len(lines) != CommonCount() {
		t.Errorf("%d lines but %d distinct entries", len(lines), CommonCount())
	}
	for i, l := range lines {
		if l == "" || l != strings.ToLower(l) || strings.TrimSpace(l) != l {
			t.Fatalf("line %d is %q: want a non-empty lower-case entry", i+1, l)
		}
	}
}

func TestValidateErrorsWorkWithErrorsIs(t *testing.T) {
	t.Parallel()
	if err := Validate("short"); !errors.Is(err, ErrTooShort) {
		t.Fatalf("errors.Is(%v, ErrTooShort) = false", err)
	}
}
