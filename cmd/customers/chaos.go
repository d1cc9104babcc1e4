package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rampart-go/rampart/internal/customers/chaos"
)

// runChaos runs the load and failure rehearsal (customers chaos -h), and
// returns the exit code: 0 when every count agrees, 1 when one disagrees or the
// rehearsal cannot run, 2 for bad flags.
func runChaos(ctx context.Context, args []string, out io.Writer) int {
	var cfg chaos.Config
	fs := flag.NewFlagSet("customers chaos", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long the load runs")
	fs.Float64Var(&cfg.Rate, "rate", 20, "requests started per second")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "bound on the requests under way")
	fs.DurationVar(&cfg.SettleTimeout, "settle", 60*time.Second, "bound on the wait for the events and pending payments after the load")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "the service's data directory; empty means a temporary one, removed at the end")
	fs.StringVar(&cfg.Transport, "transport", "jetstream", "jetstream (embedded server) or rabbitmq (at -bus-url)")
	fs.StringVar(&cfg.BusURL, "bus-url", os.Getenv("RAMPART_BUS__URL"), "the broker's URL for -transport rabbitmq (RAMPART_BUS__URL)")
	fs.StringVar(&cfg.Rabbitmqctl, "rabbitmqctl", "rabbitmqctl", "the command that makes the run's RabbitMQ virtual host, closes the service's connections to it and deletes it")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the request mix; 0 means random")
	logFile := fs.String("service-log", "", "file that receives the service's JSON logs; empty discards them")
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: customers chaos [flags]\n\nRuns the service in-process with its simulators, drives a mix of requests, injects\nprovider outages, latency and errors, a broker connection cut and a service restart,\nthen checks one payment per order, one reservation per item and one e-mail per event.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(out, "customers chaos: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(out, "customers chaos:", err)
			return 1
		}
		defer f.Close()
		cfg.ServiceLog = f
	}
	cfg.Progress = out
	if _, err := chaos.Run(ctx, cfg); err != nil {
		fmt.Fprintln(out, "customers chaos:", err)
		return 1
	}
	return 0
}
