package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// HedgingOptions configure a [Hedging] policy. The zero value starts one hedge 2s after
// the first attempt, or at once when the first attempt fails.
type HedgingOptions struct {
	Name      string        // empty means "hedging"
	MaxHedges int           // extra attempts beyond the first; zero means 1; negative is an error
	Delay     time.Duration // wait before starting the next attempt; zero means 2s; negative is an error
	// ShouldHedge decides whether an outcome is unacceptable, so that the next attempt
	// starts at once rather than after Delay. Nil treats every error but context
	// cancellation as unacceptable. Setting it makes every attempt box its value into
	// an [Outcome].
	ShouldHedge func(Outcome) bool
	// OnDiscard, if set, is called with the outcome of every attempt that is not
	// returned: the attempts that lost to the winner, and the unacceptable ones before
	// the last when none was acceptable. Use it to release what such a value holds
	// (close an HTTP response body, say). It is called on the caller's goroutine,
	// before the call returns.
	OnDiscard func(Outcome)
}

// Hedging starts another attempt in parallel when the previous one is slow (after
// Delay) or fails. The first acceptable outcome wins; the other attempts are cancelled
// and waited for before the call returns, so none outlives it. If no attempt is
// acceptable, the last outcome is returned. When the caller's context ends no new
// attempt starts, and the call returns once the running ones have.
//
// Every attempt runs the rest of the pipeline on a goroutine of its own, with a
// context that is cancelled when the call returns, so a value that is read through
// that context (an HTTP response body, say) must be consumed inside the call. A panic
// in an attempt is raised again on the caller's goroutine once the other attempts have
// stopped. The policy reports each hedge it starts as an [EventHedge] and each attempt
// that finishes as an [EventAttempt].
//
// Build a Hedging policy with [NewHedging]; the zero Hedging is not usable. It is safe
// for concurrent use if its ShouldHedge and OnDiscard functions are. Each call
// allocates a channel, a timer and a goroutine per attempt.
type Hedging struct {
	name        string
	maxHedges   int
	delay       time.Duration
	shouldHedge func(Outcome) bool
	onDiscard   func(Outcome)
}

// NewHedging returns a hedging policy, or an error naming the option that is invalid.
func NewHedging(opts HedgingOptions) (*Hedging, error) {
	if opts.Name == "" {
		opts.Name = "hedging"
	}
	switch {
	case opts.MaxHedges < 0:
		return nil, fmt.Errorf("resilience: HedgingOptions.MaxHedges: must be ≥ 0, got %d", opts.MaxHedges)
	case opts.MaxHedges == 0:
		opts.MaxHedges = 1
	}
	switch {
	case opts.Delay < 0:
		return nil, fmt.Errorf("resilience: HedgingOptions.Delay: must be ≥ 0, got %s", opts.Delay)
	case opts.Delay == 0:
		opts.Delay = 2 * time.Second
	}
	return &Hedging{
		name:        opts.Name,
		maxHedges:   opts.MaxHedges,
		delay:       opts.Delay,
		shouldHedge: opts.ShouldHedge,
		onDiscard:   opts.OnDiscard,
	}, nil
}

// Name returns the policy's name.
func (h *Hedging) Name() string { return h.name }
func (*Hedging) policy()        {}

// hedgeResult is the outcome of one hedged attempt.
type hedgeResult[T any] struct {
	v        T
	err      error
	attempt  int
	took     time.Duration
	panicked bool
	panicVal any
}

func runHedging[T any](ctx context.Context, h *Hedging, c chain[T], i int) (T, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	total := h.maxHedges + 1
	results := make(chan hedgeResult[T], total) // never blocks a sender
	var wg sync.WaitGroup
	launched, finished := 0, 0
	launch := func() {
		launched++
		n := launched
		if n > 1 && c.observed() {
			c.emit(ctx, h, Event{Kind: EventHedge, Attempt: n})
		}
		wg.Go(func() {
			r := hedgeResult[T]{attempt: n, panicked: true}
			start := time.Now()
			defer func() {
				r.took = time.Since(start)
				if r.panicked {
					r.panicVal = recover()
				}
				results <- r
			}()
			r.v, r.err = c.next(actx, i)
			r.panicked = false
		})
	}
	accept := func(r *hedgeResult[T]) bool {
		if h.shouldHedge == nil {
			return r.err == nil || errors.Is(r.err, context.Canceled)
		}
		return !h.shouldHedge(outcomeOf(r.v, r.err, r.attempt))
	}
	attemptDone := func(r *hedgeResult[T]) {
		finished++
		if c.observed() && !r.panicked {
			c.emit(ctx, h, Event{Kind: EventAttempt, Attempt: r.attempt, Duration: r.took, Err: r.err})
		}
	}
	discard := func(r *hedgeResult[T]) {
		if h.onDiscard != nil && !r.panicked {
			h.onDiscard(outcomeOf(r.v, r.err, r.attempt))
		}
	}

	timer := time.NewTimer(h.delay)
	defer timer.Stop()
	launch()
	var (
		last     hedgeResult[T]
		haveLast bool
		panicked *hedgeResult[T]
	)
wait:
	for {
		select {
		case r := <-results:
			attemptDone(&r)
			if r.panicked {
				panicked = &r
				break wait
			}
			if haveLast {
				discard(&last) // superseded: the last outcome is the one returned
			}
			last, haveLast = r, true
			if accept(&r) {
				break wait
			}
			if launched < total && ctx.Err() == nil {
				launch()
				timer.Reset(h.delay)
			} else if finished == launched {
				break wait
			}
		case <-timer.C:
			if launched < total && ctx.Err() == nil {
				launch()
				timer.Reset(h.delay)
			}
		}
	}

	// Stop the attempts still running and wait for them.
	cancel()
	for finished < launched {
		r := <-results
		attemptDone(&r)
		if r.panicked {
			if panicked == nil {
				panicked = &r
			}
			continue
		}
		discard(&r)
	}
	wg.Wait()
	if panicked != nil {
		if haveLast {
			discard(&last)
		}
		panic(panicked.panicVal)
	}
	return last.v, last.err
}
