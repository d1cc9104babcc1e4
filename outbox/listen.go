package outbox

import (
	"context"
	"errors"
	"time"
)

// listen keeps a LISTEN connection open (PostgreSQL), waking the loop on every
// notification and after every reconnection (notifications may have been missed).
// The first outcome goes to ready.
func (r *Relay) listen(ctx context.Context, ready chan<- error) {
	first := true
	var failures int
	var prev time.Duration
	onReady := func(err error) {
		if first {
			first = false
			ready <- err
			return
		}
		if err == nil {
			failures, prev = 0, 0
			r.Notify()
		}
	}
	for {
		err := r.db.listen(ctx, r.channel, onReady, r.Notify)
		if ctx.Err() != nil || errors.Is(err, errNoListen) {
			return
		}
		failures++
		prev = r.opts.Backoff.Delay(failures, prev)
		r.log.Warn("outbox: LISTEN connection lost; reconnecting", "wait", prev, "err", err)
		t := time.NewTimer(prev)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
