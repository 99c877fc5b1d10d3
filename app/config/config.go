// Package config reads the app's settings once, from the environment and an
// optional .env file, and refuses bad values before anything is opened.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
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
	DBQueryTimeout    time.Duration
	RedisURL          string // empty: in-process rate-limit store
	RedisClusterAddrs []string

	PrivateKeyPath         string
	PublicKeyPath          string
	PreviousPublicKeyPaths []string // older keys still accepted, for rotation
	Issuer                 string
	Audience               string
	AccessTokenTTL         time.Duration
	RefreshTokenTTL        time.Duration
	DeviceTokenTTL         time.Duration
	MailCooldown           time.Duration
	RedisTimeout           time.Duration
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

	UnverifiedAccountTTL time.Duration // purge deletes accounts never verified after this
	LoginEventsRetention time.Duration // purge deletes login events older than this
	PurgeInterval        time.Duration // serve purges this often; 0: only the CLI does

	LogLevel  slog.Level
	PprofAddr string // empty: no profiling listener
	// MetricsAddr is the address of the /metrics listener; empty: none,
	// and nothing is counted.
	MetricsAddr string

	CORSAllowedOrigins []string // exact, lower-case origins; empty: no CORS headers at all

	Host                string // listen address; empty: all interfaces (the production default)
	MaxConnections      int
	MaxConnectionsPerIP int // peers in TrustedProxies are exempt
	HTTPIdleTimeout     time.Duration
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

