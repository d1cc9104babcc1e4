package resilience

import (
	"context"
	"time"
)

// RetryOptions configure a [Retry]. The zero value retries errors up to 3 attempts in
// all, with exponential backoff from 100ms, full jitter, capped at 30s.
type RetryOptions struct {
	// Name identifies the policy in events. Empty means "retry".
	Name string
	// MaxAttempts is the number of attempts in all, the first included. Zero means 3;
	// negative is an error.
	MaxAttempts int
	// Backoff computes the wait before each retry.
	Backoff Backoff
	// ShouldRetry decides whether an outcome is retried. Nil retries every error except
	// context cancellation, the caller's own deadline and errors marked [Permanent].
	// Setting it makes every attempt box its value into an [Outcome].
	ShouldRetry func(Outcome) bool
	// DelayHint extracts a wait from an outcome (an HTTP Retry-After, say) that replaces
	// the backoff for that retry. Nil uses the hint of any error in the chain that has a
	// RetryAfter() time.Duration method, such as [RetryAfterError].
	DelayHint func(Outcome) (time.Duration, bool)
	// MaxDelayHint caps a hinted wait. Zero means 30s. A hint above the cap is cut to
	// the cap.
	MaxDelayHint time.Duration
	// Budget, if set, limits retries to a share of recent requests; a retry the budget
	// refuses ends the execution with the last outcome.
	Budget *Budget
}

// Retry is a policy that runs the rest of the pipeline again when its outcome is
// retryable, waiting between attempts. It never waits past the context's deadline:
// when the next wait would end after it, Retry returns the last outcome at once.
// When it gives up on an error it returns a [*RetriesExhaustedError]; when it gives
// up on a value that ShouldRetry rejected, it returns that value with a nil error.
// A Retry is safe for concurrent use.
type Retry struct {
	name string
	opts RetryOptions
}

// NewRetry returns a retry policy, or an error naming the option that is invalid.
func NewRetry(opts RetryOptions) (*Retry, error) {
	// TODO: normalise and validate.
	if opts.Name == "" {
		opts.Name = "retry"
	}
	return &Retry{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (r *Retry) Name() string { return r.name }
func (*Retry) policy()        {}

func runRetry[T any](ctx context.Context, r *Retry, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
