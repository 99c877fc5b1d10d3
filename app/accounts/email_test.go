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
		"jürgen@bücher.example":                  "jürgen@xn--bcher-kva.example",
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
		"":                                      ErrEmailRequired,
		"a@b.c\r\nBcc: x@y.z":                   ErrEmailControlChar,
		"a\t@example.com":                       ErrEmailControlChar,
		"\xff@example.com":                      ErrEmailInvalid,
		"@example.com":                          ErrEmailInvalid,
		"a@":                                    ErrEmailInvalid,
		"a@@example.com":                        ErrEmailInvalid,
		"a.@example.com":                        ErrEmailInvalid,
		"a@example..com":                        ErrEmailInvalid,
		`"a b"@example.com`:                     ErrEmailInvalid,
		"<a@example.com>":                       ErrEmailInvalid,
		"a@example":                             ErrEmailDomain,
		"a@-example.com":                        ErrEmailDomainName,
		"a@example-.com":                        ErrEmailDomainName,
		"a@sub.-example.com":                    ErrEmailDomainName,
		"a@ex--ample.com":                       ErrEmailDomainName, // "--" in 3rd and 4th place is for "xn--"
		"a@xn--zz.com":                          ErrEmailDomainName, // not Punycode of a valid label
		"a@xn--.com":                            ErrEmailDomainName,
		"a@ex_ample.com":                        ErrEmailDomainName,
		"a@example.123":                         ErrEmailDomainName,
		"a@192.168.0.1":                         ErrEmailDomainName,
		"a@a\u05d0.com":                         ErrEmailDomainName, // Latin then Hebrew in one label: the Bidi rule
		"a@" + strings.Repeat("x", 64) + ".com": ErrEmailDomainName,
		"a@" + strings.Repeat(strings.Repeat("x", 63)+".", 4) + "com":    ErrEmailTooLong,
		strings.Repeat("x", 60) + "@" + strings.Repeat("ü.", 25) + "com": ErrEmailTooLong, // 139 bytes typed, 264 with the domain as xn--
		strings.Repeat("x", 255): ErrEmailTooLong,
	}
	for in, want := range cases {
		if _, err := normalizeEmail(in); err != want {
			t.Errorf("normalizeEmail(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestNormalizeEmailMakesOneAddressOfEachSpelling(t *testing.T) {
	t.Parallel()
	// One canonical form: NFC, local part lower-case, domain in its ASCII
	// (IDNA A-label) form.
	spellings := map[string][]string{
		"user@xn--bcher-kva.test": {
			"user@bücher.test", "user@xn--bcher-kva.test", "USER@XN--BCHER-KVA.TEST",
			"User@BÜCHER.test", "user@bu\u0308cher.test", // NFD: u + combining diaeresis
		},
		"jürgen@example.com":                    {"jürgen@example.com", "JÜRGEN@example.com", "ju\u0308rgen@example.com"},
		"a@xn--fa-hia.de":                       {"a@faß.de", "a@xn--fa-hia.de"}, // IDNA2008: ß is not "ss"
		"a@xn--e1afmkfd.xn--p1ai":               {"a@пример.рф", "a@ПРИМЕР.РФ"},
		"a@" + strings.Repeat("x", 63) + ".com": {"a@" + strings.Repeat("X", 63) + ".com"},
	}
	for want, ins := range spellings {
		for _, in := range ins {
			got, err := normalizeEmail(in)
			if err != nil || got != want {
				t.Errorf("normalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
			}
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
