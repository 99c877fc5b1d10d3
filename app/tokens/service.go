// Package tokens issues and verifies the API's RS256 access tokens, publishes
// their keys as a JWK Set, and provides the refresh-token primitives. It
// knows nothing of HTTP or storage.
package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"apisec/app/errs"
	"apisec/models"
)

// DefaultCacheSize is the number of verified tokens kept when Config.CacheSize is 0.
const DefaultCacheSize = 16384

// Config configures a Service.
type Config struct {
	PrivateKey   *rsa.PrivateKey  // signs new tokens; its public half verifies them
	PreviousKeys []*rsa.PublicKey // retired keys still accepted and published during a rotation
	Issuer       string           // iss, required on every token
	Audience     string           // aud, required on every token
	TTL          time.Duration    // access-token lifetime, e.g. 15m
	ClockSkew    time.Duration    // tolerated on iat and nbf only, so instances a little apart accept each other's fresh tokens; never on exp
	Clock        func() time.Time // nil means time.Now
	CacheSize    int              // verified tokens remembered; 0 means DefaultCacheSize, negative disables
	Revocations  Revocations      // ended sessions, checked on every verification; nil: none
}

// Revocations says whether a session was ended before its tokens expire.
// It is asked on every verification, cache hits included, so it must answer
// from memory.
type Revocations interface {
	Revoked(session string) bool
}

// Service issues and verifies access tokens. It is immutable after New and
// safe for concurrent use.
type Service struct {
	priv     *rsa.PrivateKey
	kid      string
	keys     map[string]*rsa.PublicKey // by kid: the current key and the previous ones
	jwks     []byte
	issuer   string
	audience string
	ttl      time.Duration
	skew     time.Duration
	clock    func() time.Time
	parser   *jwt.Parser
	// deviceParser differs only in the audience: device tokens never pass
	// as access tokens, nor the other way round.
	deviceParser *jwt.Parser
	cache        *verifiedCache // nil when disabled
	revoked      Revocations    // nil: no session is ever ended early
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.PrivateKey == nil:
		return nil, errors.New("tokens: no private key")
	case cfg.PrivateKey.N.BitLen() < MinRSABits:
		return nil, fmt.Errorf("tokens: RSA key is %d bits; at least %d required", cfg.PrivateKey.N.BitLen(), MinRSABits)
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("tokens: issuer and audience are required")
	case cfg.TTL <= 0:
		return nil, errors.New("tokens: TTL must be positive")
	case cfg.ClockSkew < 0:
		return nil, errors.New("tokens: clock skew must not be negative")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &Service{
		priv:     cfg.PrivateKey,
		kid:      Thumbprint(&cfg.PrivateKey.PublicKey),
		keys:     make(map[string]*rsa.PublicKey, 1+len(cfg.PreviousKeys)),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		skew:     cfg.ClockSkew,
		clock:    clock,
		revoked:  cfg.Revocations,
	}
	published := []*rsa.PublicKey{&cfg.PrivateKey.PublicKey}
	s.keys[s.kid] = &cfg.PrivateKey.PublicKey
	for i, k := range cfg.PreviousKeys {
		if k == nil || k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("tokens: previous key %d is missing or under %d bits", i, MinRSABits)
		}
		kid := Thumbprint(k)
		if _, dup := s.keys[kid]; dup {
			continue
		}
		s.keys[kid] = k
		published = append(published, k)
	}
	s.jwks = renderJWKS(published)
	parser := func(audience string) *jwt.Parser {
		return jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithStrictDecoding(), // one encoding per signature: no malleable trailing bits
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(audience),
			// The parser applies its leeway to exp too; Verify checks exp
			// again without it, so only iat and nbf get the skew.
			jwt.WithLeeway(cfg.ClockSkew),
			jwt.WithTimeFunc(clock),
		)
	}
	s.parser, s.deviceParser = parser(cfg.Audience), parser(s.deviceAudience())
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		s.cache = newVerifiedCache(size)
	}
	return s, nil
}

