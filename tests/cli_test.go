package tests

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"apisec/cli"
	"apisec/db/dbtest"
)

// runCLI runs the binary's command line in-process with vars as its whole
// environment and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIWithStdin(t, ctx, vars, "", args...)
}

func runCLIWithStdin(t *testing.T, ctx context.Context, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, args, cli.Env{
		Getenv: func(k string) string { return vars[k] },
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
	})
	return code, stdout.String(), stderr.String()
}

func cliVars(t *testing.T) map[string]string {
	dir, err := keyDir()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"APP_ENV":              "test",
		"BCRYPT_COST":          "4",
		"DATABASE_URL":         dbtest.URL(t),
		"REDIS_URL":            os.Getenv("TEST_REDIS_URL"),
		"JWT_PRIVATE_KEY_PATH": filepath.Join(dir, "jwt-private.pem"),
		"JWT_PUBLIC_KEY_PATH":  filepath.Join(dir, "jwt-public.pem"),
	}
}

func TestBadCommandsAndFlagsExitWithUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := cliVars(t)
	for _, args := range [][]string{
		{"frobnicate"},
		{"serve", "now"},
		{"migrate"},
		{"migrate", "sideways"},
		{"migrate", "up", "extra"},
		{"migrate", "create"},
		{"migrate", "create", "Bad Name"},
		{"keys"},
		{"keys", "generate", "--bogus"},
		{"users"},
		{"users", "delete"},
		{"users", "create", "--email"},
		{"users", "create", "--email", "a@example.com", "--password", "Valid-Passw0rd-1", "--role", "root"},
		{"users", "create", "--email", "not-an-email", "--password", "Valid-Passw0rd-1"},
		{"users", "create", "--email", "a@example.com", "--password", "short"},
		{"users", "set-role", "--email", "a@example.com", "--role", "superuser"},
	} {
		code, _, stderr := runCLI(t, ctx, vars, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if !strings.HasPrefix(stderr, "error: ") {
			t.Errorf("%v: stderr %q", args, stderr)
		}
	}
}

func TestBadConfigurationStopsWithOneLine(t *testing.T) {
	t.Parallel()
	vars := cliVars(t)
	vars["RATE_LIMIT_LOGIN"] = "five per minute"
	code, _, stderr := runCLI(t, context.Background(), vars, "migrate", "status")
	if code != 1 || !strings.Contains(stderr, "RATE_LIMIT_LOGIN") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestMigrateAgainstAnUnreachableDatabaseFailsCleanly(t *testing.T) {
	t.Parallel()
	vars := cliVars(t)
	vars["DATABASE_URL"] = "postgres://postgres:hunter2@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2"
	code, _, stderr := runCLI(t, context.Background(), vars, "migrate", "up")
	if code != 1 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "hunter2") {
		t.Fatalf("password leaked: %q", stderr)
	}
}

func TestProductionRefusesToServeWithoutItsSettings(t *testing.T) {
	t.Parallel()
	code, _, stderr := runCLI(t, context.Background(), map[string]string{"APP_ENV": "production"}, "serve")
	for _, want := range []string{"DATABASE_URL", "REDIS_URL", "JWT_PRIVATE_KEY_PATH"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q lacks %s", code, stderr, want)
		}
	}
}

func TestMigrateUpStatusVersionDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := cliVars(t)
	if code, out, stderr := runCLI(t, ctx, vars, "migrate", "up"); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("up: %d %q %q", code, out, stderr)
	}
	if code, out, _ := runCLI(t, ctx, vars, "migrate", "version"); code != 0 || strings.TrimSpace(out) == "0" {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, ctx, vars, "migrate", "status"); code != 0 || strings.Contains(out, "pending") {
		t.Fatalf("status: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, ctx, vars, "migrate", "down"); code != 0 || !strings.Contains(out, "rolled back") {
		t.Fatalf("down: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, ctx, vars, "migrate", "status"); code != 0 || strings.Count(out, "pending") != 1 {
		t.Fatalf("status after down: %d %q", code, out)
	}
}

func TestUsersCreateRefusesDuplicatesAndSetRoleWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := cliVars(t)
	create := []string{"users", "create", "--email", "Boss@Example.com", "--password", "Admin-Passw0rd-1", "--role", "admin", "--verified"}
	if code, out, stderr := runCLI(t, ctx, vars, create...); code != 0 || !strings.Contains(out, "boss@example.com") {
		t.Fatalf("create: %d %q %q", code, out, stderr)
	}
	dup := append([]string{}, create...)
	dup[3] = "BOSS@example.com"
	if code, _, stderr := runCLI(t, ctx, vars, dup...); code != 1 || !strings.Contains(stderr, "Email already registered") {
		t.Fatalf("duplicate: %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, ctx, vars, "users", "set-role", "--email", "boss@example.com", "--role", "editor"); code != 0 {
		t.Fatalf("set-role: %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, ctx, vars, "users", "set-plan", "--email", "boss@example.com", "--plan", "paid"); code != 0 {
		t.Fatalf("set-plan: %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, ctx, vars, "users", "set-role", "--email", "nobody@example.com", "--role", "editor"); code != 1 {
		t.Fatalf("set-role of an unknown user: %d %q", code, stderr)
	}
}

// A flag given with an empty value is a bad value (exit 2, one line), never
// the default, and nothing is written.
func TestFlagsSetButEmptyAreBadValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := cliVars(t)
	const email, password = "empty@example.com", "Valid-Passw0rd-1"
	for _, args := range [][]string{
		{"users", "create", "--email", email, "--password", password, "--plan", ""},
		{"users", "create", "--email", email, "--password", password, "--role", ""},
		{"users", "create", "--email", email, "--password", ""},
		{"users", "create", "--email", "", "--password", password},
		{"users", "set-role", "--email", email, "--role", ""},
		{"users", "set-plan", "--email", email, "--plan", ""},
		{"keys", "generate", "--dir", ""},
	} {
		code, _, stderr := runCLI(t, ctx, vars, args...)
		if code != 2 || !strings.Contains(stderr, "must not be empty") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming the empty flag", args, code, stderr)
		}
	}
	// None of the creates above wrote the user: creating it now succeeds.
	if code, _, stderr := runCLI(t, ctx, vars, "users", "create", "--email", email, "--password", password); code != 0 {
		t.Fatalf("create after the refusals: exit %d, %q", code, stderr)
	}
}

func TestKeysGenerateWritesAPairOnceAndNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	ctx := context.Background()
	if code, _, stderr := runCLI(t, ctx, nil, "keys", "generate", "--dir", dir); code != 0 {
		t.Fatalf("generate: %d %q", code, stderr)
	}
	info, err := os.Stat(filepath.Join(dir, "jwt-private.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", info, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt-public.pem")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, ctx, nil, "keys", "generate", "--dir", dir); code == 0 {
		t.Fatal("a second generate overwrote the pair")
	}
}

func TestServeAnswersAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	port, stop := startServe(t, cliVars(t))
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/public/status", port))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/public/status: %v %v", res, err)
	}
	res.Body.Close()
	if code, stderr := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr)
	}
}

// startServe runs `serve` in-process on a free loopback port with vars and
// waits until it answers /healthz. stop cancels it and returns its exit code
// and stderr; it is called at cleanup if the test does not.
func startServe(t *testing.T, vars map[string]string) (port int, stop func() (int, string)) {
	t.Helper()
	port, stopOut := startServeOutput(t, vars)
	return port, func() (int, string) { code, _, stderr := stopOut(); return code, stderr }
}

// startServeOutput is startServe whose stop also returns serve's stdout (its log).
func startServeOutput(t *testing.T, vars map[string]string) (port int, stop func() (code int, stdout, stderr string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	vars["PORT"] = strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	type exit struct {
		code           int
		stdout, stderr string
	}
	done := make(chan exit, 1)
	go func() {
		code, stdout, stderr := runCLI(t, ctx, vars, "serve")
		done <- exit{code, stdout, stderr}
	}()
	var once sync.Once
	var last exit
	stop = func() (int, string, string) {
		once.Do(func() {
			cancel()
			select {
			case last = <-done:
			case <-time.After(30 * time.Second):
				last = exit{-1, "", "serve did not shut down"}
			}
		})
		return last.code, last.stdout, last.stderr
	}
	t.Cleanup(func() { stop() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// No connection kept: a test counting the server's connections sees only its own.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return port, stop
			}
		}
		if time.Now().After(deadline) {
			code, _, stderr := stop()
			t.Fatalf("serve did not answer /healthz: %v (exit %d, %s)", err, code, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProductionRefusesToServeAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	vars := cliVars(t)
	vars["APP_ENV"] = "production"
	vars["BCRYPT_COST"] = "10"
	if vars["REDIS_URL"] == "" {
		vars["REDIS_URL"] = "redis://127.0.0.1:1/0" // never reached: the schema check comes first
	}
	code, _, stderr := runCLI(t, context.Background(), vars, "serve")
	if code != 1 || !strings.Contains(stderr, "pending migrations") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestUsersCreateReadsThePasswordFromStdinWhenAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := cliVars(t)
	args := []string{"users", "create", "--email", "piped@example.com", "--password", "-", "--verified"}
	if code, out, stderr := runCLIWithStdin(t, ctx, vars, "Piped-Passw0rd-1\n", args...); code != 0 || !strings.Contains(out, "piped@example.com") {
		t.Fatalf("create: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := runCLIWithStdin(t, ctx, vars, "", "users", "create", "--email", "empty@example.com", "--password", "-"); code != 2 {
		t.Fatalf("empty stdin: exit %d %q", code, stderr)
	}
}

func TestHelpAndTheBadRoleMessageNameEveryRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if code, stdout, _ := runCLI(t, ctx, cliVars(t), "help"); code != 0 || !strings.Contains(stdout, "users create --email E --password P [--role viewer|editor|admin]") {
		t.Errorf("help: exit %d\n%s", code, stdout)
	}
	_, _, stderr := runCLI(t, ctx, cliVars(t), "users", "set-role", "--email", "a@example.com", "--role", "root")
	if !strings.Contains(stderr, "Role must be one of viewer, editor, admin") {
		t.Errorf("set-role --role root: %q", stderr)
	}
}
