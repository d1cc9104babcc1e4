package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/telemetry"
)

// A trace follows an event from the code that publishes it, through the traceparent
// of its envelope, to its handler: publish is a child of the caller's span, process
// a child of publish.
func TestMessagingTraceThroughEnvelope(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	out := telemetry.Destination{System: "rabbitmq", Name: "customers.customer-created.v1"}
	in := telemetry.Destination{System: "rabbitmq", Name: "customers.customer-created.v1", ConsumerGroup: "welcome-email"}

	ctx, request := r.tp.Tracer("test").Start(context.Background(), "POST /customers")
	pctx, publish := r.tel.StartPublish(ctx, out, "0190b7a0-0000-7000-8000-000000000001")
	traceparent, tracestate := telemetry.PropagateTrace(pctx) // what the bus puts in the envelope
	publish.End(pctx, nil)
	request.End()

	// The consumer's side: a fresh context, and the envelope.
	hctx, process := r.tel.StartProcess(context.Background(), in, telemetry.Message{
		ID: "0190b7a0-0000-7000-8000-000000000001", Traceparent: traceparent, Tracestate: tracestate,
	})
	if !trace.SpanFromContext(hctx).IsRecording() {
		t.Fatal("the handler's context has no recording span")
	}
	process.End(hctx, errors.New("mail server down"))

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range r.spans.Ended() {
		byName[s.Name()] = s
	}
	req, pub, proc := byName["POST /customers"], byName["publish customers.customer-created.v1"], byName["process customers.customer-created.v1"]
	if req == nil || pub == nil || proc == nil {
		t.Fatalf("spans = %v; want the request, publish and process spans", keys(byName))
	}
	if pub.Parent().SpanID() != req.SpanContext().SpanID() {
		t.Errorf("publish's parent = %v, want the request span %v", pub.Parent().SpanID(), req.SpanContext().SpanID())
	}
	if proc.Parent().SpanID() != pub.SpanContext().SpanID() || !proc.Parent().IsRemote() {
		t.Errorf("process's parent = %v (remote %v), want the publish span %v, remote", proc.Parent().SpanID(), proc.Parent().IsRemote(), pub.SpanContext().SpanID())
	}
	if proc.SpanContext().TraceID() != req.SpanContext().TraceID() {
		t.Errorf("process is in trace %v, want %v", proc.SpanContext().TraceID(), req.SpanContext().TraceID())
	}
	if want := "00-" + pub.SpanContext().TraceID().String() + "-" + pub.SpanContext().SpanID().String() + "-01"; traceparent != want {
		t.Errorf("traceparent = %q, want %q", traceparent, want)
	}
	for _, tt := range []struct {
		span  sdktrace.ReadOnlySpan
		kind  trace.SpanKind
		attrs string
		code  codes.Code
	}{
		{pub, trace.SpanKindProducer, "messaging.destination.name=customers.customer-created.v1,messaging.message.id=0190b7a0-0000-7000-8000-000000000001,messaging.operation.name=publish,messaging.operation.type=send,messaging.system=rabbitmq", codes.Unset},
		{proc, trace.SpanKindConsumer, "error.type=_OTHER,messaging.consumer.group.name=welcome-email,messaging.destination.name=customers.customer-created.v1,messaging.message.id=0190b7a0-0000-7000-8000-000000000001,messaging.operation.name=process,messaging.operation.type=process,messaging.system=rabbitmq", codes.Error},
	} {
		if tt.span.SpanKind() != tt.kind {
			t.Errorf("%s: kind = %v, want %v", tt.span.Name(), tt.span.SpanKind(), tt.kind)
		}
		if got := kvs(tt.span.Attributes()); got != tt.attrs {
			t.Errorf("%s: attributes = %s\nwant %s", tt.span.Name(), got, tt.attrs)
		}
		if tt.span.Status().Code != tt.code {
			t.Errorf("%s: status = %v, want %v", tt.span.Name(), tt.span.Status().Code, tt.code)
		}
	}

	sent := sums(t, r.metric(t, telemetry.MetricMessagingSent))
	wantSent := "messaging.destination.name=customers.customer-created.v1,messaging.operation.name=publish,messaging.system=rabbitmq"
	if len(sent) != 1 || sent[wantSent] != 1 {
		t.Errorf("%s = %v, want {%s: 1}", telemetry.MetricMessagingSent, sent, wantSent)
	}
	consumed := sums(t, r.metric(t, telemetry.MetricMessagingConsumed))
	wantConsumed := "error.type=_OTHER,messaging.consumer.group.name=welcome-email,messaging.destination.name=customers.customer-created.v1,messaging.operation.name=process,messaging.system=rabbitmq"
	if len(consumed) != 1 || consumed[wantConsumed] != 1 {
		t.Errorf("%s = %v, want {%s: 1}", telemetry.MetricMessagingConsumed, consumed, wantConsumed)
	}
	if h := histograms(t, r.metric(t, telemetry.MetricMessagingOperation)); h[wantSent].Count != 1 || len(h) != 1 {
		t.Errorf("%s points:\n  %s\nwant {%s} once", telemetry.MetricMessagingOperation, keys(h), wantSent)
	}
	if h := histograms(t, r.metric(t, telemetry.MetricMessagingProcess)); h[wantConsumed].Count != 1 || len(h) != 1 {
		t.Errorf("%s points:\n  %s\nwant {%s} once", telemetry.MetricMessagingProcess, keys(h), wantConsumed)
	}
}

