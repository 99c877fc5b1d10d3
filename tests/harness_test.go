// Package tests drives the real router over real storage, black-box: every
// test gets its own database (PostgreSQL when TEST_DATABASE_URL is set, a
// temporary SQLite file otherwise), its own rate-limit namespace (Redis when
// TEST_REDIS_URL is set, in process otherwise), a real SMTP listener and a
// clock it controls.
package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app"
	"apisec/app/clocktest"
	"apisec/app/config"
	"apisec/app/mail/smtptest"
	"apisec/app/tokens"
	"apisec/db/dbtest"
	"apisec/routes"
)

// keyDir holds one RSA pair for the whole package: generating one per test
// would cost more than the tests.
var keyDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "apisec-keys-")
	if err != nil {
		return "", err
	}
	_, _, err = tokens.GenerateKeyPair(dir)
	return dir, err
})

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no debug route listing in test output
	code := m.Run()
	if dir, err := keyDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// clock is a settable clock shared by the app and the test.
type clock = clocktest.Clock

// env is one running API for one test.
type env struct {
	t     testing.TB
	App   *app.App
	URL   string
	Clock *clock
	Mail  *smtptest.Server
	Log   *bytes.Buffer // everything the app logged
	// Metrics is the /metrics URL of the app's own metrics listener, started
	// as serve starts it when METRICS_ADDR is set (127.0.0.1:0 picks a port).
	Metrics string

	vars   map[string]string // the settings it was started with
	prefix string            // its Redis namespace
}

// newEnv starts the API with the test defaults and vars on top (e.g.
// RATE_LIMIT_GLOBAL=off).
func newEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	return startEnv(t, vars, "t"+randomHex(t, 6)+":", clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
}

// newPeer starts a second instance of the API beside e, as a scaled-out
// deployment runs it: the same database, Redis namespace and clock, its
// own process state; vars change its settings on top of e's.
func newPeer(t testing.TB, e *env, vars map[string]string) *env {
	t.Helper()
	merged := maps.Clone(e.vars)
	delete(merged, "SMTP_HOST") // its own mail catcher
	delete(merged, "SMTP_PORT")
	maps.Copy(merged, vars)
	return startEnv(t, merged, e.prefix, e.Clock)
}

func startEnv(t testing.TB, vars map[string]string, prefix string, clk *clock) *env {
	t.Helper()
	dir, err := keyDir()
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	mailSrv := smtptest.Start(t)
	settings := map[string]string{
		"APP_ENV":     "test",
		"BCRYPT_COST": "4",
		"REDIS_URL":   os.Getenv("TEST_REDIS_URL"),
		// A loaded CI machine under -race can take longer than the 100ms
		// default for a healthy Redis; fault tests set their own.
		"REDIS_TIMEOUT":        "2s",
		"JWT_PRIVATE_KEY_PATH": filepath.Join(dir, "jwt-private.pem"),
		"JWT_PUBLIC_KEY_PATH":  filepath.Join(dir, "jwt-public.pem"),
		"SMTP_HOST":            mailSrv.Host(),
		"SMTP_PORT":            strconv.Itoa(mailSrv.Port()),
		"SMTP_FROM":            "no-reply@example.test",
		"APP_BASE_URL":         "https://app.example.test",
	}
	maps.Copy(settings, vars)
	if settings["DATABASE_URL"] == "" {
		settings["DATABASE_URL"] = dbtest.URL(t)
	}
	if _, ok := vars["DATABASE_URL"]; !ok {
		settings["DATABASE_URL"] = dbtest.URL(t)
	}
	cfg, err := config.Load(func(k string) string { return settings[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// TEST_REVOCATION_POLL (not a setting of the app) changes how often it
	// re-reads revocations from the database.
	poll, _ := time.ParseDuration(settings["TEST_REVOCATION_POLL"])
	a, err := app.New(context.Background(), cfg, log, app.Options{
		Now: clk.Now, Migrate: true, RateLimitPrefix: prefix, RevocationPoll: poll,
	})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	if a.Redis != nil {
		dbtest.DeleteKeys(t, a.Redis, "rl:"+prefix+"*") // runs before Close: cleanups are LIFO
	}
	handler, err := routes.New(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	e := &env{t: t, App: a, URL: srv.URL, Clock: clk, Mail: mailSrv, Log: &logs.Buffer, vars: settings, prefix: prefix}
	if a.Metrics != nil {
		ms, err := a.Metrics.Serve(cfg.MetricsAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ms.Close() })
		e.Metrics = "http://" + ms.Addr() + "/metrics"
	}
	return e
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// response is an answer with its body read and, when JSON, decoded.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Error is the body's "error" message, or "".
func (r response) Error() string { s, _ := r.JSON["error"].(string); return s }

// String returns field k of the JSON body as a string.
func (r response) String(k string) string { s, _ := r.JSON[k].(string); return s }

// do sends a request and checks the answer against api/openapi.yaml; body is marshalled to JSON unless it is a string or
// []byte, which go as they are. headers alternate name, value.
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := checkAnswer(req, res.StatusCode, res.Header, raw); err != nil {
		e.t.Error(err)
	}
	out := response{Status: res.StatusCode, Header: res.Header, Body: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return out
}

// expect fails the test unless r has the status and, if msg is not empty,
// the error message.
func expect(t testing.TB, r response, status int, msg string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if msg != "" && r.Error() != msg {
		t.Fatalf("error %q, want %q", r.Error(), msg)
	}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }
