package health

import (
	"fmt"
	"time"
)

// ContentType is the media type of a [Response]: the health check response format
// for HTTP APIs (draft-inadarei-api-health-check).
const ContentType = "application/health+json"

// Status is the health of a service or of one of its checks: [StatusPass],
// [StatusWarn] or [StatusFail]. In a [Result], the empty Status means StatusPass, or
// StatusFail when the check also returned an error.
type Status string

const (
	// StatusPass means healthy. A probe that passes answers HTTP 200.
	StatusPass Status = "pass"
	// StatusWarn means healthy with concerns: a non-critical check failed, or a check
	// warns (a breaker is open, a broker applies flow control). A probe that warns
	// answers HTTP 200.
	StatusWarn Status = "warn"
	// StatusFail means unhealthy. A probe that fails answers HTTP 503.
	StatusFail Status = "fail"
)

// severity orders statuses from pass (0) to fail (2); anything unknown counts as a
// failure.
func (s Status) severity() int {
	switch s {
	case StatusPass:
		return 0
	case StatusWarn:
		return 1
	}
	return 2
}

// valid reports whether s is one of the three statuses.
func (s Status) valid() bool { return s == StatusPass || s == StatusWarn || s == StatusFail }

// Probe names one of the three questions an orchestrator asks a service. The zero
// value is Liveness.
type Probe uint8

const (
	// Liveness asks whether the process works at all; a failing liveness probe gets
	// the process restarted, so its checks must not depend on anything outside it.
	Liveness Probe = iota
	// Readiness asks whether the service should receive traffic now: its
	// dependencies answer, and it is not draining.
	Readiness
	// Startup asks whether the service has finished starting; it passes for good
	// once every startup check has passed once.
	Startup
)

// String returns "liveness", "readiness" or "startup".
func (p Probe) String() string {
	switch p {
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	case Startup:
		return "startup"
	}
	return fmt.Sprintf("Probe(%d)", uint8(p))
}

// Result is what a check's Run function reports besides its error. The zero value
// is a pass that observed nothing.
type Result struct {
	// Status is the check's verdict. Empty means StatusPass, or StatusFail when Run
	// also returned an error; an explicit StatusWarn or StatusFail is kept even with
	// an error. A value other than the three statuses is reported as a failure.
	Status Status
	// ObservedValue is what the check measured: a number, a string, or any value
	// that encodes to JSON (an object, say). Nil means none.
	ObservedValue any
	// ObservedUnit is the unit of ObservedValue ("ms", "%", "consumers"). Optional.
	ObservedUnit string
	// Output explains a warn or a fail. Empty means the error's text, if any. It is
	// dropped when the status is pass, as the response format asks.
	Output string
}

// CheckResult is one entry of a [Response]'s checks: the latest reading of one check,
// as the response format lays it out.
type CheckResult struct {
	// ComponentID identifies one instance of the component (a breaker's name, a
	// host). Optional.
	ComponentID string `json:"componentId,omitempty"`
	// ComponentType is "component", "datastore" or "system" (the format's
	// predefined values), or a URI.
	ComponentType string `json:"componentType,omitempty"`
	// ObservedValue and ObservedUnit are what the check measured, if anything.
	ObservedValue any    `json:"observedValue,omitempty"`
	ObservedUnit  string `json:"observedUnit,omitempty"`
	// Status is the check's own status. A non-critical check that fails shows
	// "fail" here while it makes the overall status only "warn".
	Status Status `json:"status"`
	// Time is when the reading was taken, which is earlier than the response when
	// the result came from the cache.
	Time time.Time `json:"time,omitzero"`
	// Output explains a warn or a fail; it is empty for a pass.
	Output string `json:"output,omitempty"`
}

// Response is the body of a health endpoint (media type [ContentType]). Decode it to
// read another service's health.
type Response struct {
	// Status is the overall status: the worst of the checks' statuses, where a
	// non-critical check that fails counts as a warn.
	Status Status `json:"status"`
	// Version, ReleaseID, ServiceID and Description come from [Config].
	Version     string `json:"version,omitempty"`
	ReleaseID   string `json:"releaseId,omitempty"`
	ServiceID   string `json:"serviceId,omitempty"`
	Description string `json:"description,omitempty"`
	// Output explains a failure that concerns the whole probe: "draining" for a
	// readiness probe after [Checker.SetDraining], "closed" after [Checker.Close].
	Output string `json:"output,omitempty"`
	// Checks are keyed "component:measurement" ("postgres:responseTime"), each with
	// one entry per component instance (usually one). Empty when the probe has no
	// checks or when the details are hidden (see [Details]).
	Checks map[string][]CheckResult `json:"checks,omitempty"`
}

// HTTPStatus returns the status code that answers a response with status s: 200 for
// pass and warn, 503 for anything else.
func (s Status) HTTPStatus() int {
	if s == StatusPass || s == StatusWarn {
		return 200
	}
	return 503
}
