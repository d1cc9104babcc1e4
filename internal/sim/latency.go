package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxLatency is the longest delay a [Latency] may have; use a route's HangRate for
// requests that should never be answered.
const MaxLatency = time.Hour

// Latency is a distribution of response delays, written as its quantile function:
// Points, sorted by percentile, map percentiles to delays, and a delay between two
// points is interpolated linearly. Below the first point and above the last, the
// delay is that of the nearest point. So one point is a fixed delay, the points p0
// and p100 a uniform one, and p50, p90, p99 the shape of a real service's latency.
//
// The zero value adds no delay. [ParseLatency] reads the forms of the command line.
type Latency struct {
	Points []LatencyPoint
}

// LatencyPoint is one point of a [Latency]: Percentile percent of the delays are at
// most Delay.
type LatencyPoint struct {
	Percentile float64       // 0 to 100
	Delay      time.Duration // 0 to MaxLatency
}

// FixedLatency returns a latency that is always d.
func FixedLatency(d time.Duration) Latency {
	return Latency{Points: []LatencyPoint{{0, d}}}.normalize()
}

// UniformLatency returns a latency drawn uniformly between lo and hi.
func UniformLatency(lo, hi time.Duration) Latency {
	return Latency{Points: []LatencyPoint{{0, lo}, {100, hi}}}.normalize()
}

// ParseLatency parses a latency in one of these forms:
//
//	""  "0"  "none"                  no delay
//	"50ms"  "fixed:50ms"             always 50ms
//	"uniform:10ms-200ms"             uniformly between 10ms and 200ms
//	"p50=20ms,p90=80ms,p99=800ms"    percentiles, interpolated linearly between them
//
// In the percentile form, percentiles are numbers from 0 to 100 (p99.9 is fine) given
// in any order, and delays may not decrease as the percentile grows. When p0 is not
// given, the fastest answers take half the lowest delay given; above the highest
// percentile given, answers take its delay. Durations are written as for
// [time.ParseDuration] and may not be negative or above [MaxLatency]. The error says
// which part is wrong.
func ParseLatency(s string) (Latency, error) {
	s = strings.TrimSpace(s)
	kind, rest, hasKind := strings.Cut(s, ":")
	switch {
	case s == "" || s == "0" || strings.EqualFold(s, "none"):
		return Latency{}, nil
	case hasKind && strings.EqualFold(strings.TrimSpace(kind), "fixed"):
		d, err := parseDelay(s, "delay", rest)
		if err != nil {
			return Latency{}, err
		}
		return FixedLatency(d), nil
	case hasKind && strings.EqualFold(strings.TrimSpace(kind), "uniform"):
		lo, hi, ok := strings.Cut(rest, "-")
		if !ok {
			return Latency{}, latencyError(s, "want uniform:MIN-MAX, such as uniform:10ms-200ms")
		}
		min, err := parseDelay(s, "minimum", lo)
		if err != nil {
			return Latency{}, err
		}
		max, err := parseDelay(s, "maximum", hi)
		if err != nil {
			return Latency{}, err
		}
		if min > max {
			return Latency{}, latencyError(s, fmt.Sprintf("minimum %s is above maximum %s", min, max))
		}
		return UniformLatency(min, max), nil
	case hasKind:
		return Latency{}, latencyError(s, fmt.Sprintf("unknown kind %q (want fixed:, uniform: or percentiles such as p50=20ms,p99=800ms)", kind))
	case strings.HasPrefix(s, "p") || strings.HasPrefix(s, "P"):
		return parsePercentiles(s)
	}
	d, err := parseDelay(s, "delay", s)
	if err != nil {
		if _, perr := time.ParseDuration(s); perr == nil {
			return Latency{}, err // a duration, but negative or too long
		}
		return Latency{}, latencyError(s, "want a duration (50ms), uniform:MIN-MAX or percentiles such as p50=20ms,p99=800ms")
	}
	return FixedLatency(d), nil
}

func parsePercentiles(s string) (Latency, error) {
	var pts []LatencyPoint
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return Latency{}, latencyError(s, "empty entry (two commas in a row, or a trailing comma?)")
		}
		key, val, ok := strings.Cut(entry, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return Latency{}, latencyError(s, fmt.Sprintf("entry %q: want pNN=DURATION, such as p99=800ms", entry))
		}
		if len(key) < 2 || (key[0] != 'p' && key[0] != 'P') {
			return Latency{}, latencyError(s, fmt.Sprintf("entry %q: %q is not a percentile such as p50", entry, key))
		}
		p, err := strconv.ParseFloat(key[1:], 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return Latency{}, latencyError(s, fmt.Sprintf("entry %q: percentile %q is not a number from 0 to 100", entry, key[1:]))
		}
		if p == 0 {
			p = 0 // not -0
		}
		d, err := parseDelay(s, "p"+formatPercentile(p), val)
		if err != nil {
			return Latency{}, err
		}
		pts = append(pts, LatencyPoint{Percentile: p, Delay: d})
	}
	slices.SortStableFunc(pts, func(a, b LatencyPoint) int { return cmp.Compare(a.Percentile, b.Percentile) })
	if pts[0].Percentile > 0 {
		pts = slices.Insert(pts, 0, LatencyPoint{Percentile: 0, Delay: pts[0].Delay / 2})
	}
	l := Latency{Points: pts}
	if err := l.validate(); err != nil {
		return Latency{}, latencyError(s, err.Error())
	}
	return l.normalize(), nil
}

