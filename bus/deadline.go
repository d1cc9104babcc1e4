package bus

import (
	"context"
	"sync/atomic"
	"time"
)

// lazyTimeout is a context with a deadline, as context.WithDeadline makes, whose
// timer is started only when somebody watches it: when Done is called (by code
// that waits on the context, or a context derived from it), or Err finds the
// deadline passed, the parent done or the context stopped. Until then it is a
// parent, a deadline and a flag. The contexts of the bus that a deadline bounds
// (the handler's, and those of settling a delivery) mostly go unwatched, by
// handlers that do not block and by transports and inboxes that do not wait, and
// a timer made and stopped for each of them costs more than the rest of the
// delivery's bookkeeping.
//
// Armed, it is the context.WithDeadline(parent, deadline) it then makes; stop
// is its cancel function. Err and Done agree: Err is not nil only once Done is
// closed. One difference is seen only after stop: a context stopped unwatched
// reports context.Canceled (or its parent's error), even if its deadline had
// passed unseen by then.
type lazyTimeout struct {
	parent   context.Context
	deadline time.Time
	armed    atomic.Pointer[armedTimeout]
	// stopped is set by stop. arm publishes armed before it reads stopped, and stop
	// sets stopped before it reads armed: whichever comes second cancels the armed
	// context (no mutex: it would make the struct, embedded in every delivery's
	// bookkeeping, a word larger, and cost a lock on every stop).
	stopped atomic.Bool
}

type armedTimeout struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// newLazyTimeout returns a context that parent's cancellation cancels and that
// expires at now+d (or parent's deadline, if earlier). The caller must stop it.
func newLazyTimeout(parent context.Context, now time.Time, d time.Duration) *lazyTimeout {
	return new(lazyTimeout).init(parent, now, d)
}

// init sets up c, a zero lazyTimeout that is part of a larger struct, as
// newLazyTimeout would, and returns it.
func (c *lazyTimeout) init(parent context.Context, now time.Time, d time.Duration) *lazyTimeout {
	deadline := now.Add(d)
	if pd, ok := parent.Deadline(); ok && pd.Before(deadline) {
		deadline = pd
	}
	c.parent, c.deadline = parent, deadline
	return c
}

// Deadline returns the deadline.
func (c *lazyTimeout) Deadline() (time.Time, bool) { return c.deadline, true }

// Done arms the context and returns the channel closed when it is done.
func (c *lazyTimeout) Done() <-chan struct{} { return c.arm().Done() }

// Err returns nil while the context is not done, without arming it; else the
// error of the armed context.
func (c *lazyTimeout) Err() error {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Err()
	}
	if !c.stopped.Load() && c.parent.Err() == nil && time.Now().Before(c.deadline) {
		return nil
	}
	return c.arm().Err()
}

// Value returns the parent's value for key, or the armed context's, which is the
// same but for the context package's own keys: so that contexts derived from an
// armed lazyTimeout are cancelled along with it as with any context.WithDeadline,
// without a goroutine of their own.
func (c *lazyTimeout) Value(key any) any {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// String names the context for debugging, as the context package's do.
func (c *lazyTimeout) String() string {
	return "bus.lazyTimeout(" + c.deadline.String() + ")"
}

// arm makes the context.WithDeadline this context stands for, once, and returns
// it; cancelled at once if the context was stopped.
func (c *lazyTimeout) arm() context.Context {
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if c.stopped.Load() {
		// Stopped unwatched: cancelled, whether or not the deadline has passed since.
		ctx, cancel = context.WithCancel(c.parent)
		cancel()
	} else {
		ctx, cancel = context.WithDeadline(c.parent, c.deadline)
	}
	a := &armedTimeout{ctx: ctx, cancel: cancel}
	if !c.armed.CompareAndSwap(nil, a) {
		cancel() // armed meanwhile by another goroutine: its context is the one
		return c.armed.Load().ctx
	}
	if c.stopped.Load() {
		cancel() // stopped meanwhile, perhaps before a was published for stop to see
	}
	return ctx
}

// stop cancels the context, as the cancel function of context.WithDeadline does.
// It is idempotent.
func (c *lazyTimeout) stop() {
	c.stopped.Store(true)
	if a := c.armed.Load(); a != nil {
		a.cancel()
	}
}
