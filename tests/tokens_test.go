package tests

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access tokens

func TestAccessTokensExpireAfterFifteenMinutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "clock@example.com", goodPassword)
	s := login(t, e, "clock@example.com", goodPassword)

	e.Clock.Advance(15*time.Minute - time.Millisecond)
	expect(t, me(e, s.Access), http.StatusOK, "") // also puts it in the verified-token cache

	// From exp on, to the second: JWT_CLOCK_SKEW is never applied to exp,
	// and the cache does not outlive it either.
	e.Clock.Advance(time.Millisecond)
	r := me(e, s.Access)
	expect(t, r, http.StatusUnauthorized, "Token expired")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}

	// The session goes on: the refresh token outlives the access token.
	expect(t, me(e, refresh(t, e, s.Refresh).Access), http.StatusOK, "")
}

func TestRequestsWithoutABearerTokenNeedAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "header@example.com", goodPassword)
	s := login(t, e, "header@example.com", goodPassword)
	for name, headers := range map[string][]string{
		"no header":              nil,
		"empty header":           {"Authorization", ""},
		"Basic credentials":      {"Authorization", "Basic aGVhZGVyQGV4YW1wbGUuY29tOnB3"},
		"Bearer and no token":    {"Authorization", "Bearer"},
		"Bearer and a space":     {"Authorization", "Bearer "},
		"the token alone":        {"Authorization", s.Access},
		"another scheme":         {"Authorization", "Token " + s.Access},
		"the token in a cookie":  {"Cookie", "access_token=" + s.Access},
		"the token in X-Api-Key": {"X-Api-Key", s.Access},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.as(t).do("GET", "/auth/me", nil, headers...)
			expect(t, r, http.StatusUnauthorized, "Authentication required")
			if r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// The scheme is case-insensitive (RFC 9110).
	expect(t, e.do("GET", "/auth/me", nil, "Authorization", "bearer "+s.Access), http.StatusOK, "")
}

func TestForgedAndTamperedAccessTokensAreInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "victim@example.com", goodPassword)
	genuine := login(t, e, "victim@example.com", goodPassword).Access
	expect(t, me(e, genuine), http.StatusOK, "")

	header, claims := claimsOf(t, genuine)
	kid := jwksKey(t, e)["kid"].(string)
	if header["kid"] != kid {
		t.Fatalf("token kid %v, JWKS kid %v", header["kid"], kid)
	}
	dir, err := keyDir()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "jwt-private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM, err := os.ReadFile(filepath.Join(dir, "jwt-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	// with returns a copy of the real claims changed by edit.
	with := func(edit func(c jwt.MapClaims)) jwt.MapClaims {
		c := maps.Clone(claims)
		edit(c)
		return c
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims, extra map[string]any) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		maps.Copy(tok.Header, extra)
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatalf("sign %s: %v", method.Alg(), err)
		}
		return s
	}
	parts := strings.Split(genuine, ".")
	segment := func(v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	noneHeader := func(alg string) string { return segment(map[string]any{"alg": alg, "typ": "JWT", "kid": kid}) }
	admin := with(func(c jwt.MapClaims) { c["role"] = "admin" })
	past := e.Clock.Now().Add(-time.Hour).Unix()

	cases := map[string]string{
		"alg none":                         sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims, nil),
		"alg none granting admin":          sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, admin, nil),
		"alg NONE with no signature":       noneHeader("NONE") + "." + parts[1] + ".",
		"alg none keeping the signature":   noneHeader("none") + "." + parts[1] + "." + parts[2],
		"HS256 keyed with the public PEM":  sign(jwt.SigningMethodHS256, publicPEM, admin, nil),
		"HS256 keyed with the trimmed PEM": sign(jwt.SigningMethodHS256, []byte(strings.TrimSpace(string(publicPEM))), claims, nil),
		"RS384 with our key":               sign(jwt.SigningMethodRS384, ours, claims, nil),
		"RS512 with our key":               sign(jwt.SigningMethodRS512, ours, claims, nil),
		"PS256 with our key":               sign(jwt.SigningMethodPS256, ours, claims, nil),
		"a foreign key with our kid":       sign(jwt.SigningMethodRS256, foreign, admin, nil),
		"a foreign key embedded as jwk": sign(jwt.SigningMethodRS256, foreign, admin, map[string]any{"jwk": map[string]any{
			"kty": "RSA", "alg": "RS256", "kid": kid,
			"n": base64.RawURLEncoding.EncodeToString(foreign.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(foreign.E)).Bytes()),
		}}),
		"a foreign key from a jku URL": sign(jwt.SigningMethodRS256, foreign, admin, map[string]any{"jku": "https://attacker.example/jwks.json"}),
		"a wrong issuer":               sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }), nil),
		"no issuer":                    sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { delete(c, "iss") }), nil),
		"a wrong audience":             sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["aud"] = []string{"another-api"} }), nil),
		"no audience":                  sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { delete(c, "aud") }), nil),
		"no exp":                       sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { delete(c, "exp") }), nil),
		"exp as a string":              sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["exp"] = "never" }), nil),
		"exp as a numeric string":      sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["exp"] = fmt.Sprint(e.Clock.Now().Add(time.Hour).Unix()) }), nil),
		"an unknown crit header":       sign(jwt.SigningMethodRS256, ours, claims, map[string]any{"crit": []string{"b64"}, "b64": false}),
		"a NUL byte in the subject":    sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["sub"] = "\x00" + c["sub"].(string)[1:] }), nil),
		"a subject of another type":    sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["sub"] = 7 }), nil),
		"not valid before next week": sign(jwt.SigningMethodRS256, ours,
			with(func(c jwt.MapClaims) { c["nbf"] = e.Clock.Now().Add(7 * 24 * time.Hour).Unix() }), nil),
		"an unknown role":                sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["role"] = "root" }), nil),
		"no subject":                     sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { delete(c, "sub") }), nil),
		"no session":                     sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { delete(c, "sid") }), nil),
		"a session of another type":      sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["sid"] = 7 }), nil),
		"a session that is no id":        sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["sid"] = "x" }), nil),
		"expired and wrongly issued":     sign(jwt.SigningMethodRS256, ours, with(func(c jwt.MapClaims) { c["exp"] = past; c["iss"] = "x" }), nil),
		"expired and foreign":            sign(jwt.SigningMethodRS256, foreign, with(func(c jwt.MapClaims) { c["exp"] = past }), nil),
		"payload changed to admin":       parts[0] + "." + segment(admin) + "." + parts[2],
		"payload of another subject":     parts[0] + "." + segment(with(func(c jwt.MapClaims) { c["sub"] = "00000000-0000-0000-0000-000000000000" })) + "." + parts[2],
		"signature removed":              parts[0] + "." + parts[1] + ".",
		"signature of another token":     parts[0] + "." + parts[1] + "." + strings.Split(sign(jwt.SigningMethodRS256, ours, admin, nil), ".")[2],
		"two segments":                   parts[0] + "." + parts[1],
		"four segments":                  genuine + ".AAAA",
		"not a JWT":                      "abc.def.ghi",
		"a refresh token":                strings.Repeat("ab", 32),
		"a signature with a bit flipped": parts[0] + "." + parts[1] + "." + flipLastChar(parts[2]),
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := me(e.as(t), token)
			expect(t, r, http.StatusUnauthorized, "Invalid token")
			if r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// The same claims, properly signed, pass: the refusals above were for the
	// forgery, not for the claims the real token already had.
	expect(t, me(e, sign(jwt.SigningMethodRS256, ours, claims, nil)), http.StatusOK, "")
}

// flipLastChar changes the last character of a base64url segment.
func flipLastChar(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return s[:len(s)-1] + string(repl)
}

