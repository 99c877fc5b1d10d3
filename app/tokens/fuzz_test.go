package tokens

import (
	"strings"
	"sync"
	"testing"

	"apisec/models"
)

func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{"", "Bearer a.b.c", "bearer x", "Bearer  x", "Basic x", "Bearer a b", "BEARER \xff", "Bearer " + strings.Repeat("A", MaxTokenLen+1)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := ParseBearer(header)
		if !ok {
			if tok != "" {
				t.Fatalf("rejected header returned token %q", tok)
			}
			return
		}
		if tok == "" || !strings.EqualFold(header, "Bearer "+tok) {
			t.Fatalf("ParseBearer(%q) = %q", header, tok)
		}
		for i := range len(strings.TrimRight(tok, "=")) {
			if !isTokenByte(tok[i]) {
				t.Fatalf("token %q has byte %q", tok, tok[i])
			}
		}
	})
}

// fuzzTarget is shared by all fuzz inputs of a worker: one service (with its
// cache) and one token it issued and already verified.
var fuzzTarget = sync.OnceValues(func() (*Service, string) {
	clock := newTestClock()
	s, err := New(Config{PrivateKey: testKey(), Issuer: testIssuer, Audience: testAudience, TTL: testTTL, ClockSkew: testSkew, Clock: clock.Now})
	if err != nil {
		panic(err)
	}
	is, err := s.Issue(Grant{Subject: testSub, Session: testSid, Role: models.RoleAdmin, Plan: "paid"})
	if err != nil {
		panic(err)
	}
	if _, err := s.Verify(is.Token); err != nil {
		panic(err)
	}
	return s, is.Token
})

func FuzzVerify(f *testing.F) {
	_, issued := fuzzTarget()
	parts := strings.Split(issued, ".")
	for _, seed := range []string{
		issued, "", "a.b.c", "..", issued + ".", issued[:len(issued)-1],
		parts[0] + "." + parts[1] + ".",
		`eyJhbGciOiJub25lIn0.` + parts[1] + ".",
		parts[0] + ".eyJleHAiOjFlMzAwfQ." + parts[2],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, issued := fuzzTarget()
		c, err := s.Verify(tok)
		if tok == issued {
			if err != nil || c.Subject != testSub {
				t.Fatalf("issued token: %+v, %v", c, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Verify(%q) accepted %+v", tok, c)
		}
	})
}
