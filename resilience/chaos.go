package resilience

import (
	"context"
	"errors"
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
	Latency     time.Duration
}

// Chaos injects faults and latency at configurable rates, switchable at run time, to
// rehearse failures in staging. Safe for concurrent use.
type Chaos struct {
	name string
	opts ChaosOptions
}

// NewChaos returns a chaos policy, or an error naming the option that is invalid.
func NewChaos(opts ChaosOptions) (*Chaos, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "chaos"
	}
	return &Chaos{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (c *Chaos) Name() string { return c.name }
func (*Chaos) policy()        {}

// SetEnabled switches injection on or off.
func (c *Chaos) SetEnabled(on bool) {}

// Update replaces the rates, fault and latency at run time (the name is kept).
func (c *Chaos) Update(opts ChaosOptions) error { return nil }

func runChaos[T any](ctx context.Context, ch *Chaos, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
