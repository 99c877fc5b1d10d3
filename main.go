// Command apisec runs the API and its operator commands; see cli.Run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"apisec/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
