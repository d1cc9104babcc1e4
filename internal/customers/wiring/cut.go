package wiring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/bus/jetstream"
)

// ErrCannotCutBroker is returned by [Server.CutBrokerConnection] for a
// transport whose connection the service cannot cut itself: RabbitMQ's is cut
// at the broker (rabbitmqctl close_all_connections), the memory transport has
// none.
var ErrCannotCutBroker = errors.New("customers: the bus transport's broker connection cannot be cut from the service")

// CutBrokerConnection cuts the service's connection to its broker, for
// failure rehearsals. On the embedded JetStream server it restarts the server
// on its data directory after downtime (every connection drops, the client
// reconnects and the consumers resume; see [jetstream.Transport.RestartServer]);
// on an external NATS server it makes the client drop its connection and
// reconnect (downtime is ignored). It then waits, within ctx, for the
// connection to be up again, and returns what it did and how long the service
// was cut off; [ErrCannotCutBroker] for the other transports.
func (s *Server) CutBrokerConnection(ctx context.Context, downtime time.Duration) (string, error) {
	tr, ok := s.bus.(*jetstream.Transport)
	if !ok || tr == nil {
		return "", fmt.Errorf("%w (transport %T)", ErrCannotCutBroker, s.bus)
	}
	began := time.Now()
	what := fmt.Sprintf("embedded JetStream server stopped, restarted on its data directory after %s", downtime)
	switch err := tr.RestartServer(ctx, downtime); {
	case errors.Is(err, jetstream.ErrNotEmbedded):
		if err := tr.Conn().ForceReconnect(); err != nil {
			return "", fmt.Errorf("customers: cutting the NATS connection: %w", err)
		}
		what = "NATS connection dropped by the client"
	case err != nil:
		return "", fmt.Errorf("customers: restarting the embedded JetStream server: %w", err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !tr.Connected() {
		select {
		case <-ctx.Done():
			return what, fmt.Errorf("customers: %s; not reconnected after %s: %w", what, time.Since(began).Round(time.Millisecond), ctx.Err())
		case <-tick.C:
		}
	}
	return fmt.Sprintf("%s; reconnected %s after the cut", what, time.Since(began).Round(time.Millisecond)), nil
}
