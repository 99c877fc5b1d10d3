package accounts

import (
	"strings"
	"testing"
)

func TestNormalizeEmailKeepsBareAddressesLowerCase(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"a@example.com":                          "a@example.com",
		"  First.Last+tag@Sub.Example.ORG ":      "first.last+tag@sub.example.org",
		"o'brien@example.co.uk":                  "o'brien@example.co.uk",
		"jürgen@bücher.example":                  "jürgen@bücher.example",
		strings.Repeat("x", 64) + "@example.com": strings.Repeat("x", 64) + "@example.com",
	}
	for in, want := range cases {
		got, err := normalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("normalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizeEmailSaysWhichRuleFailed(t *testing.T) {
	t.Parallel()
	cases := map[string]error{
		"":                       ErrEmailRequired,
		"a@b.c\r\nBcc: x@y.z":    ErrEmailControlChar,
		"a\t@example.com":        ErrEmailControlChar,
		"\xff@example.com":       ErrEmailInvalid,
		"@example.com":           ErrEmailInvalid,
		"a@":                     ErrEmailInvalid,
		"a@@example.com":         ErrEmailInvalid,
		"a.@example.com":         ErrEmailInvalid,
		"a@example..com":         ErrEmailInvalid,
		`"a b"@example.com`:      ErrEmailInvalid,
		"<a@example.com>":        ErrEmailInvalid,
		"a@example":              ErrEmailDomain,
		strings.Repeat("x", 255): ErrEmailTooLong,
	}
	for in, want := range cases {
		if _, err := normalizeEmail(in); err != want {
			t.Errorf("normalizeEmail(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestCheckPlanAllowsShortSlugsOnly(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"free", "pro", "team_2", "a-b", strings.Repeat("z", 64)} {
		if err := checkPlan(ok); err != nil {
			t.Errorf("checkPlan(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Pro", "pro plan", "pro.1", "ü", strings.Repeat("z", 65)} {
		if err := checkPlan(bad); err != ErrPlanInvalid {
			t.Errorf("checkPlan(%q) = %v, want ErrPlanInvalid", bad, err)
		}
	}
}
