package resilience

import (
	"context"
	"time"
)

// TimeoutOptions configure a [Timeout]. The zero value times out after 10s.
type TimeoutOptions struct {
	Name    string        // empty means "timeout"
	Timeout time.Duration // zero means 10s; negative is an error
}

// Timeout is a cooperative timeout: the function runs on the caller's goroutine and
// its context is cancelled when the timeout expires; nothing is abandoned running. A
// call that ends because of this policy returns a [*TimeoutError], which matches both
// [ErrTimeout] and [context.DeadlineExceeded]. Safe for concurrent use.
type Timeout struct {
	name string
	opts TimeoutOptions
}

// NewTimeout returns a timeout policy, or an error naming the option that is invalid.
func NewTimeout(opts TimeoutOptions) (*Timeout, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "timeout"
	}
	return &Timeout{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (t *Timeout) Name() string { return t.name }
func (*Timeout) policy()        {}

func runTimeout[T any](ctx context.Context, t *Timeout, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
