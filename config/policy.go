package config

import (
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/rampart-go/rampart/resilience"
)

// The settings of the resilience policies, shared by the pipelines and the HTTP
// clients. Each type starts with the defaults of its policy, so that a key left
// out keeps the documented default and the dump shows it. A value written out must
// be valid as written: a count of 0 does not mean "the default" as it does in the
// Go options.

// BackoffConfig is a [resilience.Backoff].
type BackoffConfig struct {
	Kind       string   `yaml:"kind"`       // exponential (default), constant or linear
	Base       Duration `yaml:"base"`       // the first wait; default 100ms
	Max        Duration `yaml:"max"`        // the cap on any wait; default 30s
	Multiplier float64  `yaml:"multiplier"` // growth of exponential backoff, ≥ 1; default 2
	Jitter     string   `yaml:"jitter"`     // full (default for exponential), none (default otherwise) or decorrelated
}

func (b *BackoffConfig) setDefaults() {
	*b = BackoffConfig{Kind: "exponential", Base: Duration(100 * time.Millisecond), Max: Duration(30 * time.Second), Multiplier: 2}
}

var (
	backoffKinds = map[string]resilience.BackoffKind{
		"exponential": resilience.BackoffExponential,
		"constant":    resilience.BackoffConstant,
		"linear":      resilience.BackoffLinear,
	}
	jitters = map[string]resilience.Jitter{
		"full":         resilience.JitterFull,
		"none":         resilience.JitterNone,
		"decorrelated": resilience.JitterDecorrelated,
	}
)

func (b *BackoffConfig) validate(st *loadState, path string) {
	st.oneOf(join(path, "kind"), b.Kind, sortedKeys(backoffKinds))
	if b.Jitter == "" && !st.has(join(path, "jitter")) {
		b.Jitter = "none"
		if b.Kind == "exponential" {
			b.Jitter = "full"
		}
	}
	st.oneOf(join(path, "jitter"), b.Jitter, sortedKeys(jitters))
	st.positiveDuration(join(path, "base"), b.Base)
	st.positiveDuration(join(path, "max"), b.Max)
	if b.Base > 0 && b.Max > 0 && b.Base > b.Max {
		st.fail(join(path, "base"), "must not be above max (%s), got %s", b.Max, b.Base)
	}
	if b.Multiplier < 1 {
		st.fail(join(path, "multiplier"), "must be ≥ 1, got %v", b.Multiplier)
	}
}

// Backoff returns the resilience.Backoff.
func (b BackoffConfig) Backoff() resilience.Backoff {
	return resilience.Backoff{
		Kind:       backoffKinds[b.Kind],
		Base:       b.Base.D(),
		Max:        b.Max.D(),
		Multiplier: b.Multiplier,
		Jitter:     jitters[b.Jitter],
	}
}

// BudgetConfig is a [resilience.Budget]: retries of at most Ratio of the requests
// of the last Window, plus MinPerSecond whatever the traffic.
type BudgetConfig struct {
	Ratio        float64  `yaml:"ratio"`          // retries per request, > 0; default 0.2
	MinPerSecond int      `yaml:"min_per_second"` // ≥ 1; default 10
	Window       Duration `yaml:"window"`         // ≥ 1ms; default 10s
}

func (b *BudgetConfig) setDefaults() {
	*b = BudgetConfig{Ratio: 0.2, MinPerSecond: 10, Window: Duration(10 * time.Second)}
}

func (b *BudgetConfig) validate(st *loadState, path string) {
	if !(b.Ratio > 0) {
		st.fail(join(path, "ratio"), "must be > 0, got %v", b.Ratio)
	}
	st.atLeast(join(path, "min_per_second"), b.MinPerSecond, 1)
	if b.Window < Duration(time.Millisecond) {
		st.fail(join(path, "window"), "must be at least 1ms, got %s", b.Window)
	}
}

// Options returns the resilience.BudgetOptions.
func (b BudgetConfig) Options() resilience.BudgetOptions {
	return resilience.BudgetOptions{Ratio: b.Ratio, MinPerSecond: b.MinPerSecond, Window: b.Window.D()}
}

