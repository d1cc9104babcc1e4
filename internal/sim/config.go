package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Config configures a [Server]. The zero value serves one route, "/", that answers
// 200 at once, with no outage, from a randomly seeded generator.
type Config struct {
	// Routes are the paths served. Empty means one route "/" with the zero Route's
	// behaviour.
	Routes []Route
	// Outage makes every request fail for a while.
	Outage Outage
	// Seed seeds the generator that draws every decision; zero means a random seed.
	// It is not part of the JSON form: it is fixed when the server is created.
	Seed uint64
}

// Route is the behaviour of one path. The zero value answers 200 at once.
type Route struct {
	// Path is what the route serves: a path that ends in "/" serves every path under
	// it, any other path only itself; the longest match wins. Empty means "/". Paths
	// under /_sim/ belong to the control endpoint.
	Path string
	// Mix chooses the status of each answer; empty means always 200.
	Mix Mix
	// Latency delays each answer (and each reset).
	Latency Latency
	// RetryAfter is sent as the Retry-After header of 429 and 503 answers, in whole
	// seconds rounded up. Zero means 1s; negative sends no header.
	RetryAfter time.Duration
	// ResetRate is the share of requests, in [0, 1], whose connection is reset instead
	// of answered.
	ResetRate float64
	// HangRate is the share of requests, in [0, 1], that are never answered: they
	// hang until the client gives up or the server shuts down. ResetRate+HangRate
	// must not exceed 1.
	HangRate float64
}

// OutageMode is how requests fail during an outage.
type OutageMode string

const (
	// OutageUnavailable answers 503 Service Unavailable with Retry-After, at once.
	OutageUnavailable OutageMode = "503"
	// OutageReset resets every connection, at once.
	OutageReset OutageMode = "reset"
)

// Outage is a stretch of time during which every request fails, whatever its route.
// The zero value is no outage.
type Outage struct {
	// After is when the outage starts, counted from when the configuration is applied
	// (by New, SetConfig or the control endpoint).
	After time.Duration
	// For is how long the outage lasts; zero means no outage.
	For time.Duration
	// Mode is how requests fail; empty means OutageUnavailable.
	Mode OutageMode
}

// FieldError is the error of an invalid configuration: Field names what is wrong
// the way the JSON form spells it, such as "routes[1].mix" or "outage.for".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return "sim: " + e.Field + ": " + strings.TrimPrefix(e.Err.Error(), "sim: ")
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate reports the first thing wrong with c as a [*FieldError], or nil.
func (c Config) Validate() error {
	seen := make(map[string]bool, len(c.Routes))
	for i, r := range c.Routes {
		f := func(name string) string { return fmt.Sprintf("routes[%d].%s", i, name) }
		path := r.Path
		if path == "" {
			path = "/"
		}
		switch {
		case !strings.HasPrefix(path, "/"):
			return fieldErr(f("path"), "%q does not start with /", r.Path)
		case path == controlPrefix[:len(controlPrefix)-1] || strings.HasPrefix(path, controlPrefix):
			return fieldErr(f("path"), "%q is under %s, which is the control endpoint's", r.Path, controlPrefix)
		case seen[path]:
			return fieldErr(f("path"), "%q appears twice", path)
		}
		seen[path] = true
		if err := r.Mix.validate(); err != nil {
			return &FieldError{Field: f("mix"), Err: err}
		}
		if err := r.Latency.validate(); err != nil {
			return &FieldError{Field: f("latency"), Err: err}
		}
		if err := checkRate(r.ResetRate); err != nil {
			return &FieldError{Field: f("reset_rate"), Err: err}
		}
		if err := checkRate(r.HangRate); err != nil {
			return &FieldError{Field: f("hang_rate"), Err: err}
		}
		if r.ResetRate+r.HangRate > 1 {
			return fieldErr(f("hang_rate"), "reset_rate %v + hang_rate %v is above 1", r.ResetRate, r.HangRate)
		}
	}
	return c.Outage.validate()
}

func checkRate(r float64) error {
	if math.IsNaN(r) || r < 0 || r > 1 {
		return fmt.Errorf("%v is not between 0 and 1", r)
	}
	return nil
}

func (o Outage) validate() error {
	switch {
	case o.After < 0:
		return fieldErr("outage.after", "%s is negative", o.After)
	case o.For < 0:
		return fieldErr("outage.for", "%s is negative", o.For)
	case o.Mode != "" && o.Mode != OutageUnavailable && o.Mode != OutageReset:
		return fieldErr("outage.mode", "%q is not %q or %q", o.Mode, OutageUnavailable, OutageReset)
	}
	return nil
}

