package jetstream

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// watchedCtx counts the calls of Done: a context whose Done is called has to
// be ready to be waited on, which costs the bus's settling context a timer.
type watchedCtx struct {
	context.Context
	done atomic.Int32
}

func (c *watchedCtx) Done() <-chan struct{} {
	c.done.Add(1)
	return c.Context.Done()
}

// TestAckLeavesCtxUnwatched acks while the ack queue has room: Ack hands the
// ack over without looking at ctx.Done, and the message is not delivered again.
func TestAckLeavesCtxUnwatched(t *testing.T) {
	opts := testOptions("")
	opts.AckWait = time.Second
	tr := newEmbedded(t, t.TempDir(), opts)
	c := subscribe(t, tr, bus.Subscription{Name: "unwatched"})
	publish(t, tr, testMessage(t, 1))
	d := receive(t, c, 5*time.Second)
	ctx := &watchedCtx{Context: context.Background()}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack = %v, want nil", err)
	}
	if n := ctx.done.Load(); n != 0 {
		t.Errorf("Ack called ctx.Done %d times, want 0", n)
	}
	receiveNone(t, c, 2*time.Second, "the message was acked")
}
