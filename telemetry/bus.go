package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/bus"
)

// The bus's hooks this package implements.
var (
	_ bus.Observer        = (*Telemetry)(nil)
	_ bus.TracePropagator = (*Telemetry)(nil)
)

// ObservePublish implements [bus.Observer]: it starts the producer span of the
// event ([Telemetry.StartPublish], "publish <event type>") as a child of the span in
// ctx, and returns the context that carries it, whose trace context the bus writes
// into the envelope ([Telemetry.PropagateTrace]). The function it returns ends the
// operation with Publish's result: messaging.client.sent.messages and
// messaging.client.operation.duration, with messaging.system (the transport's),
// messaging.destination.name (the event type) and error.type.
func (t *Telemetry) ObservePublish(ctx context.Context, p bus.PublishInfo) (context.Context, func(error)) {
	if t == nil {
		return ctx, nopEnd
	}
	ctx, op := t.StartPublish(ctx, Destination{System: p.System, Name: p.EventType}, p.EventID)
	return ctx, op.endFunc(ctx)
}

// ObserveProcess implements [bus.Observer]: it starts the consumer span of the
// delivery ([Telemetry.StartProcess], "process <event type>"), a child of the
// publish span whose trace context the envelope carries, and returns the context
// that carries it: the handler runs in it, so that its HTTP calls and the events
// it publishes join the trace. The function it returns ends the operation with
// the outcome: messaging.client.consumed.messages and messaging.process.duration,
// with messaging.consumer.group.name (the subscription) besides the publish's
// attributes.
func (t *Telemetry) ObserveProcess(ctx context.Context, p bus.ProcessInfo) (context.Context, func(error)) {
	if t == nil {
		return ctx, nopEnd
	}
	dst := Destination{System: p.System, Name: p.EventType, ConsumerGroup: p.Subscription}
	ctx, op := t.StartProcess(ctx, dst, Message{ID: p.EventID, Traceparent: p.TraceParent, Tracestate: p.TraceState})
	return ctx, op.endFunc(ctx)
}

// ObserveDeadLetter implements [bus.Observer]: it counts the message in
// messaging.dead_lettered.messages ([Telemetry.RecordDeadLetter]) with the bus's
// reason ("undecodable", "unknown-type", "permanent-error", "max-attempts"), and
// adds a "messaging.dead_letter" event with the reason to the process span, if
// one records.
func (t *Telemetry) ObserveDeadLetter(ctx context.Context, d bus.DeadLetterInfo) {
	if t == nil {
		return
	}
	reason := string(d.Reason)
	t.RecordDeadLetter(ctx, Destination{System: d.System, Name: d.EventType, ConsumerGroup: d.Subscription}, reason)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(eventDeadLetter, trace.WithAttributes(AttrDeadLetterReason.String(reason)))
	}
}

// eventDeadLetter names the span event of a dead letter.
const eventDeadLetter = "messaging.dead_letter"

// PropagateTrace implements [bus.TracePropagator] with the package's
// [PropagateTrace]: the W3C trace context of the span in ctx.
func (t *Telemetry) PropagateTrace(ctx context.Context) (traceparent, tracestate string) {
	return PropagateTrace(ctx)
}

// nopEnd ends an operation that records nothing.
func nopEnd(error) {}

// endFunc returns a function that ends o with its context, or nopEnd if o records
// nothing (no recording span, no enabled instrument), so that telemetry that is
// off allocates nothing.
func (o Operation) endFunc(ctx context.Context) func(error) {
	if o.t == nil {
		return nopEnd
	}
	if o.span == nil {
		counter, hist := o.t.msgSent, o.t.msgOpDur
		if o.process {
			counter, hist = o.t.msgConsumed, o.t.msgProcDur
		}
		if !counter.Enabled(ctx) && !hist.Enabled(ctx) {
			return nopEnd
		}
	}
	return func(err error) { o.End(ctx, err) }
}
