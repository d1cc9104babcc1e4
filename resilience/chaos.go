package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// ErrInjectedFault is the default fault of a [Chaos] policy.
var ErrInjectedFault = errors.New("resilience: injected fault")

// ChaosOptions configure a [Chaos] policy. The zero value injects nothing.
type ChaosOptions struct {
	Name    string // empty means "chaos"
	Enabled bool   // nothing is injected unless true; switch with SetEnabled
	// FaultRate is the share of calls, in [0, 1], that fail with Fault instead of
	// running.
	FaultRate float64
	Fault     error // nil means ErrInjectedFault
	// LatencyRate is the share of calls, in [0, 1], delayed by Latency before running
	// (the wait honours the context).
	LatencyRate float64
	Latency     time.Duration // negative is an error
}

// Chaos injects faults and latency at configurable rates, switchable at run time, to
// rehearse failures in staging. A call is first delayed (with probability
// LatencyRate), then failed with Fault (with probability FaultRate) instead of
// running; a call whose context ends during the injected latency fails with the
// context's error. Each injection is reported to the pipeline's observer as an
// [EventChaos].
//
// Build a Chaos policy with [NewChaos]; the zero Chaos is not usable. It is safe for
// concurrent use: its options live behind an atomic pointer, so [Chaos.SetEnabled] and
// [Chaos.Update] take effect for the calls that start afterwards and the hot path takes
// no lock. Disabled, or with rates of zero, it allocates nothing; random draws use the
// goroutine-safe top-level functions of math/rand/v2.
type Chaos struct {
	name     string
	settings atomic.Pointer[chaosSettings]
}

// chaosSettings is an immutable snapshot of a Chaos policy's options.
type chaosSettings struct {
	enabled     bool
	faultRate   float64
	fault       error
	latencyRate float64
	latency     time.Duration
}

// NewChaos returns a chaos policy, or an error naming the option that is invalid.
func NewChaos(opts ChaosOptions) (*Chaos, error) {
	if opts.Name == "" {
		opts.Name = "chaos"
	}
	s, err := newChaosSettings(opts)
	if err != nil {
		return nil, err
	}
	s.enabled = opts.Enabled
	ch := &Chaos{name: opts.Name}
	ch.settings.Store(s)
	return ch, nil
}

func newChaosSettings(opts ChaosOptions) (*chaosSettings, error) {
	if !(opts.FaultRate >= 0 && opts.FaultRate <= 1) {
		return nil, fmt.Errorf("resilience: ChaosOptions.FaultRate: must be in [0, 1], got %v", opts.FaultRate)
	}
	if !(opts.LatencyRate >= 0 && opts.LatencyRate <= 1) {
		return nil, fmt.Errorf("resilience: ChaosOptions.LatencyRate: must be in [0, 1], got %v", opts.LatencyRate)
	}
	if opts.Latency < 0 {
		return nil, fmt.Errorf("resilience: ChaosOptions.Latency: must be ≥ 0, got %s", opts.Latency)
	}
	if opts.Fault == nil {
		opts.Fault = ErrInjectedFault
	}
	return &chaosSettings{
		faultRate:   opts.FaultRate,
		fault:       opts.Fault,
		latencyRate: opts.LatencyRate,
		latency:     opts.Latency,
	}, nil
}

// Name returns the policy's name.
func (c *Chaos) Name() string { return c.name }
func (*Chaos) policy()        {}

// Enabled reports whether injection is on.
func (c *Chaos) Enabled() bool { return c.settings.Load().enabled }

// SetEnabled switches injection on or off.
func (c *Chaos) SetEnabled(on bool) {
	for {
		old := c.settings.Load()
		if old.enabled == on {
			return
		}
		s := *old
		s.enabled = on
		if c.settings.CompareAndSwap(old, &s) {
			return
		}
	}
}

// Update replaces the rates, fault and latency at run time, with the same defaults
// and validation as [NewChaos]. The name is kept, and so is the switch: opts.Enabled
// is ignored; use [Chaos.SetEnabled]. On error nothing changes.
func (c *Chaos) Update(opts ChaosOptions) error {
	s, err := newChaosSettings(opts)
	if err != nil {
		return err
	}
	for {
		old := c.settings.Load()
		s.enabled = old.enabled
		if c.settings.CompareAndSwap(old, s) {
			return nil
		}
	}
}

// chaosHit draws whether an event of probability rate happens. A rate of 0 never
// does and a rate of 1 always does, since rand.Float64 is in [0, 1).
func chaosHit(rate float64) bool {
	return rate > 0 && rand.Float64() < rate
}

func runChaos[T any](ctx context.Context, ch *Chaos, c chain[T], i int) (T, error) {
	s := ch.settings.Load()
	if !s.enabled {
		return c.next(ctx, i)
	}
	if chaosHit(s.latencyRate) && s.latency > 0 {
		if c.observed() {
			c.emit(ctx, ch, Event{Kind: EventChaos, Delay: s.latency})
		}
		if err := chaosSleep(ctx, s.latency); err != nil {
			var zero T
			return zero, err
		}
	}
	if chaosHit(s.faultRate) {
		if c.observed() {
			c.emit(ctx, ch, Event{Kind: EventChaos, Err: s.fault})
		}
		var zero T
		return zero, s.fault
	}
	return c.next(ctx, i)
}

// chaosSleep waits d, or until ctx ends.
func chaosSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
