package tokens

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"apisec/app/errs"
	"apisec/models"
)

func TestIssuedTokenVerifiesWithItsClaims(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	is, err := s.Issue(Grant{Subject: "00000000-0000-4000-8000-000000000042", Session: testSid, Role: models.RoleAdmin, Plan: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	exp := is.ExpiresAt
	c, err := s.Verify(is.Token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	now := clock.Now()
	if c.Subject != "00000000-0000-4000-8000-000000000042" || c.Session != testSid || c.Role != models.RoleAdmin || c.Plan != "paid" || c.ID == "" {
		t.Errorf("claims = %+v", c)
	}
	if !c.IssuedAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(testTTL)) || !exp.Equal(c.ExpiresAt) || is.ExpiresIn() != 900 {
		t.Errorf("iat %v exp %v (returned %v); want %v and %v", c.IssuedAt, c.ExpiresAt, exp, now, now.Add(testTTL))
	}
}

func TestIssuedTokenCarriesTheContractsHeaderAndClaims(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	tok := mustIssue(t, s, testSub, models.RoleViewer, "free")
	parts := strings.Split(tok, ".")
	var header map[string]any
	var payload map[string]any
	decodeSegment(t, parts[0], &header)
	decodeSegment(t, parts[1], &payload)
	if header["alg"] != "RS256" || header["kid"] != s.KeyID() || s.KeyID() != Thumbprint(&testKey().PublicKey) {
		t.Errorf("header = %v", header)
	}
	for _, k := range []string{"sub", "sid", "role", "plan", "iss", "aud", "iat", "exp", "jti"} {
		if _, ok := payload[k]; !ok {
			t.Errorf("payload lacks %q: %v", k, payload)
		}
	}
	jti, _ := payload["jti"].(string)
	if raw, err := b64.DecodeString(jti); err != nil || len(raw) != 16 {
		t.Errorf("jti %q is not 16 random bytes in base64url", jti)
	}
	if other := mustIssue(t, s, testSub, models.RoleViewer, "free"); other == tok {
		t.Error("two tokens issued in the same second are identical; jti is not random")
	}
}

func TestIssueRefusesClaimsVerifyWouldReject(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	for _, g := range []Grant{
		{Session: testSid, Role: models.RoleViewer, Plan: "free"},
		{Subject: testSub, Role: models.RoleViewer, Plan: "free"},
		{Subject: testSub, Session: testSid, Role: "root", Plan: "free"},
		{Subject: testSub, Session: testSid, Role: models.RoleViewer},
	} {
		if _, err := s.Issue(g); err == nil {
			t.Errorf("Issue(%+v) succeeded", g)
		}
	}
}

// An access token lives for exactly its TTL (15 minutes) from its iat: at
// 14:59.999 it verifies, from 15:00 on it is expired, with or without the
// cache. The clock skew is for iat and nbf only.
func TestAccessTokenIsRefusedFromItsExpOn(t *testing.T) {
	t.Parallel()
	for _, cacheSize := range []int{-1, 0} {
		s, clock := newTestService(t, func(c *Config) { c.CacheSize = cacheSize })
		start := clock.Now()
		is, err := s.Issue(Grant{Subject: testSub, Session: testSid, Role: models.RoleViewer, Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		tok, exp := is.Token, is.ExpiresAt
		if !exp.Equal(start.Add(15 * time.Minute)) {
			t.Fatalf("expiresAt = %v; want issue time + 15m", exp)
		}
		steps := []struct {
			at   time.Duration
			want error
		}{
			{0, nil},
			{14*time.Minute + 59*time.Second, nil},
			{15*time.Minute - time.Millisecond, nil},
			{15 * time.Minute, errs.ErrTokenExpired},
			{15*time.Minute + testSkew - time.Millisecond, errs.ErrTokenExpired},
			{15*time.Minute + testSkew, errs.ErrTokenExpired},
			{24 * time.Hour, errs.ErrTokenExpired},
		}
		for _, st := range steps {
			clock.Set(start.Add(st.at))
			if _, err := s.Verify(tok); err != st.want {
				t.Errorf("cache %d, at +%v: err = %v; want %v", cacheSize, st.at, err, st.want)
			}
		}
	}
}

func TestIssueTruncatesToWholeSecondsSoExpiryMatchesTheClaim(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	clock.Advance(700 * time.Millisecond)
	is, err := s.Issue(Grant{Subject: testSub, Session: testSid, Role: models.RoleViewer, Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	exp := is.ExpiresAt
	c, err := s.Verify(is.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(exp) || exp.Nanosecond() != 0 {
		t.Errorf("claim exp %v, returned %v", c.ExpiresAt, exp)
	}
}

func TestVerifyRejectsForgedAndMalformedTokens(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	now := clock.Now()
	kid := s.KeyID()
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims(now)
		edit(c)
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&testKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	good := sign(t, jwt.SigningMethodRS256, testKey(), kid, validClaims(now))
	parts := strings.Split(good, ".")
	forgedPayload, _ := json.Marshal(with(func(c jwt.MapClaims) { c["role"] = models.RoleAdmin }))

	cases := map[string]string{
		"alg none":                          sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims(now)),
		"alg none, hand-made":               segment(t, map[string]any{"alg": "none", "kid": kid}) + "." + parts[1] + ".",
		"alg None with the real signature":  segment(t, map[string]any{"alg": "None", "kid": kid}) + "." + parts[1] + "." + parts[2],
		"HS256 keyed with the public PEM":   sign(t, jwt.SigningMethodHS256, pubPEM, kid, validClaims(now)),
		"HS256 keyed with the public DER":   sign(t, jwt.SigningMethodHS256, pubDER, kid, validClaims(now)),
		"RS512 by the right key":            sign(t, jwt.SigningMethodRS512, testKey(), kid, validClaims(now)),
		"PS256 by the right key":            sign(t, jwt.SigningMethodPS256, testKey(), kid, validClaims(now)),
		"foreign key claiming our kid":      sign(t, jwt.SigningMethodRS256, foreignKey(), kid, validClaims(now)),
		"foreign key with its own kid":      sign(t, jwt.SigningMethodRS256, foreignKey(), Thumbprint(&foreignKey().PublicKey), validClaims(now)),
		"no kid":                            sign(t, jwt.SigningMethodRS256, testKey(), "", validClaims(now)),
		"unknown kid":                       sign(t, jwt.SigningMethodRS256, testKey(), "not-a-kid", validClaims(now)),
		"tampered payload":                  parts[0] + "." + b64.EncodeToString(forgedPayload) + "." + parts[2],
		"signature of another token":        parts[0] + "." + parts[1] + "." + strings.Split(mustIssue(t, s, testSub, models.RoleViewer, "free"), ".")[2],
		"no signature":                      parts[0] + "." + parts[1] + ".",
		"padded signature":                  good + "==",
		"four segments":                     good + ".e30",
		"wrong iss":                         sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })),
		"no iss":                            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong aud":                         sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["aud"] = "other-api" })),
		"no aud":                            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "aud") })),
		"no exp":                            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"exp as a string":                   sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["exp"] = "soon" })),
		"no iat":                            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "iat") })),
		"iat beyond the clock skew":         sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["iat"] = now.Add(testSkew + time.Second).Unix() })),
		"nbf beyond the clock skew":         sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(testSkew + time.Second).Unix() })),
		"iat as a numeric string":           sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["iat"] = fmt.Sprint(now.Unix()) })),
		"exp as a numeric string":           sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["exp"] = fmt.Sprint(now.Add(time.Hour).Unix()) })),
		"nbf as a numeric string":           sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["nbf"] = fmt.Sprint(now.Unix()) })),
		"an unknown crit header":            signWithHeader(t, testKey(), map[string]any{"kid": kid, "crit": []string{"exp-ext"}, "exp-ext": true}, validClaims(now)),
		"an empty crit header":              signWithHeader(t, testKey(), map[string]any{"kid": kid, "crit": []string{}}, validClaims(now)),
		"a NUL byte in sub":                 sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["sub"] = "00000000-0000-4000-8000-00000000000\x00" })),
		"sub that is no user id":            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["sub"] = "admin" })),
		"sub of another type":               sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["sub"] = 42 })),
		"plan that is no plan name":         sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["plan"] = "free\x00" })),
		"nbf in the future":                 sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"no sub":                            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "sub") })),
		"no role":                           sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "role") })),
		"unknown role":                      sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["role"] = "superuser" })),
		"role of another type":              sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["role"] = []models.Role{models.RoleAdmin} })),
		"no plan":                           sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "plan") })),
		"no jti":                            sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { delete(c, "jti") })),
		"expired and wrong iss":             sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix(); c["iss"] = "x" })),
		"expired with an unknown role":      sign(t, jwt.SigningMethodRS256, testKey(), kid, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix(); c["role"] = "x" })),
		"expired, signed by a foreign key":  sign(t, jwt.SigningMethodRS256, foreignKey(), kid, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"empty":                             "",
		"garbage":                           "not.a.token",
		"over MaxTokenLen":                  good + strings.Repeat("A", MaxTokenLen),
		"header is not JSON":                b64.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2],
		"non-canonical base64 in signature": parts[0] + "." + parts[1] + "." + flipTrailingBits(t, parts[2]),
	}
	for name, tok := range cases {
		if _, err := s.Verify(tok); err != errs.ErrInvalidToken {
			t.Errorf("%s: err = %v; want exactly ErrInvalidToken", name, err)
		}
	}
	// Sanity: the hand-made baseline itself is accepted, so each case above
	// fails for its own defect.
	if _, err := s.Verify(good); err != nil {
		t.Fatalf("baseline token rejected: %v", err)
	}
}

