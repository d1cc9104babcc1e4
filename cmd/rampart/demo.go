package main

import (
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-go/rampart/internal/sim"
)

// demoDefaults are the defaults of rampart demo's upstream flags: errors, latency
// spikes, a few resets and hangs, and a stretch of full outage.
var demoDefaults = upstreamFlags{
	mix:         "200:80,500:10,503:5,429:5",
	latency:     "p50=15ms,p90=60ms,p99=400ms",
	retryAfter:  time.Second,
	resetRate:   0.01,
	hangRate:    0.005,
	outageAfter: 6 * time.Second,
	outageFor:   6 * time.Second,
	outageMode:  string(sim.OutageUnavailable),
}

// demoOptions configure one run of the demo.
type demoOptions struct {
	upstream    sim.Config
	duration    time.Duration
	rate        float64 // calls a second
	maxInFlight int
	out         io.Writer
	live        bool // redraw the display in place (out is a terminal)
	color       bool
}

func newDemoCmd(stdout io.Writer) *cobra.Command {
	var (
		f           upstreamFlags
		duration    time.Duration
		rate        float64
		maxInFlight int
		noColor     bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch resilience policies keep a flaky upstream usable, live",
		Long: `Start a flaky upstream on a local port (errors, slow answers, a few reset and
hung connections, and a stretch of full outage), then call it at a steady rate
through a resilience pipeline, and show live what each policy does:

  fallback         answers from a cache when everything else fails
  total timeout    bounds a call, retries included
  retry            tries again after a failure, waiting a little (exponential
                   backoff with jitter, or what the upstream asks in Retry-After)
  circuit breaker  stops calling an upstream that keeps failing, for a while,
                   so that calls fail fast and the upstream can recover
  attempt timeout  bounds one try

At the end, a summary says in plain words what happened: how often the upstream
failed, how often your code saw a failure, and which policy did what.

On a terminal the display updates in place, in colour unless --no-color or
NO_COLOR is set; otherwise (in CI, piped to a file) it prints a line every few
seconds. Ctrl-C stops early and prints the summary.`,
		Example: `  rampart demo
  rampart demo --duration 10s --rate 20 --outage-after 3s --outage-for 4s
  rampart demo --mix 200:60,500:30,503:10 --latency uniform:5ms-300ms --seed 42`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case duration < time.Second || duration > time.Hour:
				return flagError(cmd, "duration", "%s is not between 1s and 1h", duration)
			case math.IsNaN(rate) || rate < 0.1 || rate > 1000:
				return flagError(cmd, "rate", "%v is not between 0.1 and 1000 calls a second", rate)
			case maxInFlight < 1 || maxInFlight > 10000:
				return flagError(cmd, "max-in-flight", "%d is not between 1 and 10000", maxInFlight)
			case f.outageFor > 0 && f.outageAfter >= duration:
				return flagError(cmd, "outage-after", "%s is not within --duration %s: the outage would start after the demo ends", f.outageAfter, duration)
			}
			if f.seed == 0 {
				f.seed = rand.Uint64N(1_000_000) + 1 // short enough to type back
			}
			upstream, err := f.config(cmd)
			if err != nil {
				return err
			}
			live := isTerminal(stdout)
			_, err = runDemo(cmd.Context(), demoOptions{
				upstream:    upstream,
				duration:    duration,
				rate:        rate,
				maxInFlight: maxInFlight,
				out:         stdout,
				live:        live,
				color:       live && !noColor && colorWanted(),
			})
			return err
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.DurationVar(&duration, "duration", 20*time.Second, "how long to call the upstream (1s to 1h)")
	fs.Float64Var(&rate, "rate", 50, "calls a second (0.1 to 1000)")
	f.register(fs, demoDefaults)
	fs.IntVar(&maxInFlight, "max-in-flight", 100, "the most calls under way at once; a call due when\nthat many are under way is skipped, and counted")
	fs.BoolVar(&noColor, "no-color", false, "no colours, even on a terminal")
	return cmd
}
