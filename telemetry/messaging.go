package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// The values of messaging.operation.name this package records.
const (
	OperationPublish = "publish"
	OperationProcess = "process"
)

// Destination says where messages go to or come from, for the messaging metrics and
// spans. Empty fields are not recorded.
type Destination struct {
	// System is messaging.system: "rabbitmq", "nats", or the transport's name
	// ("memory").
	System string
	// Name is messaging.destination.name: the exchange, subject or event type a
	// message is published to, or the queue it is consumed from.
	Name string
	// ConsumerGroup is messaging.consumer.group.name: the subscription that
	// consumes; consumers only.
	ConsumerGroup string
}

// Message describes a message being processed, for its span.
type Message struct {
	ID          string // messaging.message.id; optional
	Traceparent string // the W3C traceparent the producer sent in the envelope; optional
	Tracestate  string // the W3C tracestate sent with it; optional
}

// msgKey identifies the attribute set of a messaging measurement.
type msgKey struct {
	dst       Destination
	operation string
	errType   string
}

// RecordPublish records that n messages were published to dst in d (one broker
// round trip, confirmation included), and failed with err if it is not nil: it
// adds n to messaging.client.sent.messages and records d in
// messaging.client.operation.duration, with messaging.operation.name "publish".
func (t *Telemetry) RecordPublish(ctx context.Context, dst Destination, n int, d time.Duration, err error) {
	if t == nil {
		return
	}
	counting, timing := t.msgSent.Enabled(ctx), t.msgOpDur.Enabled(ctx)
	if !counting && !timing {
		return
	}
	set := t.msgSet(dst, OperationPublish, err)
	if counting {
		t.msgSent.Add(ctx, int64(n), metric.WithAttributeSet(set))
	}
	if timing {
		t.msgOpDur.Record(ctx, d.Seconds(), metric.WithAttributeSet(set))
	}
}

// RecordProcess records that a message from dst was handed to the application and
// processed in d, and failed with err if it is not nil: it adds one to
// messaging.client.consumed.messages and records d in messaging.process.duration,
// with messaging.operation.name "process".
func (t *Telemetry) RecordProcess(ctx context.Context, dst Destination, d time.Duration, err error) {
	if t == nil {
		return
	}
	counting, timing := t.msgConsumed.Enabled(ctx), t.msgProcDur.Enabled(ctx)
	if !counting && !timing {
		return
	}
	set := t.msgSet(dst, OperationProcess, err)
	if counting {
		t.msgConsumed.Add(ctx, 1, metric.WithAttributeSet(set))
	}
	if timing {
		t.msgProcDur.Record(ctx, d.Seconds(), metric.WithAttributeSet(set))
	}
}

// RecordDeadLetter counts a message of dst moved to the dead-letter queue in
// messaging.dead_lettered.messages, with the reason (the bus's: "max-attempts",
// "undecodable", ...) as messaging.dead_letter.reason. The reason must come from a
// small fixed set: it is a metric attribute.
func (t *Telemetry) RecordDeadLetter(ctx context.Context, dst Destination, reason string) {
	if t == nil || !t.deadLettered.Enabled(ctx) {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = appendDestination(attrs, dst)
	attrs = append(attrs, AttrDeadLetterReason.String(reason))
	t.deadLettered.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// msgSet returns the attribute set of a messaging measurement.
func (t *Telemetry) msgSet(dst Destination, op string, err error) attribute.Set {
	k := msgKey{dst: dst, operation: op}
	if err != nil {
		k.errType = errorType(err)
	}
	return t.msgSets.get(k, func(k msgKey) attribute.Set {
		attrs := make([]attribute.KeyValue, 0, 5)
		attrs = appendDestination(attrs, k.dst)
		attrs = append(attrs, semconv.MessagingOperationName(k.operation))
		if k.errType != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
		}
		return attribute.NewSet(attrs...)
	})
}

// appendDestination appends the attributes of the non-empty fields of dst.
func appendDestination(attrs []attribute.KeyValue, dst Destination) []attribute.KeyValue {
	if dst.System != "" {
		attrs = append(attrs, semconv.MessagingSystemKey.String(dst.System))
	}
	if dst.Name != "" {
		attrs = append(attrs, semconv.MessagingDestinationName(dst.Name))
	}
	if dst.ConsumerGroup != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(dst.ConsumerGroup))
	}
	return attrs
}

