package config

import (
	"strings"
	"time"
)

// Duration is a time.Duration written as a string with a unit: "250ms", "2s",
// "1m30s" (the syntax of [time.ParseDuration]). A bare number is an error, since
// "5" could mean seconds or milliseconds. Some settings accept "off" to switch
// something off; such a setting holds a negative Duration, which the dump prints
// as "off".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Off reports whether d is "off".
func (d Duration) Off() bool { return d < 0 }

// String formats d as the configuration writes it: "250ms", "2s", "1m30s", "1h",
// or "off".
func (d Duration) String() string {
	if d < 0 {
		return "off"
	}
	s := time.Duration(d).String()
	// time.Duration writes 1m0s and 1h0m0s; drop the zero units at the end.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalYAML writes d as its String.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// durations converts a list of Durations.
func durations(ds []Duration) []time.Duration {
	if ds == nil {
		return nil
	}
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.D()
	}
	return out
}