// KeyID returns the kid of the current signing key.
func (s *Service) KeyID() string { return s.kid }

// TTL returns the access-token lifetime.
func (s *Service) TTL() time.Duration { return s.ttl }

// JWKS returns the JWK Set of the current and previous public keys, ready to
// serve. Callers must not modify it.
func (s *Service) JWKS() []byte { return s.jwks }

// accessClaims is the token payload.
type accessClaims struct {
	Session string      `json:"sid"`
	Role    models.Role `json:"role"`
	Plan    string      `json:"plan"`
	jwt.RegisteredClaims
}

var (
	errBadClaims  = errors.New("token lacks sub, sid, role, plan, jti or iat, or one of them is malformed")
	errNotNumeric = errors.New("exp, iat and nbf must be JSON numbers")
)

// Validate is called by the jwt parser after the standard claims checks.
// Every claim the API later uses is checked for shape here, so no token
// content can reach a query or a log line malformed.
func (c *accessClaims) Validate() error {
	if !models.ValidID(c.Subject) || !models.ValidID(c.Session) || !models.ValidPlan(c.Plan) || c.ID == "" || len(c.ID) > 64 ||
		c.IssuedAt == nil || !c.Role.Valid() {
		return errBadClaims
	}
	return nil
}

// UnmarshalJSON refuses the time claims in any form but a JSON number: jwt's
// NumericDate also accepts a numeric string, which RFC 7519 does not.
func (c *accessClaims) UnmarshalJSON(b []byte) error {
	var times struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &times); err != nil {
		return err
	}
	for _, raw := range []json.RawMessage{times.Exp, times.Iat, times.Nbf} {
		if len(raw) > 0 && raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return errNotNumeric
		}
	}
	type plain accessClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// Grant is what an access token asserts: who, in which session, with which
// role and plan.
type Grant struct {
	Subject, Session, Plan string
	Role                   models.Role
	// NotAfter, when set, caps the token's exp (the session's end); the TTL
	// applies otherwise.
	NotAfter time.Time
}

// Issued is a signed access token and its validity.
type Issued struct {
	Token               string
	IssuedAt, ExpiresAt time.Time // the iat and exp claims
}

// ExpiresIn is the token's lifetime in whole seconds, as a token answer
// states it.
func (i Issued) ExpiresIn() int64 { return int64(i.ExpiresAt.Sub(i.IssuedAt) / time.Second) }

// ErrPastNotAfter is Issue's answer when g.NotAfter leaves the token not a
// second to live.
var ErrPastNotAfter = errors.New("issue token: the session ends within the second")

// Issue signs an access token for g, valid for the configured TTL or until
// g.NotAfter, whichever comes first.
func (s *Service) Issue(g Grant) (Issued, error) {
	if g.Subject == "" || g.Session == "" || g.Plan == "" || !g.Role.Valid() {
		return Issued{}, fmt.Errorf("issue token: invalid claims (sub %q, sid %q, role %q, plan %q)", g.Subject, g.Session, g.Role, g.Plan)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Issued{}, fmt.Errorf("issue token: %w", err)
	}
	// NumericDate has one-second precision; truncating first makes the
	// returned times equal the claims.
	now := s.clock().Truncate(time.Second)
	exp := now.Add(s.ttl)
	if !g.NotAfter.IsZero() {
		if end := g.NotAfter.Truncate(time.Second); end.Before(exp) {
			exp = end
		}
		if !exp.After(now) {
			return Issued{}, ErrPastNotAfter
		}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, &accessClaims{
		Session: g.Session,
		Role:    g.Role,
		Plan:    g.Plan,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   g.Subject,
			Audience:  jwt.ClaimStrings{s.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        b64.EncodeToString(id[:]),
		},
	})
	t.Header["kid"] = s.kid
	token, err := t.SignedString(s.priv)
	if err != nil {
		return Issued{}, fmt.Errorf("issue token: %w", err)
	}
	return Issued{Token: token, IssuedAt: now, ExpiresAt: exp}, nil
}