// ExposesTokens reports whether the verification and reset tokens that are
// mailed are also returned in the answers, so development needs no mail
// server: outside production only. It is the one owner of that rule; the
// accounts service, the listen address default and the start-up warning
// follow it.
func (c *Config) ExposesTokens() bool { return !c.Production() }

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
		DBQueryTimeout:         p.duration("DB_QUERY_TIMEOUT", 5*time.Second),
		RedisURL:               p.str("REDIS_URL", ""),
		RedisClusterAddrs:      p.list("REDIS_CLUSTER_ADDRS"),
		PrivateKeyPath:         p.str("JWT_PRIVATE_KEY_PATH", "config/jwt-private.pem"),
		PublicKeyPath:          p.str("JWT_PUBLIC_KEY_PATH", "config/jwt-public.pem"),
		PreviousPublicKeyPaths: p.list("JWT_PREVIOUS_PUBLIC_KEY_PATHS"),
		Issuer:                 p.str("JWT_ISSUER", "apisec"),
		Audience:               p.str("JWT_AUDIENCE", "apisec-api"),
		AccessTokenTTL:         p.duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL:        p.duration("REFRESH_TOKEN_TTL", 168*time.Hour),
		DeviceTokenTTL:         p.duration("DEVICE_TOKEN_TTL", 2160*time.Hour),
		MailCooldown:           p.duration("MAIL_COOLDOWN", time.Minute),
		RedisTimeout:           p.duration("REDIS_TIMEOUT", 100*time.Millisecond),
		RefreshReuseGrace:      p.duration("REFRESH_REUSE_GRACE", 10*time.Second),
		SessionMaxAge:          p.duration("SESSION_MAX_AGE", 720*time.Hour),
		ClockSkew:              p.duration("JWT_CLOCK_SKEW", 5*time.Second),
		BcryptCost:             p.intRange("BCRYPT_COST", 12, 4, 16), // 17+ takes seconds per login
		BcryptConcurrency:      p.intRange("BCRYPT_CONCURRENCY", max(1, runtime.NumCPU()/2), 1, 1024),
		BcryptWait:             p.duration("BCRYPT_WAIT", 2*time.Second),
		TrustedProxies:         p.list("TRUSTED_PROXIES"),
		BaseURL:                strings.TrimRight(p.str("APP_BASE_URL", "http://localhost:8080"), "/"),
		UnverifiedAccountTTL:   p.duration("UNVERIFIED_ACCOUNT_TTL", 168*time.Hour),
		LoginEventsRetention:   p.duration("LOGIN_EVENTS_RETENTION", 2160*time.Hour),
		PurgeInterval:          p.durationOrOff("PURGE_INTERVAL", time.Hour),
		SMTP: SMTP{
			Host:     p.str("SMTP_HOST", ""),
			Port:     p.intRange("SMTP_PORT", 587, 1, 65535),
			Username: p.str("SMTP_USERNAME", ""),
			Password: p.str("SMTP_PASSWORD", ""),
			From:     p.str("SMTP_FROM", "no-reply@localhost"),
		},
		Rates:       p.rates(),
		LogLevel:    p.logLevel("LOG_LEVEL"),
		PprofAddr:   p.str("PPROF_ADDR", ""),
		MetricsAddr: p.str("METRICS_ADDR", ""),

		CORSAllowedOrigins: p.origins("CORS_ALLOWED_ORIGINS"),

		Host:                p.str("HOST", ""),
		MaxConnections:      p.intRange("MAX_CONNECTIONS", 10000, 1, 1<<20),
		MaxConnectionsPerIP: p.intRange("MAX_CONNECTIONS_PER_IP", 256, 1, 1<<20),
		HTTPIdleTimeout:     p.duration("HTTP_IDLE_TIMEOUT", 60*time.Second),
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
	}{{"ACCESS_TOKEN_TTL", c.AccessTokenTTL}, {"REFRESH_TOKEN_TTL", c.RefreshTokenTTL}, {"DEVICE_TOKEN_TTL", c.DeviceTokenTTL},
		{"BCRYPT_WAIT", c.BcryptWait}, {"HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout},
		{"UNVERIFIED_ACCOUNT_TTL", c.UnverifiedAccountTTL}, {"LOGIN_EVENTS_RETENTION", c.LoginEventsRetention},
		{"SESSION_MAX_AGE", c.SessionMaxAge}} {
		if d.value <= 0 {
			return fmt.Errorf("%s must be a positive duration", d.name)
		}
	}
	if c.RedisTimeout < time.Millisecond || c.RedisTimeout > 10*time.Second {
		return errors.New("REDIS_TIMEOUT must be between 1ms and 10s")
	}
	if c.MailCooldown < 0 || c.MailCooldown > 24*time.Hour {
		return errors.New("MAIL_COOLDOWN must be between 0s (off) and 24h")
	}
	if c.ClockSkew < 0 || c.ClockSkew > time.Minute {
		// More would let a token dated in the future work long before it was issued.
		return errors.New("JWT_CLOCK_SKEW must be between 0s and 1m")
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > time.Minute {
		// A long grace would let a stolen, spent token be replayed unnoticed.
		return errors.New("REFRESH_REUSE_GRACE must be between 0s and 1m")
	}
	if c.DBQueryTimeout < 50*time.Millisecond || c.DBQueryTimeout > time.Minute {
		// Less fails healthy queries over a network; more holds requests
		// (and the client) through an outage.
		return errors.New("DB_QUERY_TIMEOUT must be between 50ms and 1m")
	}
	if c.RefreshReuseGrace > 0 && c.RefreshReuseGrace <= c.DBQueryTimeout {
		// A refresh whose commit acknowledgement is lost answers 503 up to
		// DB_QUERY_TIMEOUT after it spent the token; the client's retry must
		// still fall inside the grace window, or it revokes the session.
		return errors.New("REFRESH_REUSE_GRACE must be longer than DB_QUERY_TIMEOUT (or 0s, no grace), so a client retrying a refresh after a 503 is not logged out")
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR must be host:port (e.g. 127.0.0.1:9090), not %q", c.MetricsAddr)
		}
	}
	if c.DatabaseURL == "" && !c.Production() {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.Host == "" && c.ExposesTokens() {
		// A server that hands out verification and reset tokens in its
		// answers: only this machine may reach it unless told otherwise.
		c.Host = "127.0.0.1"
	}
	return nil
}

// TrustedProxyPrefixes returns TRUSTED_PROXIES as prefixes, a bare address
// as its own /32 or /128. Load has checked every entry.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, _ := netip.ParseAddr(s)
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
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

// durationOrOff is a positive duration, or "off" for 0.
func (p *parser) durationOrOff(name string, def time.Duration) time.Duration {
	if p.str(name, "") == "off" {
		return 0
	}
	d := p.duration(name, def)
	if d <= 0 {
		p.fail(name, errors.New("must be a positive duration such as 1h, or off"))
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

// rates reads every limiter's setting, from the one list of policies.
func (p *parser) rates() ratelimit.Rates {
	r := ratelimit.Rates{ByPolicy: make(map[string]limiter.Rate, len(ratelimit.Policies)), Plans: p.plans("PLAN_RATE_LIMITS")}
	for _, pol := range ratelimit.Policies {
		r.ByPolicy[pol.Name] = p.rate(pol.Setting, pol.Default)
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

// origins reads a list of exact origins (scheme://host[:port]). Wildcards,
// paths and "null" are refused: an entry that matched more than the operator
// typed would let another site's pages read the API's answers.
func (p *parser) origins(name string) []string {
	list := p.list(name)
	for i, o := range list {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Contains(o, "*") ||
			u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
			p.fail(name, fmt.Errorf("%q is not an origin such as https://app.example.com", o))
			return nil
		}
		list[i] = strings.ToLower(o) // browsers send origins in lower case
	}
	return list
}

func (p *parser) logLevel(name string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(p.str(name, "info"))); err != nil {
		p.fail(name, errors.New("must be debug, info, warn or error"))
	}
	return l
}