func parseDelay(s, what, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, latencyError(s, fmt.Sprintf("%s %q is not a duration such as 20ms or 1.5s", what, v))
	case d < 0:
		return 0, latencyError(s, fmt.Sprintf("%s %s is negative", what, d))
	case d > MaxLatency:
		return 0, latencyError(s, fmt.Sprintf("%s %s is above %s", what, d, MaxLatency))
	}
	return d, nil
}

func latencyError(s, msg string) error { return fmt.Errorf("sim: latency %q: %s", s, msg) }

func formatPercentile(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }

// validate checks the points; the message names the point that is wrong.
func (l Latency) validate() error {
	for i, pt := range l.Points {
		name := "p" + formatPercentile(pt.Percentile)
		switch {
		case math.IsNaN(pt.Percentile) || pt.Percentile < 0 || pt.Percentile > 100:
			return fmt.Errorf("percentile %v is not between 0 and 100", pt.Percentile)
		case pt.Delay < 0:
			return fmt.Errorf("%s: delay %s is negative", name, pt.Delay)
		case pt.Delay > MaxLatency:
			return fmt.Errorf("%s: delay %s is above %s", name, pt.Delay, MaxLatency)
		case i == 0:
			continue
		}
		prev := l.Points[i-1]
		prevName := "p" + formatPercentile(prev.Percentile)
		switch {
		case pt.Percentile == prev.Percentile:
			return fmt.Errorf("%s appears twice", name)
		case pt.Percentile < prev.Percentile:
			return fmt.Errorf("%s comes after %s: sort the points by percentile", name, prevName)
		case pt.Delay < prev.Delay:
			return fmt.Errorf("%s (%s) is below %s (%s): delays may not decrease", name, pt.Delay, prevName, prev.Delay)
		}
	}
	return nil
}

// normalize collapses a latency whose delays are all equal to one point, or to none
// when they are all zero.
func (l Latency) normalize() Latency {
	if len(l.Points) == 0 {
		return Latency{}
	}
	first := l.Points[0].Delay
	for _, pt := range l.Points[1:] {
		if pt.Delay != first {
			return Latency{Points: slices.Clone(l.Points)}
		}
	}
	if first == 0 {
		return Latency{}
	}
	return Latency{Points: []LatencyPoint{{0, first}}}
}

// Quantile returns the delay at percentile p (0 to 100).
func (l Latency) Quantile(p float64) time.Duration {
	pts := l.Points
	if len(pts) == 0 {
		return 0
	}
	if p <= pts[0].Percentile {
		return pts[0].Delay
	}
	for i := 1; i < len(pts); i++ {
		if p <= pts[i].Percentile {
			a, b := pts[i-1], pts[i]
			f := (p - a.Percentile) / (b.Percentile - a.Percentile)
			return a.Delay + time.Duration(f*float64(b.Delay-a.Delay))
		}
	}
	return pts[len(pts)-1].Delay
}

// sample draws a delay.
func (l Latency) sample(r *rand.Rand) time.Duration {
	switch len(l.Points) {
	case 0:
		return 0
	case 1:
		return l.Points[0].Delay
	}
	return l.Quantile(r.Float64() * 100)
}

// String returns the latency in the form [ParseLatency] reads: "0", "50ms",
// "uniform:10ms-200ms" or "p0=10ms,p50=20ms,p99=800ms".
func (l Latency) String() string {
	pts := l.normalize().Points
	switch {
	case len(pts) == 0:
		return "0"
	case len(pts) == 1:
		return pts[0].Delay.String()
	case len(pts) == 2 && pts[0].Percentile == 0 && pts[1].Percentile == 100:
		return "uniform:" + pts[0].Delay.String() + "-" + pts[1].Delay.String()
	}
	var b strings.Builder
	for i, pt := range pts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("p" + formatPercentile(pt.Percentile) + "=" + pt.Delay.String())
	}
	return b.String()
}

// MarshalText returns the latency as [Latency.String] writes it, so that it is a
// string in JSON.
func (l Latency) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses text with [ParseLatency].
func (l *Latency) UnmarshalText(text []byte) error {
	v, err := ParseLatency(string(text))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