// jwksKey fetches the JWK Set and returns its first key.
func jwksKey(t testing.TB, e *env) map[string]any {
	t.Helper()
	r := e.as(t).do("GET", "/.well-known/jwks.json", nil)
	expect(t, r, http.StatusOK, "")
	keys, _ := r.JSON["keys"].([]any)
	if len(keys) == 0 {
		t.Fatalf("no keys in %s", r.Body)
	}
	k, _ := keys[0].(map[string]any)
	return k
}

func TestJWKSPublishesTheKeyThatVerifiesAccessTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "jwks@example.com", goodPassword)
	token := login(t, e, "jwks@example.com", goodPassword).Access

	r := e.do("GET", "/.well-known/jwks.json", nil)
	expect(t, r, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/jwk-set+json") {
		t.Fatalf("Content-Type %q", ct)
	}
	k := jwksKey(t, e)
	header, _ := claimsOf(t, token)
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] != header["kid"] || header["alg"] != "RS256" {
		t.Fatalf("key %v, token header %v", k, header)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Fatalf("the JWK Set publishes the private parameter %q", private)
		}
	}
	n, err1 := base64.RawURLEncoding.DecodeString(k["n"].(string))
	exp, err2 := base64.RawURLEncoding.DecodeString(k["e"].(string))
	if err1 != nil || err2 != nil {
		t.Fatalf("n or e is not base64url: %v %v", err1, err2)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(exp).Int64())}
	if pub.N.BitLen() < 2048 {
		t.Fatalf("a %d-bit key", pub.N.BitLen())
	}
	_, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(e.Clock.Now))
	if err != nil {
		t.Fatalf("the published key does not verify the access token: %v", err)
	}
}

// Refresh tokens

func TestRefreshRotatesThePairAndAnswersARetryWithinGraceWithTheSameSuccessor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "10s", "RATE_LIMIT_GLOBAL": "off", "RATE_LIMIT_LOGIN": "off"})
	registerAndVerify(t, e, "rotate@example.com", goodPassword)
	first := login(t, e, "rotate@example.com", goodPassword)
	bystander := login(t, e, "rotate@example.com", goodPassword)

	second := refresh(t, e, first.Refresh)
	if second.Refresh == first.Refresh || second.Access == first.Access {
		t.Fatalf("refresh did not issue a new pair")
	}
	expect(t, me(e, second.Access), http.StatusOK, "")

	// A retry (two tabs, a lost response) gets the same successor.
	e.Clock.Advance(9 * time.Second)
	if retry := refresh(t, e, first.Refresh); retry.Refresh != second.Refresh {
		t.Fatalf("a retry within the grace got %q, want the successor %q", retry.Refresh, second.Refresh)
	}

	// Past the grace window it is reuse of a spent token: the family dies.
	e.Clock.Advance(2 * time.Second)
	r := e.do("POST", "/auth/refresh", map[string]string{"refreshToken": first.Refresh})
	expect(t, r, http.StatusUnauthorized, "Invalid refresh token")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": second.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	// Another login of the same user is another family and lives on.
	refresh(t, e, bystander.Refresh)
}

func TestRefreshWithoutAGraceWindowRevokesTheFamilyOnTheFirstReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "0s", "RATE_LIMIT_GLOBAL": "off"})
	registerAndVerify(t, e, "nograce@example.com", goodPassword)
	first := login(t, e, "nograce@example.com", goodPassword)
	second := refresh(t, e, first.Refresh)
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": first.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": second.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
}

func TestConcurrentRefreshesOfOneTokenAllGetTheSameSuccessor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "tabs@example.com", goodPassword)
	s := login(t, e, "tabs@example.com", goodPassword)

	answers := e.concurrently(t, 8, "POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh})
	successor := answers[0].String("refreshToken")
	for i, r := range answers {
		if r.Status != http.StatusOK || r.String("refreshToken") != successor || r.String("accessToken") == "" {
			t.Errorf("refresh %d: %d %s (first successor %q)", i, r.Status, r.Body, successor)
		}
	}
	if t.Failed() {
		return
	}
	expect(t, me(e, answers[len(answers)-1].String("accessToken")), http.StatusOK, "")
	// The family did not fork and was not revoked: the successor works.
	refresh(t, e, successor)
}

