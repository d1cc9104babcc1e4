package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// handledCount counts the events a benchmark's handler handled; done is closed
// once they are n.
type handledCount struct {
	n       int64
	handled atomic.Int64
	done    chan struct{}
}

// countHandled registers on subscription sub of bb a handler of events of type
// T that only counts them, expecting n.
func countHandled[T any](b *testing.B, bb *bus.Bus, sub string, n int) *handledCount {
	b.Helper()
	c := &handledCount{n: int64(n), done: make(chan struct{})}
	if err := bus.Handle(bb, sub, func(ctx context.Context, e T, m bus.Meta) error {
		if c.handled.Add(1) == c.n {
			close(c.done)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return c
}

// wait waits until the n events are handled, and fails b if they are not
// within timeout.
func (c *handledCount) wait(b *testing.B, timeout time.Duration) {
	b.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		b.Fatalf("%d of %d messages handled after %s", c.handled.Load(), c.n, timeout)
	}
}
