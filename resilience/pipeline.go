package resilience

import (
	"context"
	"errors"
	"fmt"
)

var contextDeadlineExceeded = context.DeadlineExceeded

// Policy is one resilience policy: [*Retry], [*Breaker], [*Timeout], [*Bulkhead],
// [*RateLimiter], [*Fallback], [*Hedging], [*Chaos], or a [*Custom] one. A policy
// value is safe for concurrent use and may be shared by several pipelines (a breaker
// shared by every pipeline that calls one host, say).
type Policy interface {
	// Name returns the policy's name as reported in events.
	Name() string
	policy()
}

// PipelineOptions configure a [Pipeline]. The zero value is a pipeline named
// "default" that reports no events.
type PipelineOptions struct {
	// Name identifies the pipeline in events, the [Registry], health checks and
	// metrics. Empty means "default".
	Name string
	// Observer receives the events of every policy in the pipeline. Nil reports
	// nothing. A [Breaker] reports its state changes to its own observer.
	Observer Observer
}

// Pipeline runs functions through policies, outermost first: in
// NewPipeline(opts, retry, breaker, timeout) every attempt of retry passes through
// breaker, and each of those through timeout. A Pipeline is immutable and safe for
// concurrent use; build it once and share it.
type Pipeline struct {
	name     string
	observer Observer
	policies []Policy
}

// NewPipeline returns a pipeline that runs the policies in order, outermost first.
// It fails if a policy is nil.
func NewPipeline(opts PipelineOptions, policies ...Policy) (*Pipeline, error) {
	p := &Pipeline{name: opts.Name, observer: opts.Observer, policies: make([]Policy, len(policies))}
	if p.name == "" {
		p.name = "default"
	}
	for i, pol := range policies {
		if pol == nil || isNilPolicy(pol) {
			return nil, fmt.Errorf("resilience: pipeline %q: policy %d is nil", p.name, i)
		}
		p.policies[i] = pol
	}
	return p, nil
}

func isNilPolicy(p Policy) bool {
	switch v := p.(type) {
	case *Retry:
		return v == nil
	case *Breaker:
		return v == nil
	case *Timeout:
		return v == nil
	case *Bulkhead:
		return v == nil
	case *RateLimiter:
		return v == nil
	case *Fallback:
		return v == nil
	case *Hedging:
		return v == nil
	case *Chaos:
		return v == nil
	case *Custom:
		return v == nil
	}
	return false
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// Policies returns the pipeline's policies, outermost first. The slice is a copy.
func (p *Pipeline) Policies() []Policy { return append([]Policy(nil), p.policies...) }

// Run runs fn through the pipeline and returns its error, or the error of the policy
// that stopped it.
func (p *Pipeline) Run(ctx context.Context, fn func(context.Context) error) error {
	_, err := Do(ctx, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// Do runs fn through the pipeline p and returns its value and error, or the outcome a
// policy substituted (a fallback's value, a rejection). A nil pipeline runs fn as it
// is. On the happy path Do allocates nothing beyond what a [Timeout]'s
// context.WithTimeout needs; a closure that captures variables is allocated by the
// caller as with any function value that is kept by a concurrent policy.
func Do[T any](ctx context.Context, p *Pipeline, fn func(context.Context) (T, error)) (T, error) {
	if p == nil {
		return fn(ctx)
	}
	return chain[T]{p: p, fn: fn}.run(ctx, 0)
}

// chain is one execution of a pipeline: the policies and the function at its core.
// It is passed by value so that nothing escapes to the heap on the happy path.
type chain[T any] struct {
	p  *Pipeline
	fn func(context.Context) (T, error)
}

// run runs policy i and, through it, everything inside it.
func (c chain[T]) run(ctx context.Context, i int) (T, error) {
	if i >= len(c.p.policies) {
		return c.fn(ctx)
	}
	switch pol := c.p.policies[i].(type) {
	case *Retry:
		return runRetry(ctx, pol, c, i)
	case *Breaker:
		return runBreaker(ctx, pol, c, i)
	case *Timeout:
		return runTimeout(ctx, pol, c, i)
	case *Bulkhead:
		return runBulkhead(ctx, pol, c, i)
	case *RateLimiter:
		return runRateLimiter(ctx, pol, c, i)
	case *Fallback:
		return runFallback(ctx, pol, c, i)
	case *Hedging:
		return runHedging(ctx, pol, c, i)
	case *Chaos:
		return runChaos(ctx, pol, c, i)
	case *Custom:
		return runCustom(ctx, pol, c, i)
	}
	panic(fmt.Sprintf("resilience: unknown policy type %T", c.p.policies[i]))
}

// next runs what is inside policy i.
func (c chain[T]) next(ctx context.Context, i int) (T, error) { return c.run(ctx, i+1) }

// emit reports e to the pipeline's observer, if any.
func (c chain[T]) emit(ctx context.Context, pol Policy, e Event) {
	if c.p.observer == nil {
		return
	}
	e.Pipeline = c.p.name
	e.Policy = pol.Name()
	c.p.observer.Observe(ctx, e)
}

// observed reports whether anyone listens, so that policies build events only then.
func (c chain[T]) observed() bool { return c.p.observer != nil }

// Custom is a policy written by the user as middleware around the rest of the
// pipeline. It sees errors only, not values; the value of the inner call flows
// through unchanged. A custom policy costs one allocation per call.
type Custom struct {
	name string
	fn   func(ctx context.Context, next func(context.Context) error) error
}

// NewCustom returns a policy that runs fn around the rest of the pipeline; fn must
// call next at most once per attempt it wants to make, and return its error or its
// own.
func NewCustom(name string, fn func(ctx context.Context, next func(context.Context) error) error) (*Custom, error) {
	if fn == nil {
		return nil, errors.New("resilience: NewCustom: fn is nil")
	}
	if name == "" {
		name = "custom"
	}
	return &Custom{name: name, fn: fn}, nil
}

// Name returns the policy's name.
func (p *Custom) Name() string { return p.name }
func (*Custom) policy()        {}

func runCustom[T any](ctx context.Context, p *Custom, c chain[T], i int) (T, error) {
	var v T
	err := p.fn(ctx, func(ctx context.Context) error {
		var err error
		v, err = c.next(ctx, i)
		return err
	})
	return v, err
}
