// Package config reads the app's settings once, from the environment and an
// optional .env file, and refuses bad values before anything is opened.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"github.com/ulule/limiter/v3"

	"apisec/app/ratelimit"
)

// Environments.
const (
	Development = "development"
	Test        = "test"
	Production  = "production"
)

// DefaultDatabaseURL is the embedded SQLite file used outside production.
const DefaultDatabaseURL = "sqlite:data/app.db"

// Config is every setting of the contract, parsed.
type Config struct {
	Env  string
	Port int

	DatabaseURL       string // never empty after Load
	DBMaxOpenConns    int
	DBMaxIdleConns    int
	RedisURL          string // empty: in-process rate-limit store
	RedisClusterAddrs []string

	PrivateKeyPath         string
	PublicKeyPath          string
	PreviousPublicKeyPaths []string // older keys still accepted, for rotation
	Issuer                 string
	Audience               string
	AccessTokenTTL         time.Duration
	RefreshTokenTTL        time.Duration
	RefreshReuseGrace      time.Duration
	SessionMaxAge          time.Duration // absolute lifetime of a login, whatever its refreshes
	ClockSkew              time.Duration // tolerated on iat and nbf, never on exp

	BcryptCost        int
	BcryptConcurrency int           // bcrypt operations at once; half the CPUs, so a login flood leaves the rest of the API the other half
	BcryptWait        time.Duration // longest wait for a bcrypt slot before 503

	TrustedProxies []string
	BaseURL        string
	SMTP           SMTP

	Rates ratelimit.Rates // a zero rate is off

	LogLevel  slog.Level
	PprofAddr string // empty: no profiling listener
}

// SMTP is the outgoing mail server; Host empty means mail goes to the log.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
}

// Production reports whether the app runs with production rules.
func (c *Config) Production() bool { return c.Env == Production }

// WithDotenv layers getenv over the .env file at path (if there is one):
// a variable set in the environment wins. The process environment is never
// changed.
func WithDotenv(getenv func(string) string, path string) (func(string) string, error) {
	file, err := godotenv.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return file[k]
	}, nil
}

// Load parses the settings from getenv. The error names the variable.
func Load(getenv func(string) string) (*Config, error) {
	p := parser{getenv: getenv}
	c := &Config{
		Env:                    p.str("APP_ENV", Development),
		Port:                   p.intRange("PORT", 8080, 1, 65535),
		DatabaseURL:            p.str("DATABASE_URL", ""),
		DBMaxOpenConns:         p.intRange("DB_MAX_OPEN_CONNS", 20, 1, 1000),
		DBMaxIdleConns:         p.intRange("DB_MAX_IDLE_CONNS", 20, 0, 1000),
		RedisURL:               p.str("REDIS_URL", ""),
		RedisClusterAddrs:      p.list("REDIS_CLUSTER_ADDRS"),
		PrivateKeyPath:         p.str("JWT_PRIVATE_KEY_PATH", "config/jwt-private.pem"),
		PublicKeyPath:          p.str("JWT_PUBLIC_KEY_PATH", "config/jwt-public.pem"),
		PreviousPublicKeyPaths: p.list("JWT_PREVIOUS_PUBLIC_KEY_PATHS"),
		Issuer:                 p.str("JWT_ISSUER", "apisec"),
		Audience:               p.str("JWT_AUDIENCE", "apisec-api"),
		AccessTokenTTL:         p.duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL:        p.duration("REFRESH_TOKEN_TTL", 168*time.Hour),
		RefreshReuseGrace:      p.duration("REFRESH_REUSE_GRACE", 10*time.Second),
		SessionMaxAge:          p.duration("SESSION_MAX_AGE", 720*time.Hour),
		ClockSkew:              p.duration("JWT_CLOCK_SKEW", 5*time.Second),
		BcryptCost:             p.intRange("BCRYPT_COST", 12, 4, 16), // 17+ takes seconds per login
		BcryptConcurrency:      p.intRange("BCRYPT_CONCURRENCY", max(1, runtime.NumCPU()/2), 1, 1024),
		BcryptWait:             p.duration("BCRYPT_WAIT", 2*time.Second),
		TrustedProxies:         p.list("TRUSTED_PROXIES"),
		BaseURL:                strings.TrimRight(p.str("APP_BASE_URL", "http://localhost:8080"), "/"),
		SMTP: SMTP{
			Host:     p.str("SMTP_HOST", ""),
			Port:     p.intRange("SMTP_PORT", 587, 1, 65535),
			Username: p.str("SMTP_USERNAME", ""),
			Password: p.str("SMTP_PASSWORD", ""),
			From:     p.str("SMTP_FROM", "no-reply@localhost"),
		},
		Rates: ratelimit.Rates{
			Global:        p.rate("RATE_LIMIT_GLOBAL", "100/1m"),
			Login:         p.rate("RATE_LIMIT_LOGIN", "5/15m"),
			Authenticated: p.rate("RATE_LIMIT_AUTHENTICATED", "300/1m"),
			Plans:         p.plans("PLAN_RATE_LIMITS"),
		},
		LogLevel:  p.logLevel("LOG_LEVEL"),
		PprofAddr: p.str("PPROF_ADDR", ""),
	}
	if p.err != nil {
		return nil, p.err
	}
	return c, c.check()
}

