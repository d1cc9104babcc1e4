package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Check is one health check: a function and how to report it. Build one with a
// constructor ([Ping], [HTTP], [Connection], [Breaker]) or as a literal, and adjust
// its fields (NonCritical, Timeout) before passing it to [New]. A Check is a value;
// copies share the Run function.
//
// Run must honour its context: it is cancelled at the timeout, and a Run that does
// not return then is reported as failed while its goroutine keeps running; the
// check is not started again until that goroutine returns.
type Check struct {
	// Component names what is checked ("postgres", "payments-api"): the part of the
	// check's key before the colon. Required; it must not contain a colon.
	Component string
	// Measurement names what is measured ("responseTime", "connection", "state"):
	// the part of the key after the colon. Empty means a key without one. It must
	// not contain a colon.
	Measurement string
	// ComponentID identifies one instance of the component, when several share a
	// key (the breakers of a registry, say). Optional.
	ComponentID string
	// ComponentType is "component", "datastore", "system" or a URI. Empty means
	// "component".
	ComponentType string
	// NonCritical makes a failure of this check degrade the overall status to warn
	// (HTTP 200) instead of fail (503): for a dependency the service can work
	// without, such as a cache. The zero value is a critical check.
	NonCritical bool
	// Timeout bounds one run of the check. Zero means [Config.Timeout]; it must not
	// be negative.
	Timeout time.Duration
	// Run performs the check. A nil error with an empty Result is a pass; an error is
	// a fail with the error's text as output (see [Result] for warns and observed
	// values). Run is called from a goroutine of the [Checker], never twice at once
	// for the same key, and a panic in it is reported as a fail. Required.
	Run func(ctx context.Context) (Result, error)

	// invalid is set by a constructor given bad arguments; New reports it.
	invalid error
}

// Key returns the check's key in a [Response]: "component:measurement", or the
// component alone when Measurement is empty.
func (c Check) Key() string {
	if c.Measurement == "" {
		return c.Component
	}
	return c.Component + ":" + c.Measurement
}

// Checks returns c alone, so that a Check is a [Source].
func (c Check) Checks() []Check { return []Check{c} }

// validate returns what is wrong with c, if anything.
func (c Check) validate() error {
	var errs []error
	if c.invalid != nil {
		errs = append(errs, c.invalid)
	}
	switch {
	case c.Component == "":
		errs = append(errs, errors.New("Component is empty"))
	case strings.Contains(c.Component, ":"):
		errs = append(errs, fmt.Errorf("Component %q contains a colon", c.Component))
	}
	if strings.Contains(c.Measurement, ":") {
		errs = append(errs, fmt.Errorf("Measurement %q contains a colon", c.Measurement))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout must not be negative, got %s", c.Timeout))
	}
	if c.Run == nil && c.invalid == nil {
		errs = append(errs, errors.New("Run is nil"))
	}
	return errors.Join(errs...)
}

// Source supplies checks. A [Check] is a Source of itself; [Breakers] is one whose
// checks are known only when they run (the breakers of a registry). A [Checker]
// calls Checks at every evaluation of a probe that lists the Source, possibly from
// several goroutines at once, so it must be cheap and safe for concurrent use; a
// panic in it is reported as a failing check keyed "health:sources".
type Source interface {
	Checks() []Check
}

// sourceKey is the key of the results that report a broken Source.
const sourceKey = "health:sources"

// settle turns what Run returned into a status, an observed value and an output.
func settle(r Result, err error) CheckResult {
	out := CheckResult{ObservedValue: r.ObservedValue, ObservedUnit: r.ObservedUnit, Status: r.Status, Output: r.Output}
	switch {
	case r.Status == "":
		out.Status = StatusPass
		if err != nil {
			out.Status = StatusFail
		}
	case !r.Status.valid():
		out.Status = StatusFail
		out.Output = fmt.Sprintf("health: check returned an invalid status %q", r.Status)
		if r.Output != "" {
			out.Output += ": " + r.Output
		}
	case r.Status == StatusPass && err != nil:
		out.Status = StatusFail
	}
	if err != nil && out.Output == "" {
		out.Output = err.Error()
	}
	if out.Status == StatusPass {
		out.Output = ""
	}
	return out
}
