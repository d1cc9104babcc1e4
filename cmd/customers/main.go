// Command customers is Rampart's reference service: customers, VIP promotion,
// orders paid through a payment provider, welcome e-mails and stock reservations
// driven by domain events.
//
//	go run ./cmd/customers            # embedded defaults: SQLite and JetStream in ./data, provider simulators
//	go run ./cmd/customers -h         # the settings
//	go run ./cmd/customers chaos      # the load and failure rehearsal (chaos -h)
//
// See docs/customers.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rampart-go/rampart/internal/customers/wiring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// run runs the service until ctx is done, and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "chaos" {
		return runChaos(ctx, args[1:], stderr)
	}
	settings, err := wiring.ParseSettings(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	settings.LogOutput = stderr
	if err := wiring.Run(ctx, settings); err != nil {
		fmt.Fprintln(stderr, "customers:", err)
		return 1
	}
	return 0
}
