package resilience

import (
	"context"
	"time"
)

// RateLimiterOptions configure a [RateLimiter]. Rate is required.
type RateLimiterOptions struct {
	Name  string  // empty means "rate-limiter"
	Rate  float64 // permits per second; must be > 0
	Burst int     // bucket size; zero means max(1, ceil(Rate))
	// Wait makes a call wait for a permit (up to MaxWait and the context's deadline)
	// instead of failing at once with ErrRateLimited.
	Wait    bool
	MaxWait time.Duration // zero means no bound but the context's
}

// RateLimiter is a token-bucket rate limiter (golang.org/x/time/rate). A rejected call
// fails with a [*RateLimitedError] that says when a permit is expected. Safe for
// concurrent use.
type RateLimiter struct {
	name string
	opts RateLimiterOptions
}

// NewRateLimiter returns a rate limiter, or an error naming the option that is invalid.
func NewRateLimiter(opts RateLimiterOptions) (*RateLimiter, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "rate-limiter"
	}
	return &RateLimiter{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (l *RateLimiter) Name() string { return l.name }
func (*RateLimiter) policy()        {}

func runRateLimiter[T any](ctx context.Context, l *RateLimiter, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
