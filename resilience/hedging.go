package resilience

import (
	"context"
	"time"
)

// HedgingOptions configure a [Hedging] policy. The zero value starts one hedge 2s after
// the first attempt, or at once when the first attempt fails.
type HedgingOptions struct {
	Name      string        // empty means "hedging"
	MaxHedges int           // extra attempts beyond the first; zero means 1
	Delay     time.Duration // wait before starting the next attempt; zero means 2s
	// ShouldHedge decides whether an outcome is unacceptable, so that the next attempt
	// starts at once rather than after Delay. Nil treats every error but context
	// cancellation as unacceptable.
	ShouldHedge func(Outcome) bool
}

// Hedging starts another attempt in parallel when the previous one is slow (after
// Delay) or fails. The first acceptable outcome wins; the other attempts are cancelled
// and waited for before the call returns, so none outlives it. If no attempt is
// acceptable, the last outcome is returned. Safe for concurrent use.
type Hedging struct {
	name string
	opts HedgingOptions
}

// NewHedging returns a hedging policy, or an error naming the option that is invalid.
func NewHedging(opts HedgingOptions) (*Hedging, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "hedging"
	}
	return &Hedging{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (h *Hedging) Name() string { return h.name }
func (*Hedging) policy()        {}

func runHedging[T any](ctx context.Context, h *Hedging, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
