package wiring

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/jetstream"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/config"
)

// openTransport connects the bus's transport that cfg names: RabbitMQ, NATS
// JetStream (a server or cluster, or the embedded server), or the in-process
// memory transport. It returns the transport and a description for the log.
func openTransport(ctx context.Context, cfg config.BusConfig, log *slog.Logger) (bus.Transport, string, error) {
	tlog := log.With("component", "bus")
	switch cfg.Transport {
	case "rabbitmq":
		tr, err := rabbitmq.New(ctx, string(cfg.URL), rabbitmq.Options{Name: "customers", Prefix: cfg.Prefix, EnvelopeInTable: cfg.FullHeaders, Logger: tlog})
		if err != nil {
			return nil, "", fmt.Errorf("customers: bus: %w", err)
		}
		return tr, "RabbitMQ at " + cfg.URL.String(), nil
	case "jetstream":
		opts := jetstream.Options{Prefix: cfg.Prefix, Name: "customers", FullHeaders: cfg.FullHeaders, Logger: tlog}
		if cfg.Embedded != nil {
			tr, err := jetstream.Embedded(ctx, jetstream.EmbeddedOptions{DataDir: cfg.Embedded.DataDir, Listen: cfg.Embedded.Listen, Options: opts})
			if err != nil {
				return nil, "", fmt.Errorf("customers: bus: %w", err)
			}
			where := "embedded JetStream in " + cfg.Embedded.DataDir
			if u := tr.ClientURL(); u != "" {
				where += ", clients at " + u
			}
			return tr, where, nil
		}
		tr, err := jetstream.Connect(ctx, string(cfg.URL), opts)
		if err != nil {
			return nil, "", fmt.Errorf("customers: bus: %w", err)
		}
		return tr, "NATS JetStream at " + cfg.URL.String(), nil
	case "memory":
		return memory.New(), "in-process memory transport (events are lost when the process stops; not for production)", nil
	}
	return nil, "", fmt.Errorf("customers: bus.transport %q: want jetstream, rabbitmq or memory", cfg.Transport)
}
