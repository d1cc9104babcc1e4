package bus

import (
	"context"
	"errors"
)

// Observer watches the messages of a [Bus]: each publish and each processed
// delivery as an operation with a start and an end, and each dead letter. Package
// telemetry implements it with OpenTelemetry (producer and consumer spans, the
// messaging metrics). Set it in [Options.Observer]; a nil Observer costs nothing.
//
// The bus calls an Observer on the goroutine that publishes or handles, never
// under a lock of its own. Its methods must not block for long, must be safe for
// concurrent use, and must not call [Bus.Shutdown] or [Bus.Close].
type Observer interface {
	// ObservePublish is called when [Bus.Publish] starts, before the event is
	// encoded, with the event's type and ID. It returns the context to publish
	// with, derived from ctx (carrying a producer span, say), and a non-nil
	// function that Publish calls once, with Publish's result, when the transport
	// has confirmed the message or failed. The envelope's trace context is taken
	// from the returned context (see [TracePropagator]).
	ObservePublish(ctx context.Context, p PublishInfo) (context.Context, func(err error))
	// ObserveProcess is called for each delivery whose envelope could be decoded,
	// before its handler is looked up, its body decoded and the handler run. It
	// returns the handler's context, derived from ctx (carrying a consumer span
	// that continues p.TraceParent, say), and a non-nil function that the bus
	// calls once the delivery is settled, with the outcome: the handler's error
	// (or the decoding error, or [*UnknownEventTypeError]); else the error of
	// settling the delivery; else nil, also when the inbox said the event was
	// handled before or is being handled by another worker and the handler did
	// not run.
	ObserveProcess(ctx context.Context, p ProcessInfo) (context.Context, func(err error))
	// ObserveDeadLetter is called once a message is stored in the dead-letter
	// queue, whatever the reason. ctx is the context ObserveProcess returned for
	// the delivery, if it was called.
	ObserveDeadLetter(ctx context.Context, d DeadLetterInfo)
}

// TracePropagator is implemented by an [Observer] that traces: it gives the W3C
// traceparent and tracestate of the span in ctx (empty when there is none), which
// the bus writes into the envelope of each published event. The bus calls it with
// the context [Observer.ObservePublish] returned, so that an event carries the
// trace context of its own publish. [Options.PropagateTrace], if set, is used
// instead.
type TracePropagator interface {
	PropagateTrace(ctx context.Context) (traceparent, tracestate string)
}

// SystemNamer is implemented by transports that name their messaging system, as
// the semantic conventions of OpenTelemetry do ("rabbitmq", "nats", "memory").
// The bus passes the name to its [Observer]; a transport without it has none.
type SystemNamer interface {
	System() string
}

// PublishInfo describes an event being published, to [Observer.ObservePublish].
type PublishInfo struct {
	System    string // the transport's [SystemNamer] name; may be empty
	EventType string // the registered event type name: where the event goes
	EventID   string // the event ID the envelope will carry
}

// ProcessInfo describes a delivery about to be processed, to
// [Observer.ObserveProcess]. Its fields come from the decoded envelope.
type ProcessInfo struct {
	System       string // the transport's [SystemNamer] name; may be empty
	Subscription string // the subscription (consumer group) that handles it
	EventType    string
	EventID      string
	Attempt      int    // the delivery attempt, 1 for the first
	TraceParent  string // the W3C trace context the producer sent; may be empty
	TraceState   string
}

// DeadLetterInfo describes a message stored in a dead-letter queue, to
// [Observer.ObserveDeadLetter].
type DeadLetterInfo struct {
	System       string // the transport's [SystemNamer] name; may be empty
	Subscription string // the subscription that gave up on the message
	EventType    string // empty if the envelope could not be decoded
	EventID      string // empty if the envelope could not be decoded
	Attempts     int    // attempts made; 1 for a message that could not be decoded
	Reason       DeadLetterReason
	Err          error // the handler's or the decoder's error
}

// traceContext returns the trace context a published event carries from ctx: the
// result of Options.PropagateTrace or of the observer's [TracePropagator], if it
// is a valid traceparent; else the handled event's (handledTP and handledTS, empty
// when ctx is not a handler's context).
func (b *Bus) traceContext(ctx context.Context, handledTP, handledTS string) (traceparent, tracestate string) {
	switch {
	case b.opts.PropagateTrace != nil:
		traceparent, tracestate = b.opts.PropagateTrace(ctx)
	case b.propagator != nil:
		traceparent, tracestate = b.propagator.PropagateTrace(ctx)
	}
	if !validTraceParent(traceparent) {
		traceparent, tracestate = handledTP, handledTS
	}
	if !validTraceParent(traceparent) {
		return "", "" // a broken hook must not stop the event
	}
	if len(tracestate) > 512 || !printable(tracestate) {
		tracestate = ""
	}
	return traceparent, tracestate
}

// processErr is the outcome of a processed delivery reported to the observer:
// the handler's error, but for the inbox's verdicts; else the settlement's error.
func processErr(err error, st *Settlement) error {
	if err == nil || errors.Is(err, errAlreadyDone) || errors.Is(err, errInProgress) {
		return st.SettleErr
	}
	return err
}