func TestRecordPublishAndProcess(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	ctx := context.Background()
	dst := telemetry.Destination{System: "nats", Name: "orders"}
	r.tel.RecordPublish(ctx, dst, 3, 40*time.Millisecond, nil)
	r.tel.RecordPublish(ctx, dst, 1, 10*time.Millisecond, context.DeadlineExceeded)
	group := telemetry.Destination{System: "nats", Name: "orders", ConsumerGroup: "billing"}
	r.tel.RecordProcess(ctx, group, 5*time.Millisecond, nil)

	sent := sums(t, r.metric(t, telemetry.MetricMessagingSent))
	want := map[string]int64{
		"messaging.destination.name=orders,messaging.operation.name=publish,messaging.system=nats":                    3,
		"error.type=timeout,messaging.destination.name=orders,messaging.operation.name=publish,messaging.system=nats": 1,
	}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", telemetry.MetricMessagingSent, sent, want)
	}
	op := histograms(t, r.metric(t, telemetry.MetricMessagingOperation))
	if dp := op["messaging.destination.name=orders,messaging.operation.name=publish,messaging.system=nats"]; dp.Count != 1 || dp.Sum < 0.04-1e-9 || dp.Sum > 0.04+1e-9 {
		t.Errorf("%s = count %d sum %v, want 1 and 0.04", telemetry.MetricMessagingOperation, dp.Count, dp.Sum)
	}
	proc := histograms(t, r.metric(t, telemetry.MetricMessagingProcess))
	if dp := proc["messaging.consumer.group.name=billing,messaging.destination.name=orders,messaging.operation.name=process,messaging.system=nats"]; dp.Count != 1 {
		t.Errorf("%s points:\n  %s", telemetry.MetricMessagingProcess, keys(proc))
	}
}

func TestRecordDeadLetter(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	ctx := context.Background()
	dst := telemetry.Destination{System: "rabbitmq", Name: "customers", ConsumerGroup: "welcome-email"}
	r.tel.RecordDeadLetter(ctx, dst, "max_attempts")
	r.tel.RecordDeadLetter(ctx, dst, "max_attempts")
	r.tel.RecordDeadLetter(ctx, dst, "undecodable")
	got := sums(t, r.metric(t, telemetry.MetricDeadLettered))
	base := "messaging.consumer.group.name=welcome-email,messaging.dead_letter.reason="
	want := map[string]int64{
		base + "max_attempts,messaging.destination.name=customers,messaging.system=rabbitmq": 2,
		base + "undecodable,messaging.destination.name=customers,messaging.system=rabbitmq":  1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", telemetry.MetricDeadLettered, got, want)
	}
}

// A process whose envelope has no trace context is a child of the span in ctx, or
// a root.
func TestStartProcessWithoutTraceparent(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	_, op := r.tel.StartProcess(context.Background(), telemetry.Destination{Name: "q"}, telemetry.Message{Traceparent: "garbage"})
	op.End(context.Background(), nil)
	spans := r.spans.Ended()
	if len(spans) != 1 || spans[0].Parent().IsValid() {
		t.Fatalf("spans = %d, parent valid = %v; want one root span", len(spans), len(spans) == 1 && spans[0].Parent().IsValid())
	}
}