// Verify checks token and returns its claims. The only errors are
// errs.ErrTokenExpired, for a token this service issued whose only defect is
// its age, and errs.ErrInvalidToken for anything else, a token of an ended
// session included. The session is checked after the cache, so a token
// verified before its session ended is refused from then on.
func (s *Service) Verify(token string) (Claims, error) {
	c, err := s.verify(token)
	if err == nil && s.revoked != nil && s.revoked.Revoked(c.Session) {
		return Claims{}, errs.ErrInvalidToken
	}
	return c, err
}

// verify checks the token itself, through the cache.
func (s *Service) verify(token string) (Claims, error) {
	if token == "" || len(token) > MaxTokenLen {
		return Claims{}, errs.ErrInvalidToken
	}
	key, c, ok := s.cached(token)
	if ok {
		return c, nil
	}
	var ac accessClaims
	if _, err := s.parser.ParseWithClaims(token, &ac, s.keyFor); err != nil {
		if onlyExpired(err) {
			return Claims{}, errs.ErrTokenExpired
		}
		return Claims{}, errs.ErrInvalidToken
	}
	if !s.clock().Before(ac.ExpiresAt.Time) { // exact: the parser allowed the skew on exp too
		return Claims{}, errs.ErrTokenExpired
	}
	c = Claims{
		Subject:   ac.Subject,
		Session:   ac.Session,
		Role:      ac.Role,
		Plan:      ac.Plan,
		ID:        ac.ID,
		IssuedAt:  ac.IssuedAt.Time,
		ExpiresAt: ac.ExpiresAt.Time,
	}
	if s.cache != nil {
		// The window in which the parser would accept the token again: a
		// hit outside it falls through to a full verification.
		from := c.IssuedAt
		if ac.NotBefore != nil && ac.NotBefore.After(from) {
			from = ac.NotBefore.Time
		}
		s.cache.put(key, cacheEntry{claims: c, from: from.Add(-s.skew), until: c.ExpiresAt})
	}
	return c, nil
}

// Cached answers from the verified-token cache alone: ok when token passed a
// full verification before and would pass one now. No signature is checked,
// so callers may use it before deciding whether a check is affordable.
func (s *Service) Cached(token string) (Claims, bool) {
	if token == "" || len(token) > MaxTokenLen {
		return Claims{}, false
	}
	_, c, ok := s.cached(token)
	if !ok || s.revoked != nil && s.revoked.Revoked(c.Session) {
		return Claims{}, false
	}
	return c, true
}

func (s *Service) cached(token string) (key cacheKey, c Claims, ok bool) {
	if s.cache == nil {
		return key, Claims{}, false
	}
	key = sha256.Sum256([]byte(token))
	c, ok = s.cache.get(key, s.clock())
	return key, c, ok
}

var errUnknownKey = errors.New("unknown kid")

var errCritical = errors.New("crit header: no extension is understood")

// keyFor picks the verification key by kid; a token without a known kid is
// never tried against every key. It also refuses a crit header: this
// service understands no JWS extension, and RFC 7515 says a token naming
// one it does not understand is invalid.
func (s *Service) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritical
	}
	kid, _ := t.Header["kid"].(string)
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKey
}

// onlyExpired reports whether the parser rejected the token for its age and
// nothing else. The parser joins every failed claim check, so an expired
// token with a wrong issuer or role stays "invalid": "Token expired" is only
// ever said of a token this service would otherwise accept. Any error the
// walk does not recognise counts as invalid.
func onlyExpired(err error) bool {
	expired := false
	var walk func(error) bool
	walk = func(e error) bool {
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if !walk(inner) {
					return false
				}
			}
			return true
		case interface{ Unwrap() error }:
			return walk(u.Unwrap())
		}
		switch e {
		case jwt.ErrTokenExpired:
			expired = true
			return true
		case jwt.ErrTokenInvalidClaims: // the wrapper the parser adds to claim failures
			return true
		}
		return false
	}
	return walk(err) && expired
}
