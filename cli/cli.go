// Package cli is the command line of the one binary: serve, migrate, keys,
// users and purge. main only calls Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"apisec/app/config"
	"apisec/app/errs"
	"apisec/models"
)

// Env is what a command reads from the outside world, injected so tests can
// run commands in-process.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// UsageError marks bad flags or values: exit code 2 per the contract.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &UsageError{msg: fmt.Sprintf(format, args...)} }

// usage is the help text; the roles come from models' list.
func usage() string {
	return `usage: apisec <command>

commands:
  serve                              run the API (the default)
  migrate up|down|status|version     apply, roll back or show migrations
  migrate create NAME                add db/migrations/NNNNN_NAME.sql
  keys generate [--dir DIR]          write a new RSA 2048 key pair (default dir: config)
  users create --email E --password P [--role ` + models.RoleNames("|") + `] [--plan PLAN] [--verified]
  users set-role --email E --role R
  users set-plan --email E --plan PLAN
  users delete --email E             delete the account and all it owns; its tokens stop working
  purge                              delete expired tokens, old login events and stale unverified accounts now`
}

// Run carries out the command in args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	err := dispatch(ctx, args, env)
	if err == nil {
		return 0
	}
	code, msg := exitCode(err)
	if code == exitUsage {
		msg += " (see 'help')"
	}
	fmt.Fprintln(env.Stderr, "error:", msg)
	return code
}

// The contract's exit codes.
const (
	exitFailure = 1
	exitUsage   = 2
)

// exitCodes is the one table from the services' error kinds to exit codes:
// a bad value is a usage error, as a bad flag is; every other kind (a taken
// e-mail, an unknown user, an unavailable database) is a plain failure.
var exitCodes = map[errs.Kind]int{
	errs.Invalid: exitUsage,
}

// exitCode is err's exit code and the message to print: a service error
// shows only its message, anything else its whole chain.
func exitCode(err error) (int, string) {
	var ue *UsageError
	if errors.As(err, &ue) {
		return exitUsage, ue.msg
	}
	if e, ok := errs.As(err); ok {
		if code, ok := exitCodes[e.Kind]; ok {
			return code, e.Message
		}
		return exitFailure, e.Message
	}
	return exitFailure, err.Error()
}

func dispatch(ctx context.Context, args []string, env Env) error {
	cmd, rest := "serve", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(rest) > 0 {
			return usagef("serve takes no arguments")
		}
		return serve(ctx, env)
	case "migrate":
		return migrate(ctx, rest, env)
	case "keys":
		return keys(rest, env)
	case "users":
		return users(ctx, rest, env)
	case "purge":
		return purge(ctx, rest, env)
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, usage())
		return nil
	}
	return usagef("unknown command %q", cmd)
}

// loadConfig reads the settings from the environment and ./.env.
func loadConfig(env Env) (*config.Config, error) {
	getenv, err := config.WithDotenv(env.Getenv, ".env")
	if err != nil {
		return nil, err
	}
	return config.Load(getenv)
}

// newLogger writes JSON lines in production (for log shippers) and
// readable text elsewhere.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OSEnv is the real process environment.
func OSEnv() Env {
	return Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}
