package config

import (
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
	if r.Global.Limit != 100 || r.Global.Period != time.Minute || r.Login.Limit != 5 || r.Login.Period != 15*time.Minute ||
		r.Authenticated.Limit != 300 || r.Authenticated.Period != time.Minute {
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
	if c.Rates.Login.Limit != 0 {
		t.Fatalf("login limit %+v, want off", c.Rates.Login)
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
