package resilience

import (
	"context"
	"fmt"
	"sync/atomic"
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
// [ErrTimeout] and [context.DeadlineExceeded]; inside the call, [context.Cause] of the
// cancelled context is such an error too.
//
// Only this policy's own deadline is reported as a timeout: when the caller's context
// is cancelled, or its deadline comes first, the call's own error is returned as is.
// A call that returns a nil error although its context was cancelled keeps its value
// and nil error.
//
// The context of the call is cancelled when the call returns, so a value that is read
// through that context (an HTTP response body, say) must be consumed inside the
// call.
//
// Build a Timeout with [NewTimeout]; the zero Timeout is not usable. A Timeout is safe
// for concurrent use; [Timeout.Update] changes its duration at run time for the calls
// that start afterwards. Its happy path costs one [context.WithTimeout] and nothing
// more.
type Timeout struct {
	name     string
	settings atomic.Pointer[timeoutSettings]
}

// timeoutSettings is the part of a Timeout that Update replaces as a whole.
type timeoutSettings struct {
	d time.Duration
	// cause is the cause of the contexts this policy cancels, built once so that
	// the happy path allocates nothing for it; runTimeout recognises its own
	// deadline by this pointer.
	cause *TimeoutError
}

// NewTimeout returns a timeout policy, or an error naming the option that is invalid.
func NewTimeout(opts TimeoutOptions) (*Timeout, error) {
	if opts.Name == "" {
		opts.Name = "timeout"
	}
	t := &Timeout{name: opts.Name}
	if err := t.Update(opts); err != nil {
		return nil, err
	}
	return t, nil
}

// Name returns the policy's name.
func (t *Timeout) Name() string { return t.name }
func (*Timeout) policy()        {}

// Duration returns the timeout in force.
func (t *Timeout) Duration() time.Duration { return t.settings.Load().d }

// Update replaces the timeout at run time, with the same defaults and validation as
// [NewTimeout]; opts.Name is ignored (the name is kept). Calls already running keep
// the deadline they started with. On error nothing changes.
func (t *Timeout) Update(opts TimeoutOptions) error {
	d := opts.Timeout
	switch {
	case d < 0:
		return fmt.Errorf("resilience: TimeoutOptions.Timeout: must be ≥ 0, got %s", d)
	case d == 0:
		d = 10 * time.Second
	}
	t.settings.Store(&timeoutSettings{d: d, cause: &TimeoutError{Policy: t.name, Timeout: d}})
	return nil
}

func runTimeout[T any](ctx context.Context, t *Timeout, c chain[T], i int) (T, error) {
	s := t.settings.Load()
	var start time.Time
	if c.observed() {
		start = time.Now()
	}
	tctx, cancel := context.WithTimeoutCause(ctx, s.d, s.cause)
	defer cancel() // for a panicking call; cancel is idempotent
	v, err := c.next(tctx, i)
	// Cancel before looking at the cause, so that a timer that fires from now on
	// cannot claim an outcome that did not depend on it.
	cancel()
	if err == nil {
		return v, nil
	}
	// The cause is ours only if our own timer fired: a cancellation or an earlier
	// deadline of the parent propagates with the parent's cause, and when the parent's
	// deadline comes first WithTimeoutCause sets no timer at all.
	if context.Cause(tctx) != error(s.cause) {
		return v, err
	}
	te := &TimeoutError{Policy: t.name, Timeout: s.d}
	if err != context.DeadlineExceeded && err != error(s.cause) {
		te.Err = err
	}
	if c.observed() {
		c.emit(ctx, t, Event{Kind: EventTimeout, Duration: time.Since(start), Err: te})
	}
	return v, te
}