// RetryConfig is a [resilience.Retry] in a pipeline.
type RetryConfig struct {
	MaxAttempts  int           `yaml:"max_attempts"`     // attempts in all, the first included, ≥ 1; default 3
	Backoff      BackoffConfig `yaml:"backoff"`          // the waits between attempts
	MaxDelayHint Duration      `yaml:"max_delay_hint"`   // cap on a wait the error asks for (Retry-After); default 30s
	Budget       *BudgetConfig `yaml:"budget,omitempty"` // limits retries to a share of the requests; none by default
}

func (r *RetryConfig) setDefaults() {
	*r = RetryConfig{MaxAttempts: 3, MaxDelayHint: Duration(30 * time.Second)}
	r.Backoff.setDefaults()
}

func (r *RetryConfig) validate(st *loadState, path string) {
	st.atLeast(join(path, "max_attempts"), r.MaxAttempts, 1)
	r.Backoff.validate(st, join(path, "backoff"))
	st.positiveDuration(join(path, "max_delay_hint"), r.MaxDelayHint)
	if r.Budget != nil {
		r.Budget.validate(st, join(path, "budget"))
	}
}

// Options returns the resilience.RetryOptions of a retry named name that draws
// on budget (nil for none).
func (r RetryConfig) Options(name string, budget *resilience.Budget) resilience.RetryOptions {
	return resilience.RetryOptions{
		Name:         name,
		MaxAttempts:  r.MaxAttempts,
		Backoff:      r.Backoff.Backoff(),
		MaxDelayHint: r.MaxDelayHint.D(),
		Budget:       budget,
	}
}

// BreakerConfig is a [resilience.Breaker].
type BreakerConfig struct {
	Mode                string   `yaml:"mode"`                 // failure_ratio (default) or consecutive_failures
	FailureRatio        float64  `yaml:"failure_ratio"`        // in (0, 1]; default 0.5
	MinThroughput       int      `yaml:"min_throughput"`       // ≥ 1; default 10
	SamplingWindow      Duration `yaml:"sampling_window"`      // ≥ 10ms; default 30s
	ConsecutiveFailures int      `yaml:"consecutive_failures"` // ≥ 1; default 5
	BreakDuration       Duration `yaml:"break_duration"`       // > 0; default 5s
	BreakGrowth         float64  `yaml:"break_growth"`         // ≥ 1; default 1 (constant)
	MaxBreakDuration    Duration `yaml:"max_break_duration"`   // ≥ break_duration; default 10 × break_duration
	HalfOpenProbes      int      `yaml:"half_open_probes"`     // ≥ 1; default 1
}

func (b *BreakerConfig) setDefaults() {
	*b = BreakerConfig{
		Mode:                "failure_ratio",
		FailureRatio:        0.5,
		MinThroughput:       10,
		SamplingWindow:      Duration(30 * time.Second),
		ConsecutiveFailures: 5,
		BreakDuration:       Duration(5 * time.Second),
		BreakGrowth:         1,
		HalfOpenProbes:      1,
	}
}

var tripModes = map[string]resilience.TripMode{
	"failure_ratio":        resilience.TripFailureRatio,
	"consecutive_failures": resilience.TripConsecutiveFailures,
}

func (b *BreakerConfig) validate(st *loadState, path string) {
	st.oneOf(join(path, "mode"), b.Mode, sortedKeys(tripModes))
	if !(b.FailureRatio > 0 && b.FailureRatio <= 1) {
		st.fail(join(path, "failure_ratio"), "must be in (0, 1], got %v", b.FailureRatio)
	}
	st.atLeast(join(path, "min_throughput"), b.MinThroughput, 1)
	if b.SamplingWindow < Duration(10*time.Millisecond) {
		st.fail(join(path, "sampling_window"), "must be at least 10ms, got %s", b.SamplingWindow)
	}
	st.atLeast(join(path, "consecutive_failures"), b.ConsecutiveFailures, 1)
	st.positiveDuration(join(path, "break_duration"), b.BreakDuration)
	if b.BreakGrowth < 1 {
		st.fail(join(path, "break_growth"), "must be ≥ 1, got %v", b.BreakGrowth)
	}
	if b.MaxBreakDuration == 0 && !st.has(join(path, "max_break_duration")) {
		b.MaxBreakDuration = Duration(min(b.BreakDuration.D(), math.MaxInt64/10) * 10)
	}
	if b.BreakDuration > 0 && b.MaxBreakDuration < b.BreakDuration {
		st.fail(join(path, "max_break_duration"), "must be at least break_duration (%s), got %s", b.BreakDuration, b.MaxBreakDuration)
	}
	st.atLeast(join(path, "half_open_probes"), b.HalfOpenProbes, 1)
	if b.HalfOpenProbes > math.MaxInt32 {
		st.fail(join(path, "half_open_probes"), "must be at most %d, got %d", math.MaxInt32, b.HalfOpenProbes)
	}
}

