package resilience

import "context"

// FallbackOptions configure a [Fallback]. Fallback is required.
type FallbackOptions struct {
	Name string // empty means "fallback"
	// ShouldHandle decides which outcomes are replaced. Nil replaces every error except
	// context cancellation.
	ShouldHandle func(Outcome) bool
	// Fallback returns the replacement value and error. The value must be assignable to
	// the type of the call's value (or nil for its zero value); otherwise the call fails
	// with an error that names both types.
	Fallback func(ctx context.Context, o Outcome) (any, error)
}

// Fallback replaces a handled outcome with an alternative value or error. Safe for
// concurrent use.
type Fallback struct {
	name string
	opts FallbackOptions
}

// NewFallback returns a fallback policy, or an error naming the option that is invalid.
func NewFallback(opts FallbackOptions) (*Fallback, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "fallback"
	}
	return &Fallback{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (f *Fallback) Name() string { return f.name }
func (*Fallback) policy()        {}

func runFallback[T any](ctx context.Context, f *Fallback, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