// Operation is a publish or a process in progress, started by
// [Telemetry.StartPublish] or [Telemetry.StartProcess]; End it once. The zero
// Operation does nothing.
type Operation struct {
	t       *Telemetry
	dst     Destination
	process bool
	start   time.Time
	span    trace.Span // nil when none is recording
}

// producerKind and consumerKind are the start options of messaging spans.
var (
	producerKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}
	consumerKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

// StartPublish starts the producer span of publishing one message to dst ("publish
// <dst.Name>"), a child of the span in ctx. The returned context carries it: the
// bus takes the envelope's traceparent from it ([PropagateTrace]), so that the
// handlers of the event continue the trace. End the Operation once the broker has
// confirmed the message, or with the error.
func (t *Telemetry) StartPublish(ctx context.Context, dst Destination, messageID string) (context.Context, Operation) {
	if t == nil {
		return ctx, Operation{}
	}
	op := Operation{t: t, dst: dst, start: time.Now()}
	ctx, op.span = t.startMessaging(ctx, OperationPublish, semconv.MessagingOperationTypeSend, dst, messageID, producerKind)
	return ctx, op
}

// StartProcess starts the consumer span of processing one message from dst
// ("process <dst.Name>"). Its parent is the trace context the producer sent
// (m.Traceparent), if valid, else the span in ctx. The returned context carries
// it: run the handler with it, so that what the handler calls and publishes joins
// the trace. End the Operation with the handler's error.
func (t *Telemetry) StartProcess(ctx context.Context, dst Destination, m Message) (context.Context, Operation) {
	if t == nil {
		return ctx, Operation{}
	}
	if m.Traceparent != "" {
		ctx = ExtractTrace(ctx, m.Traceparent, m.Tracestate)
	}
	op := Operation{t: t, dst: dst, process: true, start: time.Now()}
	ctx, op.span = t.startMessaging(ctx, OperationProcess, semconv.MessagingOperationTypeProcess, dst, m.ID, consumerKind)
	return ctx, op
}

// startMessaging starts a messaging span and returns it if it is recording.
func (t *Telemetry) startMessaging(ctx context.Context, op string, opType attribute.KeyValue, dst Destination, id string, kind []trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.tracing {
		return ctx, nil
	}
	name := op
	if dst.Name != "" {
		name = op + " " + dst.Name
	}
	ctx, span := t.tracer.Start(ctx, name, kind...)
	if !span.IsRecording() {
		return ctx, nil
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = appendDestination(attrs, dst)
	attrs = append(attrs, semconv.MessagingOperationName(op), opType)
	if id != "" {
		attrs = append(attrs, semconv.MessagingMessageID(id))
	}
	span.SetAttributes(attrs...)
	return ctx, span
}

// End records the operation's metrics (as [Telemetry.RecordPublish] of one message
// or [Telemetry.RecordProcess]) and ends its span, with error.type and an error
// status if err is not nil. ctx is the context StartPublish or StartProcess
// returned.
func (o Operation) End(ctx context.Context, err error) {
	if o.t == nil {
		return
	}
	d := time.Since(o.start)
	if o.process {
		o.t.RecordProcess(ctx, o.dst, d, err)
	} else {
		o.t.RecordPublish(ctx, o.dst, 1, d, err)
	}
	if o.span == nil {
		return
	}
	if err != nil {
		et := errorType(err)
		o.span.SetAttributes(semconv.ErrorTypeKey.String(et))
		o.span.SetStatus(codes.Error, et)
		o.span.RecordError(err)
	}
	o.span.End()
}