func TestARoleChangeRevokesSessionsAndTheNextLoginCarriesTheNewRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "promoted@example.com", goodPassword)
	s := login(t, e, "promoted@example.com", goodPassword)
	if got := roleClaim(t, s.Access); got != "viewer" {
		t.Fatalf("role claim %q", got)
	}
	expect(t, e.do("POST", "/projects", map[string]string{"name": "Early"}, bearer(s.Access)...), http.StatusForbidden, "Insufficient permissions")

	if err := e.App.Accounts.SetRole(context.Background(), "promoted@example.com", "editor"); err != nil {
		t.Fatal(err)
	}
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": s.Refresh}), http.StatusUnauthorized, "Invalid refresh token")

	fresh := login(t, e, "promoted@example.com", goodPassword)
	if got := roleClaim(t, fresh.Access); got != "editor" {
		t.Fatalf("role claim after set-role %q", got)
	}
	expect(t, e.do("POST", "/projects", map[string]string{"name": "Promoted"}, bearer(fresh.Access)...), http.StatusCreated, "")
	if u, _ := me(e, fresh.Access).JSON["user"].(map[string]any); u["role"] != "editor" {
		t.Fatalf("me after set-role: %v", u)
	}
}

func TestARefreshCarriesThePlanAsItIsNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "upgrade@example.com", goodPassword)
	s := login(t, e, "upgrade@example.com", goodPassword)
	if _, c := claimsOf(t, s.Access); c["plan"] != "free" {
		t.Fatalf("plan claim %v", c["plan"])
	}
	if err := e.App.Accounts.SetPlan(context.Background(), "upgrade@example.com", "pro"); err != nil {
		t.Fatal(err)
	}
	next := refresh(t, e, s.Refresh)
	if _, c := claimsOf(t, next.Access); c["plan"] != "pro" || c["role"] != "viewer" {
		t.Fatalf("claims after set-plan: %v", c)
	}
}

func TestRefreshRefusesMalformedAndUnknownTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "junk@example.com", goodPassword)
	s := login(t, e, "junk@example.com", goodPassword)
	t.Run("junk", func(t *testing.T) {
		for name, body := range map[string]any{
			"no token":            map[string]string{},
			"an empty token":      map[string]string{"refreshToken": ""},
			"a short token":       map[string]string{"refreshToken": "abc"},
			"63 characters":       map[string]string{"refreshToken": s.Refresh[:63]},
			"65 characters":       map[string]string{"refreshToken": s.Refresh + "0"},
			"upper-case hex":      map[string]string{"refreshToken": strings.ToUpper(s.Refresh)},
			"an unknown token":    map[string]string{"refreshToken": strings.Repeat("0", 64)},
			"the access token":    map[string]string{"refreshToken": s.Access},
			"SQL":                 map[string]string{"refreshToken": "' OR '1'='1"},
			"padded with spaces":  map[string]string{"refreshToken": " " + s.Refresh + " "},
			"a NUL in the middle": map[string]string{"refreshToken": s.Refresh[:32] + "\x00" + s.Refresh[33:]},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := e.as(t).do("POST", "/auth/refresh", body)
				expect(t, r, http.StatusUnauthorized, "Invalid refresh token")
				if r.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
				}
			})
		}
		t.Run("a number", func(t *testing.T) {
			t.Parallel()
			expect(t, e.as(t).do("POST", "/auth/refresh", `{"refreshToken":42}`), http.StatusBadRequest, "refreshToken must be a string")
		})
	})
	// None of the junk spent or revoked the real token.
	refresh(t, e, s.Refresh)
}

func TestRefreshTokensExpireAfterTheirLifetime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, unlimited())
	registerAndVerify(t, e, "week@example.com", goodPassword)
	early := login(t, e, "week@example.com", goodPassword)
	late := login(t, e, "week@example.com", goodPassword)

	e.Clock.Advance(168*time.Hour - time.Minute)
	refresh(t, e, early.Refresh)
	e.Clock.Advance(2 * time.Minute)
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": late.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
}
