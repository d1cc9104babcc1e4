package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/resilience"
)

// eventKey identifies the attribute set of a resilience measurement.
type eventKey struct {
	pipeline, policy string
	kind             resilience.EventKind
	to               resilience.BreakerState // for breaker state changes
	errType          string
}

// spanEventNames are the names of the span events, by event kind.
var spanEventNames = func() (names [resilience.EventChaos + 1]string) {
	for k := range names {
		names[k] = "resilience." + resilience.EventKind(k).String()
	}
	return names
}()

// Observe records a policy's event: it counts it in resilience.events, records the
// duration of an attempt in resilience.attempt.duration, and adds every event but
// an attempt to the span of ctx, if one is recording. It implements
// [resilience.Observer]: set it as PipelineOptions.Observer and as the Observer of
// breakers shared between pipelines (their state changes are reported there).
//
// When the instruments are no-ops and ctx has no recording span, Observe returns at
// once, allocating nothing.
func (t *Telemetry) Observe(ctx context.Context, e resilience.Event) {
	if t == nil {
		return
	}
	counting := t.events.Enabled(ctx)
	timing := e.Kind == resilience.EventAttempt && t.attemptDur.Enabled(ctx)
	var span trace.Span
	if e.Kind != resilience.EventAttempt {
		if s := trace.SpanFromContext(ctx); s.IsRecording() {
			span = s
		}
	}
	if !counting && !timing && span == nil {
		return
	}
	k := eventKey{pipeline: e.Pipeline, policy: e.Policy, kind: e.Kind}
	if e.Kind == resilience.EventBreakerStateChange {
		k.to = e.To
	}
	if e.Err != nil {
		k.errType = errorType(e.Err)
	}
	if counting {
		t.events.Add(ctx, 1, metric.WithAttributeSet(t.eventSets.get(k, eventSet)))
	}
	if timing {
		t.attemptDur.Record(ctx, e.Duration.Seconds(), metric.WithAttributeSet(t.attemptSets.get(k, attemptSet)))
	}
	if span != nil {
		span.AddEvent(spanEventName(e.Kind), trace.WithAttributes(spanEventAttrs(e, k.errType)...))
	}
}

// eventSet builds the attributes of resilience.events.
func eventSet(k eventKey) attribute.Set {
	attrs := make([]attribute.KeyValue, 0, 5)
	if k.pipeline != "" {
		attrs = append(attrs, AttrPipeline.String(k.pipeline))
	}
	attrs = append(attrs, AttrPolicy.String(k.policy), AttrEvent.String(k.kind.String()))
	if k.kind == resilience.EventBreakerStateChange {
		attrs = append(attrs, AttrBreakerState.String(k.to.String()))
	}
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	return attribute.NewSet(attrs...)
}

// attemptSet builds the attributes of resilience.attempt.duration.
func attemptSet(k eventKey) attribute.Set {
	attrs := make([]attribute.KeyValue, 0, 3)
	if k.pipeline != "" {
		attrs = append(attrs, AttrPipeline.String(k.pipeline))
	}
	attrs = append(attrs, AttrPolicy.String(k.policy))
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	return attribute.NewSet(attrs...)
}

// spanEventName returns "resilience." and the kind's name.
func spanEventName(k resilience.EventKind) string {
	if int(k) < len(spanEventNames) {
		return spanEventNames[k]
	}
	return "resilience." + k.String() // a kind added after this package
}

// spanEventAttrs returns the attributes of the span event of e.
func spanEventAttrs(e resilience.Event, errType string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7)
	if e.Pipeline != "" {
		attrs = append(attrs, AttrPipeline.String(e.Pipeline))
	}
	attrs = append(attrs, AttrPolicy.String(e.Policy))
	if e.Attempt > 0 {
		attrs = append(attrs, AttrAttempt.Int(e.Attempt))
	}
	if e.Delay > 0 {
		attrs = append(attrs, AttrRetryDelay.Float64(e.Delay.Seconds()))
	}
	if e.Kind == resilience.EventBreakerStateChange {
		attrs = append(attrs, AttrBreakerFrom.String(e.From.String()), AttrBreakerState.String(e.To.String()))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	return attrs
}

// BreakerStateValue is the value of the gauge resilience.breaker.state for a
// state: 0 closed, 1 open, 2 half-open, 3 isolated (-1 for a state it does not
// know).
func BreakerStateValue(s resilience.BreakerState) int64 {
	switch s {
	case resilience.StateClosed:
		return 0
	case resilience.StateOpen:
		return 1
	case resilience.StateHalfOpen:
		return 2
	case resilience.StateIsolated:
		return 3
	}
	return -1
}

// registerGauges creates the breaker and bulkhead gauges and registers the callback
// that reads them.
func (t *Telemetry) registerGauges(m metric.Meter) error {
	state, err := m.Int64ObservableGauge(MetricBreakerState,
		metric.WithDescription("State of a circuit breaker: 0 closed, 1 open, 2 half-open, 3 isolated."))
	if err != nil {
		return err
	}
	active, err := m.Int64ObservableGauge(MetricBulkheadActive, metric.WithUnit("{call}"),
		metric.WithDescription("Calls running inside a bulkhead."))
	if err != nil {
		return err
	}
	queued, err := m.Int64ObservableGauge(MetricBulkheadQueued, metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting for a slot of a bulkhead."))
	if err != nil {
		return err
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		seen := make(map[*resilience.Breaker]bool)
		observe := func(b *resilience.Breaker) {
			if b == nil || seen[b] {
				return
			}
			seen[b] = true
			o.ObserveInt64(state, BreakerStateValue(b.State()), metric.WithAttributes(AttrPolicy.String(b.Name())))
		}
		for _, b := range t.breakers {
			observe(b)
		}
		t.srcMu.RLock()
		sources := t.sources
		t.srcMu.RUnlock()
		for _, s := range sources {
			for _, b := range s.Breakers() {
				observe(b)
			}
		}
		for _, b := range t.bulkheads {
			attrs := metric.WithAttributes(AttrPolicy.String(b.Name()))
			o.ObserveInt64(active, int64(b.InFlight()), attrs)
			o.ObserveInt64(queued, int64(b.Queued()), attrs)
		}
		return nil
	}, state, active, queued)
	if err != nil {
		return err
	}
	t.reg = reg
	return nil
}
