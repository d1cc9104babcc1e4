package bus

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/resilience"
)

// Options configure a [Bus]. The zero value publishes JSON from source "/<program
// name>", keeps a registry of its own, has no duplicate detection (set Inbox),
// limits bodies to 1 MiB, logs nothing, and consumes every subscription with the
// defaults of [SubscriptionOptions].
type Options struct {
	// Source is the CloudEvents source of published events, a URI reference naming
	// the service ("/customers"). Empty means "/" and the program's file name.
	Source string
	// Registry maps Go types to event type names. Nil means a registry of the bus's
	// own. Types not registered are registered under [DefaultTypeName] when first
	// published or handled.
	Registry *Registry
	// Codecs encode and decode bodies: the first encodes what is published, and a
	// message is decoded by the codec of its datacontenttype. Nil means [JSON]{}.
	Codecs []Codec
	// Inbox is the duplicate detection store. Nil means no duplicate detection: a
	// message delivered twice (a republished event, a redelivery after a lost ack)
	// runs its handler twice.
	Inbox idempotency.Store
	// MaxBodySize limits encoded bodies, published and received. Zero means
	// DefaultMaxBodySize (1 MiB); negative means no limit.
	MaxBodySize int
	// Subscriptions configure subscriptions by name. A subscription that has no
	// entry uses the zero SubscriptionOptions; an entry whose name no handler uses
	// is an error at Start (a misspelt name).
	Subscriptions map[string]SubscriptionOptions
	// PropagateTrace returns the W3C traceparent and tracestate of ctx for a
	// published event. Nil means the [TracePropagator] of Observer, if it has one.
	// When there is no hook, or it returns no valid traceparent (ctx has no span),
	// an event published from a handler passes on the trace context of the event
	// being handled. Setting Observer to a telemetry.Telemetry is enough: this is
	// for a tracer of another kind.
	PropagateTrace func(ctx context.Context) (traceparent, tracestate string)
	// Observer, if set, watches every publish and every processed delivery as an
	// operation (a span, say), and every dead letter: package telemetry records
	// OpenTelemetry spans and the messaging metrics. Handlers then run in the
	// context it returns, so that what they call and publish joins the trace. Nil
	// observes nothing and costs nothing.
	Observer Observer
	// OnSettle, if set, is called after every delivery is settled, with what was
	// done and why. It runs on the worker's goroutine, never under a lock of the
	// bus; it must not block for long, nor call Shutdown or Close.
	OnSettle func(Settlement)
	// Logger receives the bus's logs (dead letters, redeliveries, failures to
	// settle). Nil logs nothing.
	Logger *slog.Logger
}

// SubscriptionOptions configure one subscription. The zero value runs one worker
// with a prefetch of 4, a 30s handler timeout, no in-process retry, redelivery
// after 1s, 10s, 1m (and 1m after that), and dead-letters after 5 attempts.
type SubscriptionOptions struct {
	// Workers is the number of messages handled at once by this consumer. Zero
	// means 1.
	Workers int
	// Prefetch is how many messages the broker sends ahead of the workers
	// (received and not yet settled). Zero means 4×Workers. It is at least Workers.
	Prefetch int
	// Ordered keeps the order of events with the same ordering key (partition
	// key, or else subject): they are handled one after the other, in the order
	// received, while different keys are handled in parallel by the workers. A
	// failed event is redelivered later, after the ones behind it; events with no
	// key are spread over the workers.
	Ordered bool
	// Timeout bounds the handling of one delivery (in-process retries included);
	// the handler's ctx is cancelled when it expires, and the attempt fails. Zero
	// means 30s; negative is an error.
	Timeout time.Duration
	// Retry, if set, runs the handler through this pipeline (a short
	// [resilience.Retry], say), inside the timeout. Nil runs it once per delivery.
	Retry *resilience.Pipeline
	// RedeliveryDelays are the tiers of delayed redelivery after a failed attempt:
	// after attempt n fails, the message comes back after
	// RedeliveryDelays[min(n, len)-1]. Nil means 1s, 10s, 1m. Each must be positive.
	RedeliveryDelays []time.Duration
	// MaxAttempts is the number of attempts before a failing message is
	// dead-lettered, the first included. Zero means 5; negative is an error.
	MaxAttempts int
	// InProgressDelay is the wait before redelivering a message that another
	// worker holds in the inbox right now. Zero means the first redelivery delay.
	InProgressDelay time.Duration
	// InboxLease is how long a claim in the inbox lasts. Zero means Timeout plus 30s.
	InboxLease time.Duration
}

// Defaults of SubscriptionOptions.
var defaultRedeliveryDelays = []time.Duration{time.Second, 10 * time.Second, time.Minute}

const (
	defaultTimeout     = 30 * time.Second
	defaultMaxAttempts = 5
)

// normalize fills in the defaults and validates; errors name the option.
func (o SubscriptionOptions) normalize(name string) (SubscriptionOptions, error) {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("bus: subscription %q: SubscriptionOptions.%s %s", name, field, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Workers < 0:
		return o, bad("Workers", "is %d; want ≥ 0", o.Workers)
	case o.Prefetch < 0:
		return o, bad("Prefetch", "is %d; want ≥ 0", o.Prefetch)
	case o.Timeout < 0:
		return o, bad("Timeout", "is %s; want ≥ 0", o.Timeout)
	case o.MaxAttempts < 0:
		return o, bad("MaxAttempts", "is %d; want ≥ 0", o.MaxAttempts)
	case o.InProgressDelay < 0:
		return o, bad("InProgressDelay", "is %s; want ≥ 0", o.InProgressDelay)
	case o.InboxLease < 0:
		return o, bad("InboxLease", "is %s; want ≥ 0", o.InboxLease)
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.Prefetch == 0 {
		o.Prefetch = 4 * o.Workers
	}
	if o.Prefetch < o.Workers {
		o.Prefetch = o.Workers
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.RedeliveryDelays == nil {
		o.RedeliveryDelays = defaultRedeliveryDelays
	}
	if len(o.RedeliveryDelays) == 0 {
		return o, bad("RedeliveryDelays", "is empty; want at least one delay (nil means the defaults)")
	}
	for i, d := range o.RedeliveryDelays {
		if d <= 0 {
			return o, bad(fmt.Sprintf("RedeliveryDelays[%d]", i), "is %s; want > 0", d)
		}
	}
	o.RedeliveryDelays = append([]time.Duration(nil), o.RedeliveryDelays...)
	if o.InProgressDelay == 0 {
		o.InProgressDelay = o.RedeliveryDelays[0]
	}
	if o.InboxLease == 0 {
		o.InboxLease = o.Timeout + 30*time.Second
	}
	return o, nil
}

// redeliveryDelays returns the distinct delays a transport must be able to honour.
func (o SubscriptionOptions) redeliveryDelays() []time.Duration {
	out := make([]time.Duration, 0, len(o.RedeliveryDelays)+1)
	seen := make(map[time.Duration]bool)
	for _, d := range append(append([]time.Duration(nil), o.RedeliveryDelays...), o.InProgressDelay) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func defaultSource() string {
	name := filepath.Base(os.Args[0])
	if name == "" || name == "." || name == string(filepath.Separator) {
		name = "rampart"
	}
	return "/" + name
}
