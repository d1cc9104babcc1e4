package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// W3C trace context header names, as the envelope carries them.
const (
	headerTraceparent = "traceparent"
	headerTracestate  = "tracestate"
)

// traceHeaders is a propagation.TextMapCarrier of the two W3C headers only.
type traceHeaders struct {
	traceparent, tracestate string
}

func (h *traceHeaders) Get(key string) string {
	switch key {
	case headerTraceparent:
		return h.traceparent
	case headerTracestate:
		return h.tracestate
	}
	return ""
}

func (h *traceHeaders) Set(key, value string) {
	switch key {
	case headerTraceparent:
		h.traceparent = value
	case headerTracestate:
		h.tracestate = value
	}
}

func (h *traceHeaders) Keys() []string { return []string{headerTraceparent, headerTracestate} }

// PropagateTrace returns the W3C traceparent and tracestate of the span in ctx, or
// two empty strings when ctx has no valid span context. A [Telemetry] given to a
// bus as its Observer uses it ([Telemetry.PropagateTrace]); its signature is also
// that of the bus's Options.PropagateTrace, for a bus observed otherwise. Where it
// finds no span in a handler's context, the bus passes on the trace context of
// the event being handled.
func PropagateTrace(ctx context.Context) (traceparent, tracestate string) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	var h traceHeaders
	propagation.TraceContext{}.Inject(ctx, &h)
	return h.traceparent, h.tracestate
}

// InjectTraceparent returns the W3C traceparent of the span in ctx
// ("00-<trace-id>-<span-id>-<flags>"), or "" when ctx has no valid span context.
func InjectTraceparent(ctx context.Context) string {
	tp, _ := PropagateTrace(ctx)
	return tp
}

// ExtractTraceparent returns a copy of ctx whose remote span context is the one
// traceparent describes, so that a span started from it continues that trace. A
// malformed or empty traceparent returns ctx unchanged.
func ExtractTraceparent(ctx context.Context, traceparent string) context.Context {
	return ExtractTrace(ctx, traceparent, "")
}

// ExtractTrace is [ExtractTraceparent] with a tracestate too.
func ExtractTrace(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, &traceHeaders{traceparent: traceparent, tracestate: tracestate})
}
