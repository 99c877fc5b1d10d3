package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"apisec/app"
	"apisec/models"
)

func users(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("users needs create, set-role, set-plan or delete")
	}
	fs := newFlagSet("users " + args[0])
	email := fs.String("email", "", "the user's e-mail address")
	var run func(a *app.Admin) (string, error)
	switch args[0] {
	case "create":
		password := fs.String("password", "", "the initial password; - reads it from standard input, out of ps and shell history")
		role := fs.String("role", string(models.RoleViewer), "one of "+models.RoleNames(", "))
		plan := fs.String("plan", "free", "billing plan")
		verified := fs.Bool("verified", false, "mark the e-mail address verified")
		run = func(a *app.Admin) (string, error) {
			pw, err := readPassword(*password, env.Stdin)
			if err != nil {
				return "", err
			}
			u, err := a.Accounts.CreateUser(ctx, *email, pw, models.Role(*role), *plan, *verified)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("created user %s (%s, role %s, plan %s)", u.ID, u.Email, u.Role, u.Plan), nil
		}
	case "set-role":
		role := fs.String("role", "", "one of "+models.RoleNames(", "))
		run = func(a *app.Admin) (string, error) {
			return fmt.Sprintf("%s is now %s; their sessions are ended", *email, *role),
				a.Accounts.SetRole(ctx, *email, models.Role(*role))
		}
	case "delete":
		run = func(a *app.Admin) (string, error) {
			return fmt.Sprintf("deleted %s and everything it owned; its sessions are ended", *email),
				a.Accounts.DeleteUser(ctx, *email)
		}
	case "set-plan":
		plan := fs.String("plan", "", "billing plan")
		run = func(a *app.Admin) (string, error) {
			return fmt.Sprintf("%s is now on plan %s", *email, *plan), a.Accounts.SetPlan(ctx, *email, *plan)
		}
	default:
		return usagef("unknown users command %q", args[0])
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	return withAdmin(ctx, env, func(a *app.Admin) error {
		msg, err := run(a)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, msg)
		return nil
	})
}

// withAdmin runs an operator command on the app NewAdmin opens from the
// configuration, and closes it.
func withAdmin(ctx context.Context, env Env, run func(a *app.Admin) error) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	a, err := app.NewAdmin(ctx, cfg, newLogger(cfg, env.Stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	return run(a)
}

// readPassword returns flag, or the first line of stdin when flag is "-".
func readPassword(flag string, stdin io.Reader) (string, error) {
	if flag != "-" {
		return flag, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
