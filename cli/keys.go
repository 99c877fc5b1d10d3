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
	return nil
}