// Options returns the resilience.BreakerOptions of a breaker named name.
func (b BreakerConfig) Options(name string) resilience.BreakerOptions {
	return resilience.BreakerOptions{
		Name:                name,
		Mode:                tripModes[b.Mode],
		FailureRatio:        b.FailureRatio,
		MinThroughput:       b.MinThroughput,
		SamplingWindow:      b.SamplingWindow.D(),
		ConsecutiveFailures: b.ConsecutiveFailures,
		BreakDuration:       b.BreakDuration.D(),
		BreakGrowth:         b.BreakGrowth,
		MaxBreakDuration:    b.MaxBreakDuration.D(),
		HalfOpenProbes:      b.HalfOpenProbes,
	}
}

// TimeoutConfig is a [resilience.Timeout]. In a pipeline it may be written as its
// duration alone: "- timeout: 2s".
type TimeoutConfig struct {
	Duration Duration `yaml:"duration"` // > 0; default 10s
}

func (t *TimeoutConfig) setDefaults() { t.Duration = Duration(10 * time.Second) }

// decodeFrom accepts "2s" as well as {duration: 2s}.
func (t *TimeoutConfig) decodeFrom(st *loadState, path string, raw any) {
	if _, ok := asMap(raw); ok || raw == nil {
		st.decodeStruct(path, raw, reflectValue(t))
		return
	}
	st.decodeDuration(path, raw, reflectValue(&t.Duration), false)
}

// MarshalYAML writes the duration alone.
func (t TimeoutConfig) MarshalYAML() (any, error) { return t.Duration.String(), nil }

func (t *TimeoutConfig) validate(st *loadState, path string) {
	if t.Duration <= 0 {
		st.fail(path, "must be > 0, got %s", t.Duration)
	}
}

// Options returns the resilience.TimeoutOptions of a timeout named name.
func (t TimeoutConfig) Options(name string) resilience.TimeoutOptions {
	return resilience.TimeoutOptions{Name: name, Timeout: t.Duration.D()}
}

// BulkheadConfig is a [resilience.Bulkhead].
type BulkheadConfig struct {
	MaxConcurrent int `yaml:"max_concurrent"` // ≥ 1; default 100
	MaxQueue      int `yaml:"max_queue"`      // calls that may wait, ≥ 0; default 0
}

func (b *BulkheadConfig) setDefaults() { *b = BulkheadConfig{MaxConcurrent: 100} }

func (b *BulkheadConfig) validate(st *loadState, path string) {
	st.atLeast(join(path, "max_concurrent"), b.MaxConcurrent, 1)
	st.atLeast(join(path, "max_queue"), b.MaxQueue, 0)
}

// Options returns the resilience.BulkheadOptions of a bulkhead named name.
func (b BulkheadConfig) Options(name string) resilience.BulkheadOptions {
	return resilience.BulkheadOptions{Name: name, MaxConcurrent: b.MaxConcurrent, MaxQueue: b.MaxQueue}
}

// RateLimiterConfig is a [resilience.RateLimiter]. Rate is required.
type RateLimiterConfig struct {
	Rate    float64  `yaml:"rate"`     // permits per second, > 0; required
	Burst   int      `yaml:"burst"`    // bucket size, ≥ 1; default max(1, ceil(rate))
	Wait    bool     `yaml:"wait"`     // wait for a permit instead of failing at once; default false
	MaxWait Duration `yaml:"max_wait"` // bound on that wait; 0s (default) means the caller's deadline only
}

func (r *RateLimiterConfig) validate(st *loadState, path string) {
	switch {
	case !st.has(join(path, "rate")):
		st.fail(join(path, "rate"), "is required (permits per second)")
	case !(r.Rate > 0):
		st.fail(join(path, "rate"), "must be > 0, got %v", r.Rate)
	}
	if r.Burst == 0 && !st.has(join(path, "burst")) {
		r.Burst = max(1, int(min(math.Ceil(r.Rate), math.MaxInt32)))
	}
	st.atLeast(join(path, "burst"), r.Burst, 1)
}

