package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// BreakerSource lists circuit breakers. A *resilience.Registry is one (the breakers
// of its pipelines), an *httpx.Transport another (one breaker per host), and a
// [BreakerList] a fixed one.
type BreakerSource interface {
	Breakers() []*resilience.Breaker
}

// BreakerList is a fixed list of breakers. It is a [BreakerSource].
type BreakerList []*resilience.Breaker

// Breakers returns l.
func (l BreakerList) Breakers() []*resilience.Breaker { return l }

// BreakerCheckOptions configure the checks of circuit breakers. The zero value
// reports an open, half-open or isolated breaker as a warn.
type BreakerCheckOptions struct {
	// OpenStatus is the status of an open or isolated breaker. Empty means
	// StatusWarn: the service works, but not with that dependency. StatusFail takes
	// the service out of rotation while the breaker is open. A half-open breaker is
	// a warn, or a pass when OpenStatus is StatusPass.
	OpenStatus Status
	// NonCritical is copied to each check (see [Check]).
	NonCritical bool
}

// normalize fills in the default status and checks the one given.
func (o *BreakerCheckOptions) normalize() error {
	switch {
	case o.OpenStatus == "":
		o.OpenStatus = StatusWarn
	case !o.OpenStatus.valid():
		return fmt.Errorf("BreakerCheckOptions.OpenStatus: must be pass, warn or fail, got %q", o.OpenStatus)
	}
	return nil
}

// Breaker returns a check of circuit breaker b, keyed "NAME-breaker:state" (a colon
// in the breaker's name becomes a dash), with the breaker's name as ComponentID. It
// observes the state ("closed", "open", "half-open", "isolated"); when the breaker
// is open, the output says since when and when it will half-open. The check reads
// [resilience.Breaker.Snapshot] and changes nothing. A nil b or invalid options
// make [New] fail.
func Breaker(b *resilience.Breaker, opts BreakerCheckOptions) Check {
	if b == nil {
		return Check{Component: "breaker", Measurement: "state", invalid: errors.New("Breaker: the breaker is nil")}
	}
	c := Check{
		Component:     strings.ReplaceAll(b.Name(), ":", "-") + "-breaker",
		Measurement:   "state",
		ComponentID:   b.Name(),
		ComponentType: "component",
		NonCritical:   opts.NonCritical,
	}
	if err := opts.normalize(); err != nil {
		c.invalid = err
		return c
	}
	halfOpen := StatusWarn
	if opts.OpenStatus == StatusPass {
		halfOpen = StatusPass
	}
	c.Run = func(context.Context) (Result, error) {
		s := b.Snapshot()
		r := Result{ObservedValue: s.State.String()}
		switch s.State {
		case resilience.StateOpen:
			r.Status = opts.OpenStatus
			r.Output = fmt.Sprintf("open since %s, ", s.OpenedAt.UTC().Format(time.RFC3339))
			if in := time.Until(s.HalfOpensAt); in > 0 {
				r.Output += fmt.Sprintf("half-opens at %s (in %s)", s.HalfOpensAt.UTC().Format(time.RFC3339), in.Round(time.Millisecond))
			} else {
				r.Output += fmt.Sprintf("half-open since %s: the next call probes", s.HalfOpensAt.UTC().Format(time.RFC3339))
			}
		case resilience.StateHalfOpen:
			r.Status, r.Output = halfOpen, "half-open: probing"
		case resilience.StateIsolated:
			r.Status, r.Output = opts.OpenStatus, "isolated: open until reset by hand"
		}
		return r, nil
	}
	return c
}

// Breakers returns a [Source] with one [Breaker] check for each breaker that src
// lists when a probe is evaluated, so that breakers added later are checked too. A
// nil src or invalid options make [New] fail.
func Breakers(src BreakerSource, opts BreakerCheckOptions) Source {
	return breakerSource{src, opts}
}

type breakerSource struct {
	src  BreakerSource
	opts BreakerCheckOptions
}

func (s breakerSource) Checks() []Check {
	bs := s.src.Breakers()
	checks := make([]Check, 0, len(bs))
	for _, b := range bs {
		checks = append(checks, Breaker(b, s.opts))
	}
	return checks
}

func (s breakerSource) validate() error {
	if s.src == nil {
		return errors.New("Breakers: the breaker source is nil")
	}
	return s.opts.normalize()
}