// Another instance whose clock runs a few seconds ahead issues tokens whose
// iat and nbf are in this instance's future: within JWT_CLOCK_SKEW they work.
func TestVerifyAcceptsIatAndNbfWithinTheClockSkew(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	c := validClaims(clock.Now())
	c["iat"] = clock.Now().Add(testSkew).Unix()
	c["nbf"] = clock.Now().Add(testSkew).Unix()
	if _, err := s.Verify(sign(t, jwt.SigningMethodRS256, testKey(), s.KeyID(), c)); err != nil {
		t.Errorf("iat and nbf %v ahead: %v", testSkew, err)
	}
}

func TestExpiredHandMadeTokenIsReportedAsExpired(t *testing.T) {
	t.Parallel()
	s, clock := newTestService(t, nil)
	c := validClaims(clock.Now().Add(-time.Hour))
	if _, err := s.Verify(sign(t, jwt.SigningMethodRS256, testKey(), s.KeyID(), c)); err != errs.ErrTokenExpired {
		t.Errorf("err = %v; want ErrTokenExpired", err)
	}
}

func TestPreviousKeyVerifiesOnlyWhileConfigured(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	old, err := New(Config{PrivateKey: oldKey(), Issuer: testIssuer, Audience: testAudience, TTL: testTTL, ClockSkew: testSkew, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	oldTok := mustIssue(t, old, testSub, models.RoleViewer, "free")

	rotated, _ := newTestService(t, func(c *Config) {
		c.Clock = clock.Now
		c.PreviousKeys = []*rsa.PublicKey{&oldKey().PublicKey, &oldKey().PublicKey} // duplicate ignored
	})
	if _, err := rotated.Verify(oldTok); err != nil {
		t.Errorf("token of the previous key: %v", err)
	}
	if rotated.KeyID() != Thumbprint(&testKey().PublicKey) {
		t.Error("rotated service does not sign with the new key")
	}
	if set := decodeJWKS(t, rotated.JWKS()); len(set) != 2 || set[0].Kid != rotated.KeyID() || set[1].Kid != old.KeyID() {
		t.Errorf("JWKS kids = %+v; want current then previous", set)
	}

	retired, _ := newTestService(t, func(c *Config) { c.Clock = clock.Now })
	if _, err := retired.Verify(oldTok); err != errs.ErrInvalidToken {
		t.Errorf("after the old key is removed: err = %v; want ErrInvalidToken", err)
	}
}

func TestJWKSPublishesTheKeyUnderItsThumbprint(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	if strings.Contains(string(s.JWKS()), `"d"`) {
		t.Fatal("JWKS contains private key material")
	}
	set := decodeJWKS(t, s.JWKS())
	if len(set) != 1 {
		t.Fatalf("JWKS has %d keys", len(set))
	}
	k := set[0]
	if k.Kty != "RSA" || k.Use != "sig" || k.Alg != "RS256" || k.Kid != s.KeyID() {
		t.Errorf("JWK = %+v", k)
	}
	n, err := b64.DecodeString(k.N)
	if err != nil {
		t.Fatal(err)
	}
	e, err := b64.DecodeString(k.E)
	if err != nil {
		t.Fatal(err)
	}
	pub := &testKey().PublicKey
	if string(n) != string(pub.N.Bytes()) || k.E != "AQAB" || len(e) != 3 {
		t.Error("n or e does not decode to the signing key")
	}
	if Thumbprint(pub) != k.Kid {
		t.Error("kid is not the key's thumbprint")
	}
}

func TestThumbprintMatchesRFC7638Example(t *testing.T) {
	t.Parallel()
	// RFC 7638 §3.1.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	raw, err := b64.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(raw), E: 65537}
	if got, want := Thumbprint(key), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s; want %s", got, want)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	small := mustKey(1024)
	for name, edit := range map[string]func(*Config){
		"no key":            func(c *Config) { c.PrivateKey = nil },
		"1024-bit key":      func(c *Config) { c.PrivateKey = small },
		"1024-bit previous": func(c *Config) { c.PreviousKeys = []*rsa.PublicKey{&small.PublicKey} },
		"nil previous":      func(c *Config) { c.PreviousKeys = []*rsa.PublicKey{nil} },
		"no issuer":         func(c *Config) { c.Issuer = "" },
		"no audience":       func(c *Config) { c.Audience = "" },
		"zero TTL":          func(c *Config) { c.TTL = 0 },
		"negative skew":     func(c *Config) { c.ClockSkew = -time.Second },
	} {
		cfg := Config{PrivateKey: testKey(), Issuer: testIssuer, Audience: testAudience, TTL: testTTL}
		edit(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

type jwkJSON struct{ Kty, Use, Alg, Kid, N, E string }

func decodeJWKS(t *testing.T, data []byte) []jwkJSON {
	t.Helper()
	var set struct{ Keys []jwkJSON }
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	return set.Keys
}

func segment(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(data)
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// flipTrailingBits changes the unused low bits of the last base64 character,
// which a lenient decoder maps to the same bytes.
func flipTrailingBits(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	out := seg[:len(seg)-1] + string(alphabet[last^1])
	if _, err := base64.RawURLEncoding.DecodeString(out); err != nil {
		t.Fatalf("lenient decode of %q: %v", out, err)
	}
	return out
}
