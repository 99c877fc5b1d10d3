package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"apisec/app/clocktest"
	"apisec/models"
)

const (
	testIssuer   = "https://api.example.test"
	testAudience = "apisec-test"
	testTTL      = 15 * time.Minute
	testSkew     = 5 * time.Second
	testSub      = "00000000-0000-4000-8000-000000000001" // subjects are user ids, UUIDs
	testSid      = "00000000-0000-4000-8000-00000000005e" // sessions too
)

// RSA key generation is slow; each test binary makes its keys once.
var (
	testKey    = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
	oldKey     = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
	foreignKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
)

func mustKey(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// testClock is an injectable clock the tests move by hand.
type testClock = clocktest.Clock

func newTestClock() *testClock {
	return clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// newTestService returns a service on testKey with a test clock; edit
// adjusts the config first.
func newTestService(tb testing.TB, edit func(*Config)) (*Service, *testClock) {
	tb.Helper()
	clock := newTestClock()
	cfg := Config{
		PrivateKey: testKey(),
		Issuer:     testIssuer,
		Audience:   testAudience,
		TTL:        testTTL,
		ClockSkew:  testSkew,
		Clock:      clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s, clock
}

func mustIssue(tb testing.TB, s *Service, sub string, role models.Role, plan string) string {
	tb.Helper()
	is, err := s.Issue(Grant{Subject: sub, Session: testSid, Role: role, Plan: plan})
	if err != nil {
		tb.Fatalf("Issue: %v", err)
	}
	return is.Token
}

// validClaims is a payload the test service would accept at clock time now.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  testSub,
		"sid":  testSid,
		"role": models.RoleEditor,
		"plan": "free",
		"iss":  testIssuer,
		"aud":  testAudience,
		"iat":  now.Unix(),
		"exp":  now.Add(testTTL).Unix(),
		"jti":  "test-jti",
	}
}

// sign builds a token by hand, with any method, key, kid and claims.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

// signWithHeader signs claims with RS256 under extra header fields.
func signWithHeader(tb testing.TB, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}