// check applies the rules that span variables.
func (c *Config) check() error {
	switch c.Env {
	case Development, Test, Production:
	default:
		return fmt.Errorf("APP_ENV must be development, test or production, not %q", c.Env)
	}
	if c.BcryptCost < 10 && c.Env != Test {
		return fmt.Errorf("BCRYPT_COST must be at least 10 outside APP_ENV=test, not %d", c.BcryptCost)
	}
	for _, p := range c.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		switch {
		case err == nil && pfx.Bits() == 0:
			return fmt.Errorf("TRUSTED_PROXIES: %q would let any client choose its IP", p)
		case err != nil:
			if _, err := netip.ParseAddr(p); err != nil {
				return fmt.Errorf("TRUSTED_PROXIES: %q is neither a CIDR nor an IP address", p)
			}
		}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"ACCESS_TOKEN_TTL", c.AccessTokenTTL}, {"REFRESH_TOKEN_TTL", c.RefreshTokenTTL}, {"BCRYPT_WAIT", c.BcryptWait}, {"SESSION_MAX_AGE", c.SessionMaxAge}} {
		if d.value <= 0 {
			return fmt.Errorf("%s must be a positive duration", d.name)
		}
	}
	if c.ClockSkew < 0 || c.ClockSkew > time.Minute {
		// More would let a token dated in the future work long before it was issued.
		return errors.New("JWT_CLOCK_SKEW must be between 0s and 1m")
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > time.Minute {
		// A long grace would let a stolen, spent token be replayed unnoticed.
		return errors.New("REFRESH_REUSE_GRACE must be between 0s and 1m")
	}
	if c.DatabaseURL == "" && !c.Production() {
		c.DatabaseURL = DefaultDatabaseURL
	}
	return nil
}

// CheckServe is the start-up check of `serve`: production refuses to run
// without its own database, Redis and key pair, and names everything
// missing at once.
func (c *Config) CheckServe() error {
	if !c.Production() {
		return nil
	}
	var missing []string
	if c.DatabaseURL == "" {
		missing = append(missing, "DATABASE_URL")
	}
	if c.RedisURL == "" {
		missing = append(missing, "REDIS_URL")
	}
	for _, f := range []struct{ name, path string }{
		{"JWT_PRIVATE_KEY_PATH", c.PrivateKeyPath}, {"JWT_PUBLIC_KEY_PATH", c.PublicKeyPath},
	} {
		if _, err := os.Stat(f.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", f.name, f.path))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("production needs %s", strings.Join(missing, ", "))
	}
	return nil
}

// parser keeps the first error so Load reads as a list of settings.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(name string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %w", name, err)
	}
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) list(name string) []string {
	var out []string
	for _, s := range strings.Split(p.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) intRange(name string, def, lo, hi int) int {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Errorf("must be an integer from %d to %d, not %q", lo, hi, v))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, fmt.Errorf("must be a duration such as 15m or 168h, not %q", v))
		return def
	}
	return d
}

func (p *parser) rate(name, def string) limiter.Rate {
	r, off, err := ratelimit.ParseRate(p.str(name, def))
	if err != nil {
		p.fail(name, err)
	}
	if err != nil || off {
		return limiter.Rate{}
	}
	return r
}

func (p *parser) plans(name string) map[string]limiter.Rate {
	m, err := ratelimit.ParsePlans(p.str(name, ""))
	if err != nil {
		p.fail(name, err)
	}
	return m
}

func (p *parser) logLevel(name string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(p.str(name, "info"))); err != nil {
		p.fail(name, errors.New("must be debug, info, warn or error"))
	}
	return l
}
