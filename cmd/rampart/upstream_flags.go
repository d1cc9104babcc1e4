package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-go/rampart/internal/sim"
)

// upstreamFlags are the flags that shape a simulated upstream, shared by sim and demo.
type upstreamFlags struct {
	mix         string
	latency     string
	retryAfter  time.Duration
	resetRate   float64
	hangRate    float64
	outageAfter time.Duration
	outageFor   time.Duration
	outageMode  string
	seed        uint64
}

// register adds the flags to fs with d's values as defaults.
func (f *upstreamFlags) register(fs *pflag.FlagSet, d upstreamFlags) {
	fs.StringVar(&f.mix, "mix", d.mix,
		"statuses the upstream answers, as status:weight\npairs (\"200:80,500:20\": 80% 200, 20% 500)")
	fs.StringVar(&f.latency, "latency", d.latency,
		"how long the upstream takes to answer: \"50ms\",\n\"uniform:10ms-200ms\", percentiles such as\n\"p50=20ms,p90=80ms,p99=800ms\", or \"0\"")
	fs.DurationVar(&f.retryAfter, "retry-after", d.retryAfter,
		"Retry-After sent with 429 and 503 answers (whole\nseconds, rounded up; 0 sends none)")
	fs.Float64Var(&f.resetRate, "reset-rate", d.resetRate,
		"share of requests (0 to 1) whose connection is\nreset instead of answered")
	fs.Float64Var(&f.hangRate, "hang-rate", d.hangRate,
		"share of requests (0 to 1) never answered, until\nthe client gives up")
	fs.DurationVar(&f.outageAfter, "outage-after", d.outageAfter,
		"when the outage starts, after the upstream starts")
	fs.DurationVar(&f.outageFor, "outage-for", d.outageFor,
		"how long the outage lasts, every request failing;\n0 means no outage")
	fs.StringVar(&f.outageMode, "outage-mode", d.outageMode,
		"how requests fail in the outage: \"503\" (Service\nUnavailable) or \"reset\" (connections reset)")
	fs.Uint64Var(&f.seed, "seed", d.seed,
		"seed of the upstream's random choices, to replay\na run; 0 picks one")
}

// config returns the simulator's configuration, or an error that names the flag.
func (f *upstreamFlags) config(cmd *cobra.Command) (sim.Config, error) {
	mix, err := sim.ParseMix(f.mix)
	if err != nil {
		return sim.Config{}, flagError(cmd, "mix", "%s", strings.TrimPrefix(err.Error(), "sim: "))
	}
	lat, err := sim.ParseLatency(f.latency)
	if err != nil {
		return sim.Config{}, flagError(cmd, "latency", "%s", strings.TrimPrefix(err.Error(), "sim: "))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"reset-rate", f.resetRate}, {"hang-rate", f.hangRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return sim.Config{}, flagError(cmd, r.name, "%v is not a share from 0 to 1", r.v)
		}
	}
	if f.resetRate+f.hangRate > 1 {
		return sim.Config{}, flagError(cmd, "hang-rate", "--reset-rate %v and --hang-rate %v add up to more than 1", f.resetRate, f.hangRate)
	}
	retryAfter := f.retryAfter
	switch {
	case retryAfter < 0:
		return sim.Config{}, flagError(cmd, "retry-after", "%s is negative", retryAfter)
	case retryAfter == 0:
		retryAfter = -1 // no header
	}
	switch {
	case f.outageAfter < 0:
		return sim.Config{}, flagError(cmd, "outage-after", "%s is negative", f.outageAfter)
	case f.outageFor < 0:
		return sim.Config{}, flagError(cmd, "outage-for", "%s is negative", f.outageFor)
	case f.outageMode != string(sim.OutageUnavailable) && f.outageMode != string(sim.OutageReset):
		return sim.Config{}, flagError(cmd, "outage-mode", "%q is not \"503\" or \"reset\"", f.outageMode)
	}
	cfg := sim.Config{
		Routes: []sim.Route{{
			Path:       "/",
			Mix:        mix,
			Latency:    lat,
			RetryAfter: retryAfter,
			ResetRate:  f.resetRate,
			HangRate:   f.hangRate,
		}},
		Outage: sim.Outage{After: f.outageAfter, For: f.outageFor, Mode: sim.OutageMode(f.outageMode)},
		Seed:   f.seed,
	}
	if err := cfg.Validate(); err != nil {
		return sim.Config{}, fmt.Errorf("upstream: %w", err) // the checks above should have caught it
	}
	return cfg, nil
}

// describeUpstream says in words what the configured upstream does.
func describeUpstream(cfg sim.Config) string {
	r := cfg.Routes[0]
	var parts []string
	var fails []string
	failShare := 0.0
	for _, e := range r.Mix {
		if e.Status >= 400 && e.Weight > 0 {
			s := r.Mix.Share(e.Status)
			failShare += s
			fails = append(fails, fmt.Sprintf("%s %d", sharePct(s), e.Status))
		}
	}
	if len(fails) > 0 {
		parts = append(parts, fmt.Sprintf("answers %s of requests with an error (%s)", sharePct(failShare), strings.Join(fails, ", ")))
	} else {
		parts = append(parts, "answers every request successfully")
	}
	if r.ResetRate > 0 {
		parts = append(parts, fmt.Sprintf("resets %s of connections", sharePct(r.ResetRate)))
	}
	if r.HangRate > 0 {
		parts = append(parts, fmt.Sprintf("never answers %s", sharePct(r.HangRate)))
	}
	if l := r.Latency; len(l.Points) > 0 {
		lo, hi := l.Quantile(0), l.Quantile(100)
		if lo == hi {
			parts = append(parts, fmt.Sprintf("always takes %s to answer", roundDur(lo)))
		} else {
			parts = append(parts, fmt.Sprintf("takes %s to %s to answer (half the time under %s, 1 in 10 over %s)",
				roundDur(lo), roundDur(hi), roundDur(l.Quantile(50)), roundDur(l.Quantile(90))))
		}
	}
	s := "The upstream " + joinWords(parts)
	if o := cfg.Outage; o.For > 0 {
		how := "every request fails with 503"
		if o.Mode == sim.OutageReset {
			how = "every connection is reset"
		}
		s += fmt.Sprintf(". From %s to %s it is down: %s", roundDur(o.After), roundDur(o.After+o.For), how)
	}
	return s + "."
}

// sharePct writes a share in [0, 1] as a percentage with at most one decimal.
func sharePct(s float64) string {
	p := s * 100
	if p == math.Trunc(p) || p >= 10 {
		return fmt.Sprintf("%.0f%%", p)
	}
	return fmt.Sprintf("%.1f%%", p)
}

// joinWords joins "a", "b" and "c" as "a, b and c".
func joinWords(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// roundDur writes d briefly: 250ms, 1.5s, 6s.
func roundDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
