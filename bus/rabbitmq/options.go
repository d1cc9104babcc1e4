package rabbitmq

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// QueueType is the RabbitMQ queue type of a subscription's queues (its
// "x-queue-type" argument). The zero value is [QueueQuorum].
type QueueType string

const (
	// QueueQuorum declares quorum queues: replicated, durable, with at-least-once
	// dead-lettering from the retry queues back to the work queue. The default.
	QueueQuorum QueueType = "quorum"
	// QueueClassic declares classic durable queues.
	QueueClassic QueueType = "classic"
)

// Options configure a [Transport]. The zero value names the connections after the
// program, prefixes queue names with "rampart", publishes to the topic exchange
// "rampart.events", declares quorum queues, publishes over 4 confirm-mode channels
// with up to 512 unconfirmed messages each, sends heartbeats every 10s, gives up a
// connection attempt after 10s, reconnects with exponential backoff from 100ms to
// 5s, and logs nothing.
type Options struct {
	// Name identifies the service in the RabbitMQ management UI: the connections
	// are named "<Name> (publish)" and "<Name> (consume)" (the "connection_name"
	// client property) and published messages carry it as their app-id. Empty
	// means the program's file name.
	Name string
	// Prefix starts the name of every queue the transport declares:
	// "<Prefix>.<subscription>", "<Prefix>.<subscription>.retry.10s",
	// "<Prefix>.<subscription>.dlq". Empty means "rampart".
	Prefix string
	// Exchange is the durable topic exchange events are published to, with the
	// event type as routing key. Empty means "<Prefix>.events".
	Exchange string
	// QueueType is the type of every queue the transport declares. Empty means
	// [QueueQuorum]. A queue that exists with another type is an error at
	// Subscribe (a [*ConflictError]): RabbitMQ cannot change a queue's type.
	QueueType QueueType
	// PublisherChannels is the number of confirm-mode channels publishing shares.
	// Zero means 4.
	PublisherChannels int
	// MaxInFlight is the number of messages that may await their confirm on one
	// publisher channel; more publishers wait for a slot. Zero means 512.
	MaxInFlight int
	// EnvelopeInTable publishes every envelope header in the header table, as
	// well as ID, type, content type and correlation ID in AMQP's basic
	// properties (and no rampart-ce header), which every version of the consumer
	// reads: for a rolling upgrade, while consumers of an earlier version (which
	// read the table alone, or do not know the compact rampart-ce form) still
	// run. It costs the client and the broker more per message. Consumers read
	// every form either way.
	EnvelopeInTable bool
	// Heartbeat is the AMQP heartbeat interval asked of the broker; a connection
	// silent for 1.5 intervals is considered lost. Zero means 10s. A heartbeat in
	// the URL ("?heartbeat=5") takes precedence.
	Heartbeat time.Duration
	// DialTimeout bounds one connection attempt: TCP connect, TLS and the AMQP
	// handshake. Zero means 10s.
	DialTimeout time.Duration
	// Reconnect spaces the attempts to reconnect after a lost connection (the
	// first is immediate) and to reopen a channel. The zero value means
	// exponential backoff from 100ms to 5s with full jitter.
	Reconnect resilience.Backoff
	// TLS configures amqps:// connections. Nil means the defaults of amqp091-go
	// (certificates from the URL's query, if any).
	TLS *tls.Config
	// Logger receives connection losses, reconnects and failures to re-declare.
	// Nil logs nothing.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	defaultPrefix            = "rampart"
	defaultPublisherChannels = 4
	defaultMaxInFlight       = 512
	defaultHeartbeat         = 10 * time.Second
	defaultDialTimeout       = 10 * time.Second
	maxQueueNameLen          = 255 // an AMQP short string
)

var defaultReconnect = resilience.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}

// normalize fills in the defaults and validates; errors name the option.
func (o Options) normalize() (Options, error) {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("rabbitmq: Options.%s %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case o.PublisherChannels < 0:
		return o, bad("PublisherChannels", "is %d; want ≥ 0", o.PublisherChannels)
	case o.MaxInFlight < 0:
		return o, bad("MaxInFlight", "is %d; want ≥ 0", o.MaxInFlight)
	case o.Heartbeat < 0:
		return o, bad("Heartbeat", "is %s; want ≥ 0", o.Heartbeat)
	case o.DialTimeout < 0:
		return o, bad("DialTimeout", "is %s; want ≥ 0", o.DialTimeout)
	}
	switch o.QueueType {
	case "":
		o.QueueType = QueueQuorum
	case QueueQuorum, QueueClassic:
	default:
		return o, bad("QueueType", "is %q; want %q or %q", o.QueueType, QueueQuorum, QueueClassic)
	}
	if err := o.Reconnect.Validate(); err != nil {
		return o, fmt.Errorf("rabbitmq: Options.Reconnect: %w", err)
	}
	if o.Reconnect == (resilience.Backoff{}) {
		o.Reconnect = defaultReconnect
	}
	if o.Name == "" {
		o.Name = filepath.Base(os.Args[0])
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.Exchange == "" {
		o.Exchange = o.Prefix + ".events"
	}
	if len(o.Prefix) > 100 {
		return o, bad("Prefix", "has %d bytes; want at most 100", len(o.Prefix))
	}
	if len(o.Exchange) > maxQueueNameLen {
		return o, bad("Exchange", "has %d bytes; want at most %d", len(o.Exchange), maxQueueNameLen)
	}
	if o.PublisherChannels == 0 {
		o.PublisherChannels = defaultPublisherChannels
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = defaultMaxInFlight
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = defaultHeartbeat
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
