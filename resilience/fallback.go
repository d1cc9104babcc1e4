package resilience

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// FallbackOptions configure a [Fallback]. Fallback is required.
type FallbackOptions struct {
	Name string // empty means "fallback"
	// ShouldHandle decides which outcomes are replaced. Nil replaces every error except
	// context cancellation ([context.Canceled]) and leaves values with a nil error
	// alone. Setting it makes every call box its value into an [Outcome].
	ShouldHandle func(Outcome) bool
	// Fallback returns the replacement value and error. The value must be assignable to
	// the type of the call's value (or nil for its zero value); otherwise the call fails
	// with an error that names both types. It runs on the caller's goroutine with the
	// call's context; o.Attempt is zero.
	Fallback func(ctx context.Context, o Outcome) (any, error)
}

// Fallback replaces a handled outcome with an alternative value or error, and reports
// each replacement to the pipeline's observer as an [EventFallback]. Outcomes it does
// not handle pass through unchanged; with a nil ShouldHandle, a call that succeeds
// costs nothing (no boxing, no allocation).
//
// Build a Fallback with [NewFallback]; the zero Fallback is not usable. It is safe for
// concurrent use if its Fallback and ShouldHandle functions are.
type Fallback struct {
	name         string
	shouldHandle func(Outcome) bool
	fallback     func(ctx context.Context, o Outcome) (any, error)
}

// NewFallback returns a fallback policy, or an error naming the option that is invalid.
func NewFallback(opts FallbackOptions) (*Fallback, error) {
	if opts.Name == "" {
		opts.Name = "fallback"
	}
	if opts.Fallback == nil {
		return nil, errors.New("resilience: FallbackOptions.Fallback: is required, got nil")
	}
	return &Fallback{name: opts.Name, shouldHandle: opts.ShouldHandle, fallback: opts.Fallback}, nil
}

// Name returns the policy's name.
func (f *Fallback) Name() string { return f.name }
func (*Fallback) policy()        {}

func runFallback[T any](ctx context.Context, f *Fallback, c chain[T], i int) (T, error) {
	v, err := c.next(ctx, i)
	if f.shouldHandle == nil {
		if err == nil || errors.Is(err, context.Canceled) {
			return v, err
		}
	} else if !f.shouldHandle(outcomeOf(v, err, 0)) {
		return v, err
	}
	if c.observed() {
		c.emit(ctx, f, Event{Kind: EventFallback, Err: err})
	}
	alt, ferr := f.fallback(ctx, outcomeOf(v, err, 0))
	var zero T
	if alt == nil {
		return zero, ferr
	}
	tv, ok := alt.(T)
	if !ok {
		return zero, fmt.Errorf("resilience: fallback %q returned a value of type %T, not assignable to %s", f.name, alt, reflect.TypeFor[T]())
	}
	return tv, ferr
}
