package jetstream

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configure a [Transport]. The zero value uses the prefix "rampart"
// (streams rampart_EVENTS, rampart_DLQ and rampart_REDELIVERY), one replica, a
// two-minute duplicate window, keeps events until every subscription has handled
// them and dead letters until someone removes them, lets 256 asynchronous
// publishes wait for their acknowledgement at once, sends the envelope in the
// compact header form (see FullHeaders), reconnects forever every second, and
// logs nothing.
type Options struct {
	// Prefix names the streams and subjects of the transport: streams
	// "<Prefix>_EVENTS", "<Prefix>_DLQ" and "<Prefix>_REDELIVERY", subjects
	// "<Prefix>.events.<event type>", "<Prefix>.dlq.<subscription>" and
	// "<Prefix>.redelivery.<subscription>.<sequence>". Letters, digits, '-' and '_'.
	// Empty means "rampart". Services that share events use the same prefix.
	Prefix string
	// Name is the connection's name, shown by the server's monitoring. Empty
	// means the program's file name.
	Name string
	// Replicas is the number of replicas of each stream (1, 3 or 5 in a cluster).
	// Zero means 1.
	Replicas int
	// DuplicateWindow is how long the server remembers event IDs (Nats-Msg-Id)
	// to drop a message published again with the same ID. Zero means 2 minutes.
	DuplicateWindow time.Duration
	// MaxAge bounds how long an event stays in the events stream when some
	// subscription never handles it. Zero means no limit: an event stays until
	// every subscription bound to its type has acknowledged or dead-lettered it.
	MaxAge time.Duration
	// DeadLetterMaxAge bounds how long a dead letter is kept. Zero means no
	// limit: dead letters stay until someone removes them.
	DeadLetterMaxAge time.Duration
	// MaxInFlight is how many published messages may wait for the stream's
	// acknowledgement at once, over all concurrent Publish calls (what
	// nats.go's PublishAsyncMaxPending is to its asynchronous publisher). A
	// Publish call beyond it waits for room. Zero means 256.
	MaxInFlight int
	// PublishTimeout bounds the wait for the acknowledgement of one attempt to
	// publish a message; an attempt that times out (its acknowledgement lost
	// with a connection, say) is published again with the same Nats-Msg-Id,
	// until the caller's context ends (see Transport.Publish). Zero means 30
	// seconds.
	PublishTimeout time.Duration
	// AckWait is the server's AckWait for the subscriptions' consumers: how soon
	// the messages held by a consumer that died, or lost its connection, go to
	// another one (a message lost on its way to a consumer also comes back after
	// it). Deliveries a live consumer holds are kept with in-progress acks every
	// AckWait/2, however long their handlers run. Zero means 30 seconds, or the
	// subscription's AckWait if that is shorter.
	AckWait time.Duration
	// MaxAckPending is the server's limit on deliveries outstanding at once for a
	// subscription, over all its consumers in every process. Zero keeps the
	// server's default (1000) for new subscriptions and leaves existing ones alone.
	MaxAckPending int
	// MaxDeliver is the server's limit on deliveries of one message to one
	// subscription. The bus counts attempts itself and dead-letters a message
	// after its MaxAttempts, so this is only a backstop for a message that kills
	// its process before the bus can count the attempt; when it is reached the
	// server stops delivering the message without dead-lettering it. It must be
	// well above every subscription's MaxAttempts. Zero means no limit.
	MaxDeliver int
	// ReconnectWait is the wait between reconnection attempts. The transport
	// reconnects forever. Zero means 1 second.
	ReconnectWait time.Duration
	// PingInterval is how often the client pings the server; two pings without
	// an answer count as a lost connection. Zero means 10 seconds.
	PingInterval time.Duration
	// FullHeaders makes Publish send every envelope header as a header of its
	// own. By default a message goes out in a compact form, without the
	// headers that repeat what the message carries anyway (ce-specversion,
	// ce-id as Nats-Msg-Id, ce-type in the subject) and with the other
	// envelope headers in one, Rampart-Ce, which consumers unpack on receipt
	// (see the package documentation); consumers of earlier versions cannot
	// read it, so set FullHeaders while they still run. Every consumer reads
	// the full form, and consumers since read the compact form and the one
	// before it.
	FullHeaders bool
	// NATSOptions are applied after the transport's own connection options:
	// credentials, TLS, and the like. Options that replace the transport's
	// handlers (disconnect, reconnect, error) take its logging and health
	// reporting away.
	NATSOptions []nats.Option
	// Logger receives the transport's logs (disconnections, reconnections,
	// consumers restarted) and, in embedded mode, the server's. Nil logs nothing.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	defaultPrefix          = "rampart"
	defaultDuplicateWindow = 2 * time.Minute
	defaultMaxInFlight     = 256
	defaultPublishTimeout  = 30 * time.Second
	defaultReconnectWait   = time.Second
	defaultPingInterval    = 10 * time.Second
	defaultAckWait         = 30 * time.Second
	// redeliveryNoteMaxAge bounds how long the record of a scheduled redelivery
	// is kept if nobody removes it (the message was purged, say).
	redeliveryNoteMaxAge = 14 * 24 * time.Hour
)

