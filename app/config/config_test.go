package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsMatchTheContract(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != Development || c.Port != 8080 || c.DatabaseURL != DefaultDatabaseURL || c.RedisURL != "" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 168*time.Hour || c.RefreshReuseGrace != 10*time.Second {
		t.Fatalf("unexpected lifetimes: %v %v %v", c.AccessTokenTTL, c.RefreshTokenTTL, c.RefreshReuseGrace)
	}
	if c.DBQueryTimeout != 5*time.Second {
		t.Fatalf("DB_QUERY_TIMEOUT defaults to %v", c.DBQueryTimeout)
	}
	if c.ClockSkew != 5*time.Second {
		t.Fatalf("JWT_CLOCK_SKEW defaults to %v", c.ClockSkew)
	}
	if c.SessionMaxAge != 720*time.Hour {
		t.Fatalf("SESSION_MAX_AGE defaults to %v", c.SessionMaxAge)
	}
	if c.BcryptCost != 12 || len(c.TrustedProxies) != 0 || c.BaseURL != "http://localhost:8080" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	r := c.Rates
	if r.ByPolicy["global"].Limit != 100 || r.ByPolicy["global"].Period != time.Minute || r.ByPolicy["login"].Limit != 5 || r.ByPolicy["login"].Period != 15*time.Minute ||
		r.ByPolicy["authenticated"].Limit != 300 || r.ByPolicy["authenticated"].Period != time.Minute {
		t.Fatalf("unexpected rates: %+v", r)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"APP_ENV":                  {"APP_ENV": "staging"},
		"PORT":                     {"PORT": "http"},
		"ACCESS_TOKEN_TTL":         {"ACCESS_TOKEN_TTL": "15 minutes"},
		"REFRESH_TOKEN_TTL":        {"REFRESH_TOKEN_TTL": "-1h"},
		"BCRYPT_COST":              {"BCRYPT_COST": "9"},
		"RATE_LIMIT_GLOBAL":        {"RATE_LIMIT_GLOBAL": "100 per minute"},
		"RATE_LIMIT_LOGIN":         {"RATE_LIMIT_LOGIN": "5/"},
		"RATE_LIMIT_AUTHENTICATED": {"RATE_LIMIT_AUTHENTICATED": "-3/1m"},
		"PLAN_RATE_LIMITS":         {"PLAN_RATE_LIMITS": "free=60"},
		"TRUSTED_PROXIES":          {"TRUSTED_PROXIES": "10.0.0.0/33"},
		"LOG_LEVEL":                {"LOG_LEVEL": "loud"},
		"JWT_CLOCK_SKEW":           {"JWT_CLOCK_SKEW": "2m"},
		"JWT_CLOCK_SKEW ":          {"JWT_CLOCK_SKEW": "-1s"},
		"REFRESH_REUSE_GRACE":      {"REFRESH_REUSE_GRACE": "2m"},
		"REFRESH_REUSE_GRACE ":     {"REFRESH_REUSE_GRACE": "-1s"},
		"DB_QUERY_TIMEOUT":         {"DB_QUERY_TIMEOUT": "5"},
		"DB_QUERY_TIMEOUT ":        {"DB_QUERY_TIMEOUT": "10ms"},
		"DB_QUERY_TIMEOUT  ":       {"DB_QUERY_TIMEOUT": "2m"},
		"SESSION_MAX_AGE":          {"SESSION_MAX_AGE": "0s"},
		"SESSION_MAX_AGE ":         {"SESSION_MAX_AGE": "a month"},
	}
	for name, vars := range cases {
		_, err := Load(env(vars))
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%v: error %v does not name %s", vars, err, name)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error is not one line: %q", vars, err)
		}
	}
}

func TestTheRefreshGraceMustOutlastTheQueryTimeout(t *testing.T) {
	t.Parallel()
	// A client that got a 503 for a refresh whose commit was lost retries
	// up to DB_QUERY_TIMEOUT after the token was spent.
	for _, vars := range []map[string]string{
		{"REFRESH_REUSE_GRACE": "5s"}, // the default timeout
		{"REFRESH_REUSE_GRACE": "2s", "DB_QUERY_TIMEOUT": "3s"},
	} {
		_, err := Load(env(vars))
		if err == nil || !strings.Contains(err.Error(), "REFRESH_REUSE_GRACE must be longer than DB_QUERY_TIMEOUT") {
			t.Errorf("%v: %v", vars, err)
		}
	}
	for _, vars := range []map[string]string{
		{"REFRESH_REUSE_GRACE": "0s"}, // no grace at all stays a choice
		{"REFRESH_REUSE_GRACE": "6s"},
		{"REFRESH_REUSE_GRACE": "1s", "DB_QUERY_TIMEOUT": "300ms"},
	} {
		if _, err := Load(env(vars)); err != nil {
			t.Errorf("%v: %v", vars, err)
		}
	}
}

func TestCatchAllTrustedProxiesAreRefused(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0.0.0.0/0", "10.0.0.1,::/0"} {
		if _, err := Load(env(map[string]string{"TRUSTED_PROXIES": v})); err == nil || !strings.Contains(err.Error(), "any client") {
			t.Errorf("%s: %v", v, err)
		}
	}
	if _, err := Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"})); err != nil {
		t.Fatal(err)
	}
}

func TestLowBcryptCostIsAllowedOnlyInTests(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"APP_ENV": "test", "BCRYPT_COST": "4"}))
	if err != nil || c.BcryptCost != 4 {
		t.Fatalf("test env with cost 4: %v", err)
	}
	if _, err := Load(env(map[string]string{"APP_ENV": "production", "BCRYPT_COST": "4"})); err == nil {
		t.Fatal("production accepted cost 4")
	}
}

func TestOffDisablesALimiter(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"RATE_LIMIT_LOGIN": "off", "PLAN_RATE_LIMITS": "free=60/1m,paid=600/1m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rates.ByPolicy["login"].Limit != 0 {
		t.Fatalf("login limit %+v, want off", c.Rates.ByPolicy["login"])
	}
	if c.Rates.Plans["paid"].Limit != 600 || c.Rates.Plans["free"].Limit != 60 {
		t.Fatalf("plans %+v", c.Rates.Plans)
	}
}

func TestProductionNamesEverythingItMisses(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"APP_ENV": "production", "JWT_PRIVATE_KEY_PATH": "/nonexistent/k.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "" {
		t.Fatalf("production got a default database: %s", c.DatabaseURL)
	}
	err = c.CheckServe()
	for _, want := range []string{"DATABASE_URL", "REDIS_URL", "JWT_PRIVATE_KEY_PATH", "JWT_PUBLIC_KEY_PATH"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestEnvironmentWinsOverDotenv(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("PORT=9090\nJWT_ISSUER=from-file\n# comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv, err := WithDotenv(env(map[string]string{"PORT": "7070"}), path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7070 || c.Issuer != "from-file" {
		t.Fatalf("port %d issuer %q", c.Port, c.Issuer)
	}
	if _, err := WithDotenv(env(nil), filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Fatalf("a missing .env is fine: %v", err)
	}
}

// CORS origins are exact: anything that would match more than one origin, or
// is not an origin at all, stops the program naming the variable.
func TestCORSAllowedOriginsAreExactOrigins(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"CORS_ALLOWED_ORIGINS": " https://App.Example.com , http://localhost:5173,"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.CORSAllowedOrigins, " "); got != "https://app.example.com http://localhost:5173" {
		t.Fatalf("origins %q", got)
	}
	for _, bad := range []string{"*", "https://*.example.com", "app.example.com", "https://app.example.com/", "https://app.example.com/x",
		"ftp://app.example.com", "null", "https://user@app.example.com", "https://app.example.com?", "https://"} {
		_, err := Load(env(map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.example.com," + bad}))
		if err == nil || !strings.Contains(err.Error(), "CORS_ALLOWED_ORIGINS") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

func TestConnectionSettingsDefaultToTheContract(t *testing.T) {
	t.Parallel()
	for appEnv, host := range map[string]string{Development: "127.0.0.1", Test: "127.0.0.1", Production: ""} {
		c, err := Load(env(map[string]string{"APP_ENV": appEnv}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Host != host || c.MaxConnections != 10000 || c.MaxConnectionsPerIP != 256 || c.HTTPIdleTimeout != 60*time.Second {
			t.Errorf("%s: HOST %q, MAX_CONNECTIONS %d, MAX_CONNECTIONS_PER_IP %d, HTTP_IDLE_TIMEOUT %v",
				appEnv, c.Host, c.MaxConnections, c.MaxConnectionsPerIP, c.HTTPIdleTimeout)
		}
	}
	c, err := Load(env(map[string]string{"HOST": "0.0.0.0", "TRUSTED_PROXIES": "10.1.2.3/8, 192.0.2.7, ::ffff:198.51.100.1, 2001:db8::/32"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "0.0.0.0" {
		t.Errorf("HOST %q", c.Host)
	}
	if got := fmt.Sprint(c.TrustedProxyPrefixes()); got != "[10.0.0.0/8 192.0.2.7/32 198.51.100.1/32 2001:db8::/32]" {
		t.Errorf("trusted proxy prefixes %s", got)
	}
	for name, v := range map[string]string{"MAX_CONNECTIONS": "0", "MAX_CONNECTIONS_PER_IP": "many", "HTTP_IDLE_TIMEOUT": "0s"} {
		if _, err := Load(env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v", name, v, err)
		}
	}
}

func TestRetentionSettingsDefaultParseAndRefuseBadValues(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.UnverifiedAccountTTL != 168*time.Hour || c.LoginEventsRetention != 2160*time.Hour || c.PurgeInterval != time.Hour {
		t.Fatalf("defaults %v %v %v", c.UnverifiedAccountTTL, c.LoginEventsRetention, c.PurgeInterval)
	}
	c, err = Load(env(map[string]string{"PURGE_INTERVAL": "off", "UNVERIFIED_ACCOUNT_TTL": "48h", "LOGIN_EVENTS_RETENTION": "720h"}))
	if err != nil || c.PurgeInterval != 0 || c.UnverifiedAccountTTL != 48*time.Hour || c.LoginEventsRetention != 720*time.Hour {
		t.Fatalf("%+v %v", c, err)
	}
	for name, value := range map[string]string{
		"PURGE_INTERVAL":         "0s",
		"PURGE_INTERVAL ":        "hourly",
		"UNVERIFIED_ACCOUNT_TTL": "-1h",
		"LOGIN_EVENTS_RETENTION": "0",
	} {
		name = strings.TrimSpace(name)
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: error %v, want one line naming it", name, value, err)
		}
	}
}
