package cli

import (
	"flag"
	"fmt"
	"io"

	"apisec/app/tokens"
)

func keys(args []string, env Env) error {
	if len(args) == 0 || args[0] != "generate" {
		return usagef("keys needs the subcommand generate")
	}
	fs := newFlagSet("keys generate")
	dir := fs.String("dir", "config", "folder for jwt-private.pem and jwt-public.pem")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	priv, pub, err := tokens.GenerateKeyPair(*dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (0600) and %s\n", priv, pub)
	return nil
}

// newFlagSet returns a flag set that reports errors to Run instead of
// printing and exiting on its own.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	// A flag given with an empty value is a mistake (an unset shell variable,
	// --plan ""), never a request for the default.
	var empty string
	fs.Visit(func(f *flag.Flag) {
		if empty == "" && f.Value.String() == "" {
			empty = f.Name
		}
	})
	if empty != "" {
		return usagef("%s: --%s must not be empty", fs.Name(), empty)
	}
	return nil
}
