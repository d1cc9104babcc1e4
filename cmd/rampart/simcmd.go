package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-go/rampart/internal/sim"
)

// simDefaults are the defaults of rampart sim's upstream flags.
var simDefaults = upstreamFlags{
	mix:        "200:80,500:10,503:5,429:5",
	latency:    "p50=20ms,p90=80ms,p99=400ms",
	retryAfter: time.Second,
	outageMode: string(sim.OutageUnavailable),
}

// simRun is one run of rampart sim.
type simRun struct {
	cfg      sim.Config
	listen   string
	interval time.Duration
	out      io.Writer
	live     bool              // rewrite the summary line in place
	onReady  func(*sim.Server) // for tests: called once the server listens
}

func newSimCmd(stderr io.Writer) *cobra.Command {
	var (
		f          upstreamFlags
		listen     string
		configFile string
		interval   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve a fault-injecting fake upstream for local testing",
		Long: `Serve a fake upstream that fails the way real services do: error statuses in a
chosen mix, slow answers, Retry-After on 429 and 503, connection resets, requests
that hang, and a timed outage. Point a client at it and watch what it does.

Every path is served the same way, except those under /_sim/, which control the
simulator while it runs:

  GET  /_sim/config          the configuration, as JSON
  PUT  /_sim/config          replace it (the answer to a bad one names the field)
  POST /_sim/outage?for=5s   start an outage now (also: after=2s, mode=reset)
  DELETE /_sim/outage        end the outage now
  GET  /_sim/stats           what was served so far

A summary of what was served is printed to stderr every --interval: one line
rewritten in place on a terminal, a line at a time otherwise. Ctrl-C (or SIGTERM)
stops the server gracefully, releasing hung requests, and prints a final summary.`,
		Example: `  rampart sim
  rampart sim --listen 127.0.0.1:8081 --mix 200:80,500:20 --latency uniform:10ms-200ms
  rampart sim --outage-after 10s --outage-for 5s --reset-rate 0.02 --hang-rate 0.01
  curl -X POST 'http://127.0.0.1:8081/_sim/outage?for=5s'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return flagError(cmd, "interval", "%s is below 100ms", interval)
			}
			var cfg sim.Config
			var err error
			if configFile != "" {
				cfg, err = readSimConfig(cmd, configFile, f.seed)
			} else {
				cfg, err = f.config(cmd)
			}
			if err != nil {
				return err
			}
			return runSim(cmd.Context(), simRun{cfg: cfg, listen: listen, interval: interval, out: stderr, live: isTerminal(stderr)})
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&listen, "listen", "127.0.0.1:8081", "the address to serve on (\":0\" picks a free port)")
	f.register(fs, simDefaults)
	fs.StringVar(&configFile, "config", "",
		"read the routes and outage from this JSON file\n(in the form of GET /_sim/config) instead of the\nflags above, except --seed")
	fs.DurationVar(&interval, "interval", time.Second, "how often to print the summary")
	return cmd
}

// readSimConfig reads a configuration file; the upstream flags may not be given with it.
func readSimConfig(cmd *cobra.Command, path string, seed uint64) (sim.Config, error) {
	for _, name := range []string{"mix", "latency", "retry-after", "reset-rate", "hang-rate", "outage-after", "outage-for", "outage-mode"} {
		if changed(cmd.Flags(), name) {
			return sim.Config{}, flagError(cmd, "config", "cannot be given with --%s: put everything in the file", name)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return sim.Config{}, flagError(cmd, "config", "%v", err)
	}
	var cfg sim.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return sim.Config{}, flagError(cmd, "config", "%s: %s", path, strings.TrimPrefix(err.Error(), "sim: "))
	}
	if err := cfg.Validate(); err != nil {
		return sim.Config{}, flagError(cmd, "config", "%s: %s", path, strings.TrimPrefix(err.Error(), "sim: "))
	}
	cfg.Seed = seed
	return cfg, nil
}

// runSim serves until ctx is done, printing summaries, then shuts down gracefully.
func runSim(ctx context.Context, r simRun) error {
	s, err := sim.New(r.cfg)
	if err != nil {
		return err
	}
	if err := s.Start(r.listen); err != nil {
		return fmt.Errorf("--listen %s: %s", r.listen, strings.TrimPrefix(err.Error(), "sim: "))
	}
	begin := time.Now()
	url := s.URL()
	fmt.Fprintf(r.out, "rampart sim: serving a fake upstream on %s\n", url)
	cfg := s.Config()
	if len(cfg.Routes) == 1 && cfg.Routes[0].Path == "/" {
		fmt.Fprintf(r.out, "%s\n", wrap(describeUpstream(cfg), textWidth(r.out, r.live), "  "))
	} else {
		for _, rt := range cfg.Routes {
			fmt.Fprintf(r.out, "  %s: mix %s, latency %s, reset %v, hang %v\n", rt.Path, rt.Mix, rt.Latency, rt.ResetRate, rt.HangRate)
		}
	}
	fmt.Fprintf(r.out, "  control: curl %s/_sim/config, curl -X POST '%s/_sim/outage?for=5s'\n", url, url)
	fmt.Fprintf(r.out, "  stop with Ctrl-C\n")
	if r.onReady != nil {
		r.onReady(s)
	}

	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-tick.C:
			line := simSummary(s, time.Since(begin))
			if r.live {
				fmt.Fprint(r.out, ansiClearLine+line)
			} else {
				fmt.Fprintln(r.out, line)
			}
		}
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = s.Shutdown(sctx)
	if r.live {
		fmt.Fprint(r.out, ansiClearLine)
	}
	fmt.Fprintf(r.out, "rampart sim: stopped after %s\n", strings.TrimSpace(simSummary(s, time.Since(begin))))
	if err != nil {
		return fmt.Errorf("sim: shutting down: %w", err)
	}
	return nil
}

// simSummary is one line about what s has served.
func simSummary(s *sim.Server, elapsed time.Duration) string {
	st := s.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%6s  served %s", elapsed.Round(time.Second), group(int64(st.Requests)))
	codes := make([]int, 0, len(st.ByStatus))
	for c := range st.ByStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	if len(codes) > 0 {
		b.WriteString(" (")
		for i, c := range codes {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d: %s", c, group(int64(st.ByStatus[c])))
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "  resets %s  hangs %s  in flight %d", group(int64(st.Resets)), group(int64(st.Hangs)), st.InFlight)
	if o := s.Config().Outage; o.For > 0 {
		if o.After > 0 {
			fmt.Fprintf(&b, "  outage in %s", o.After.Round(time.Second))
		} else {
			fmt.Fprintf(&b, "  OUTAGE, %s left", o.For.Round(100*time.Millisecond))
		}
	}
	return b.String()
}
