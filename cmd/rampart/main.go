// Command rampart is Rampart's command-line tool.
//
//	rampart demo    watch resilience policies keep a flaky upstream usable, live
//	rampart sim     serve a fault-injecting fake upstream for local testing
//	rampart config check FILE
//	                validate a configuration file and print the effective configuration
//
// Run "rampart help" or "rampart COMMAND --help" for the flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rampart:", err)
		os.Exit(1)
	}
}