// normalize returns c with its defaults made explicit. c must be valid.
func (c Config) normalize() Config {
	routes := make([]Route, 0, max(1, len(c.Routes)))
	routes = append(routes, c.Routes...)
	if len(routes) == 0 {
		routes = append(routes, Route{})
	}
	for i := range routes {
		r := &routes[i]
		if r.Path == "" {
			r.Path = "/"
		}
		if r.RetryAfter == 0 {
			r.RetryAfter = time.Second
		}
		r.Mix = append(Mix(nil), r.Mix...)
		r.Latency = r.Latency.normalize()
	}
	c.Routes = routes
	if c.Outage.Mode == "" {
		c.Outage.Mode = OutageUnavailable
	}
	return c
}

// The JSON form spells durations, mixes and latencies as strings.
type configJSON struct {
	Routes []routeJSON `json:"routes"`
	Outage *outageJSON `json:"outage,omitempty"`
}

type routeJSON struct {
	Path       string  `json:"path"`
	Mix        string  `json:"mix"`
	Latency    string  `json:"latency"`
	RetryAfter string  `json:"retry_after,omitempty"`
	ResetRate  float64 `json:"reset_rate"`
	HangRate   float64 `json:"hang_rate"`
}

type outageJSON struct {
	After string `json:"after,omitempty"`
	For   string `json:"for"`
	Mode  string `json:"mode,omitempty"`
}

// MarshalJSON writes the configuration, without its seed, as in
//
//	{"routes": [{"path": "/", "mix": "200:80,500:20", "latency": "uniform:10ms-200ms",
//	  "retry_after": "2s", "reset_rate": 0.01, "hang_rate": 0}],
//	 "outage": {"after": "10s", "for": "5s", "mode": "503"}}
//
// A negative RetryAfter is written "none"; a zero Outage is left out.
func (c Config) MarshalJSON() ([]byte, error) {
	w := configJSON{Routes: make([]routeJSON, 0, len(c.Routes))}
	for _, r := range c.Routes {
		rj := routeJSON{Path: r.Path, Mix: r.Mix.String(), Latency: r.Latency.String(), ResetRate: r.ResetRate, HangRate: r.HangRate}
		switch {
		case r.RetryAfter < 0:
			rj.RetryAfter = "none"
		case r.RetryAfter > 0:
			rj.RetryAfter = r.RetryAfter.String()
		}
		w.Routes = append(w.Routes, rj)
	}
	if c.Outage.For > 0 {
		w.Outage = &outageJSON{After: c.Outage.After.String(), For: c.Outage.For.String(), Mode: string(c.Outage.Mode)}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the form [Config.MarshalJSON] writes. Unknown fields are an
// error; so is a field that does not parse, as a [*FieldError] that names it. It
// does not call [Config.Validate], and leaves the seed alone.
func (c *Config) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w configJSON
	if err := dec.Decode(&w); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return &FieldError{Field: te.Field, Err: fmt.Errorf("want a %s, not a JSON %s", te.Type, te.Value)}
		}
		return fmt.Errorf("sim: config: %w", err)
	}
	if dec.More() {
		return errors.New("sim: config: data after the JSON object")
	}
	out := Config{Seed: c.Seed}
	for i, rj := range w.Routes {
		f := func(name string) string { return fmt.Sprintf("routes[%d].%s", i, name) }
		r := Route{Path: rj.Path, ResetRate: rj.ResetRate, HangRate: rj.HangRate}
		var err error
		if r.Mix, err = ParseMix(rj.Mix); err != nil {
			return &FieldError{Field: f("mix"), Err: err}
		}
		if r.Latency, err = ParseLatency(rj.Latency); err != nil {
			return &FieldError{Field: f("latency"), Err: err}
		}
		switch rj.RetryAfter {
		case "":
		case "none":
			r.RetryAfter = -1
		default:
			if r.RetryAfter, err = parseDuration(rj.RetryAfter); err != nil {
				return &FieldError{Field: f("retry_after"), Err: err}
			}
			if r.RetryAfter == 0 {
				return fieldErr(f("retry_after"), `0 is ambiguous: write "1s" for the default or "none" for no header`)
			}
		}
		out.Routes = append(out.Routes, r)
	}
	if o := w.Outage; o != nil {
		var err error
		if o.After != "" {
			if out.Outage.After, err = parseDuration(o.After); err != nil {
				return &FieldError{Field: "outage.after", Err: err}
			}
		}
		if out.Outage.For, err = parseDuration(o.For); err != nil {
			return &FieldError{Field: "outage.for", Err: err}
		}
		out.Outage.Mode = OutageMode(o.Mode)
	}
	*c = out
	return nil
}

// parseDuration is time.ParseDuration with a message for people.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 500ms or 5s", s)
	}
	return d, nil
}