// Options returns the resilience.RateLimiterOptions of a limiter named name.
func (r RateLimiterConfig) Options(name string) resilience.RateLimiterOptions {
	return resilience.RateLimiterOptions{Name: name, Rate: r.Rate, Burst: r.Burst, Wait: r.Wait, MaxWait: r.MaxWait.D()}
}

// HedgingConfig is a [resilience.Hedging].
type HedgingConfig struct {
	MaxHedges int      `yaml:"max_hedges"` // extra attempts beyond the first, ≥ 1; default 1
	Delay     Duration `yaml:"delay"`      // wait before the next attempt, > 0; default 2s
}

func (h *HedgingConfig) setDefaults() {
	*h = HedgingConfig{MaxHedges: 1, Delay: Duration(2 * time.Second)}
}

func (h *HedgingConfig) validate(st *loadState, path string) {
	st.atLeast(join(path, "max_hedges"), h.MaxHedges, 1)
	st.positiveDuration(join(path, "delay"), h.Delay)
}

// Options returns the resilience.HedgingOptions of a policy named name.
func (h HedgingConfig) Options(name string) resilience.HedgingOptions {
	return resilience.HedgingOptions{Name: name, MaxHedges: h.MaxHedges, Delay: h.Delay.D()}
}

// ChaosConfig is a [resilience.Chaos]: fault and latency injection, off unless
// Enabled.
type ChaosConfig struct {
	Enabled     bool     `yaml:"enabled"`      // default false
	FaultRate   float64  `yaml:"fault_rate"`   // share of calls that fail, in [0, 1]
	LatencyRate float64  `yaml:"latency_rate"` // share of calls delayed, in [0, 1]
	Latency     Duration `yaml:"latency"`      // the delay
}

func (c *ChaosConfig) validate(st *loadState, path string) {
	for _, r := range []struct {
		key  string
		rate float64
	}{{"fault_rate", c.FaultRate}, {"latency_rate", c.LatencyRate}} {
		if !(r.rate >= 0 && r.rate <= 1) {
			st.fail(join(path, r.key), "must be in [0, 1], got %v", r.rate)
		}
	}
}

// Options returns the resilience.ChaosOptions of a policy named name.
func (c ChaosConfig) Options(name string) resilience.ChaosOptions {
	return resilience.ChaosOptions{Name: name, Enabled: c.Enabled, FaultRate: c.FaultRate, LatencyRate: c.LatencyRate, Latency: c.Latency.D()}
}

// Checks shared by the parts.

func (st *loadState) atLeast(path string, v, least int) {
	if v < least {
		st.fail(path, "must be ≥ %d, got %d", least, v)
	}
}

func (st *loadState) positiveDuration(path string, d Duration) {
	if d <= 0 {
		st.fail(path, "must be > 0, got %s", d.D())
	}
}

func (st *loadState) oneOf(path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	st.fail(path, "must be one of %s, got %s%s", strings.Join(allowed, ", "), quoteShort(v), didYouMean(v, allowed))
}

// didYouMean is suggest without the list of known words.
func didYouMean(got string, known []string) string {
	if best := closest(got, known); best != "" {
		return " (did you mean " + best + "?)"
	}
	return ""
}

var resilienceFieldRE = regexp.MustCompile(`^resilience: (?:[A-Za-z]+Options|Backoff)\.([A-Za-z.]+): (.*)$`)

// surface reports the errors of a resilience constructor at the setting they are
// about: "resilience: BreakerOptions.FailureRatio: ..." at path.failure_ratio.
// The constructors validate what the checks above may have missed; their
// messages name Go fields, which are renamed to the keys of the file.
func (st *loadState) surface(path string, err error) {
	for _, e := range leafErrors(err) {
		m := resilienceFieldRE.FindStringSubmatch(e.Error())
		if m == nil {
			st.failErr(path, e, "%v", e)
			continue
		}
		field := snake(m[1])
		if field == "timeout" { // TimeoutOptions.Timeout is the duration
			st.failErr(path, e, "%s", m[2])
			continue
		}
		st.failErr(join(path, field), e, "%s", m[2])
	}
}

// leafErrors flattens errors.Join trees.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// snake turns a Go field path ("Backoff.MaxDelay") into keys ("backoff.max_delay").
func snake(field string) string {
	var b strings.Builder
	for i, r := range field {
		if unicode.IsUpper(r) {
			if i > 0 && field[i-1] != '.' {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
