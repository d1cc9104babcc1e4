package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// ErrNotEmbedded is returned by [Transport.RestartServer] when the transport is
// connected to a server of its own ([Connect]) rather than to an embedded one.
var ErrNotEmbedded = errors.New("jetstream: the transport does not run an embedded server")

// RestartServer cuts the transport's connection to its embedded server the way
// a broker outage does: it shuts the server down (every connection to it drops),
// waits downtime (cut short by ctx), and starts a new server on the same data
// directory, where it finds every stream, consumer and message as they were.
// It returns once the new server is ready; the connection reconnects to it by
// itself within [Options.ReconnectWait], and the consumers resume. Publishes
// and settlements made during the outage fail or wait as on any disconnection.
//
// It is meant for failure rehearsals and tests. With [EmbeddedOptions.Listen]
// on port 0 the new server may listen on another port ([Transport.ClientURL]).
// It returns [ErrNotEmbedded] for a transport made by [Connect], and
// [bus.ErrClosed] once the transport is closed. If the new server cannot
// start, the error says why and the transport stays disconnected.
func (t *Transport) RestartServer(ctx context.Context, downtime time.Duration) error {
	e := t.embedded
	if e == nil {
		return ErrNotEmbedded
	}
	if downtime < 0 {
		return fmt.Errorf("jetstream: RestartServer: downtime is %s; want ≥ 0", downtime)
	}
	e.restarting.Lock()
	defer e.restarting.Unlock()
	if t.closed.Load() {
		return bus.ErrClosed
	}
	e.shutdown()
	t.opts.Logger.Warn("jetstream: embedded server stopped for a restart", "downtime", downtime)
	if downtime > 0 {
		timer := time.NewTimer(downtime)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}
	// Start the server even when ctx is done: the transport must not be left
	// without one. The start is bounded by EmbeddedOptions.StartTimeout.
	if t.closed.Load() {
		return bus.ErrClosed // Close shut the server down, or will
	}
	if err := e.start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if t.closed.Load() {
		e.shutdown() // Close ran while the server started: do not leave it running
		return bus.ErrClosed
	}
	t.opts.Logger.Info("jetstream: embedded server restarted on its data directory", "data_dir", e.opts.StoreDir)
	return nil
}