// normalize fills in the defaults and validates; errors name the option.
func (o Options) normalize() (Options, error) {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("jetstream: Options.%s %s", field, fmt.Sprintf(format, args...))
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if err := checkName(o.Prefix, 64); err != nil {
		return o, bad("Prefix", "%v", err)
	}
	switch {
	case o.Replicas < 0:
		return o, bad("Replicas", "is %d; want ≥ 0", o.Replicas)
	case o.DuplicateWindow < 0:
		return o, bad("DuplicateWindow", "is %s; want ≥ 0", o.DuplicateWindow)
	case o.MaxAge < 0:
		return o, bad("MaxAge", "is %s; want ≥ 0", o.MaxAge)
	case o.DeadLetterMaxAge < 0:
		return o, bad("DeadLetterMaxAge", "is %s; want ≥ 0", o.DeadLetterMaxAge)
	case o.MaxInFlight < 0:
		return o, bad("MaxInFlight", "is %d; want ≥ 0", o.MaxInFlight)
	case o.PublishTimeout < 0:
		return o, bad("PublishTimeout", "is %s; want ≥ 0", o.PublishTimeout)
	case o.AckWait < 0:
		return o, bad("AckWait", "is %s; want ≥ 0", o.AckWait)
	case o.MaxAckPending < 0:
		return o, bad("MaxAckPending", "is %d; want ≥ 0", o.MaxAckPending)
	case o.MaxDeliver < 0:
		return o, bad("MaxDeliver", "is %d; want ≥ 0", o.MaxDeliver)
	case o.ReconnectWait < 0:
		return o, bad("ReconnectWait", "is %s; want ≥ 0", o.ReconnectWait)
	case o.PingInterval < 0:
		return o, bad("PingInterval", "is %s; want ≥ 0", o.PingInterval)
	}
	if o.Name == "" {
		o.Name = programName()
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = defaultDuplicateWindow
	}
	if o.MaxAge > 0 && o.DuplicateWindow > o.MaxAge {
		return o, bad("DuplicateWindow", "is %s, longer than MaxAge %s", o.DuplicateWindow, o.MaxAge)
	}
	if o.DeadLetterMaxAge > 0 && o.DuplicateWindow > o.DeadLetterMaxAge {
		return o, bad("DuplicateWindow", "is %s, longer than DeadLetterMaxAge %s", o.DuplicateWindow, o.DeadLetterMaxAge)
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = defaultMaxInFlight
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = defaultPublishTimeout
	}
	if o.ReconnectWait == 0 {
		o.ReconnectWait = defaultReconnectWait
	}
	if o.AckWait == 0 {
		o.AckWait = defaultAckWait
	}
	if o.PingInterval == 0 {
		o.PingInterval = defaultPingInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.NATSOptions = append([]nats.Option(nil), o.NATSOptions...)
	return o, nil
}

// checkName accepts 1 to max letters, digits, '-' and '_': a token of a subject
// and part of a stream or consumer name.
func checkName(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%q must have 1 to %d characters", s, max)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q has %q; only letters, digits, '-' and '_' are allowed", s, c)
		}
	}
	return nil
}

// checkType accepts an event type that makes a valid subject suffix: tokens of
// letters, digits, '-' and '_' separated by single dots, as the bus's registry
// names them.
func checkType(s string) error {
	if s == "" {
		return fmt.Errorf("jetstream: message has no type")
	}
	if len(s) > 255 {
		return fmt.Errorf("jetstream: event type %q is longer than 255 bytes", s[:32]+"...")
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return fmt.Errorf("jetstream: event type %q has an empty token", s)
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("jetstream: event type %q has %q; a subject token takes letters, digits, '-' and '_'", s, c)
		}
		prevDot = false
	}
	if prevDot {
		return fmt.Errorf("jetstream: event type %q ends with a dot", s)
	}
	return nil
}

func programName() string {
	name := filepath.Base(os.Args[0])
	if name == "" || name == "." || name == string(filepath.Separator) {
		name = "rampart"
	}
	return name
}

// names are the streams and subjects of one prefix.
type names struct {
	prefix                      string
	events, dlq, redelivery     string // stream names
	eventsPrefix, dlqPrefix     string // "<prefix>.events.", "<prefix>.dlq."
	redeliveryPrefix            string // "<prefix>.redelivery."
	eventsAll, dlqAll, notesAll string // the streams' wildcard subjects
}

func newNames(prefix string) names {
	return names{
		prefix:           prefix,
		events:           prefix + "_EVENTS",
		dlq:              prefix + "_DLQ",
		redelivery:       prefix + "_REDELIVERY",
		eventsPrefix:     prefix + ".events.",
		dlqPrefix:        prefix + ".dlq.",
		redeliveryPrefix: prefix + ".redelivery.",
		eventsAll:        prefix + ".events.>",
		dlqAll:           prefix + ".dlq.>",
		notesAll:         prefix + ".redelivery.>",
	}
}

func (n names) eventSubject(typ string) string { return n.eventsPrefix + typ }
func (n names) dlqSubject(sub string) string   { return n.dlqPrefix + sub }
