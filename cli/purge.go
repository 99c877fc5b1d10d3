package cli

import (
	"context"
	"fmt"

	"apisec/app"
)

// purge applies the retention rules once and prints `<table>: <N> deleted`
// per table, zeros included; the tables done are printed even if a later
// one fails.
func purge(ctx context.Context, args []string, env Env) error {
	if err := parseFlags(newFlagSet("purge"), args); err != nil {
		return err
	}
	return withOperator(ctx, env, func(a *app.Operator) error {
		counts, err := a.Purger.Run(ctx)
		for _, c := range counts {
			fmt.Fprintf(env.Stdout, "%s: %d deleted\n", c.Table, c.Deleted)
		}
		return err
	})
}
