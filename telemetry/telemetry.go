package telemetry

import (
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// ScopeName is the instrumentation scope of every instrument and tracer of this
// package (the otel_scope_name label in Prometheus).
const ScopeName = "github.com/rampart-go/rampart/telemetry"

// Names of the instruments, as in the semantic conventions where they define one.
const (
	MetricResilienceEvents          = "resilience.events"
	MetricResilienceAttemptDuration = "resilience.attempt.duration"
	MetricBreakerState              = "resilience.breaker.state"
	MetricBulkheadActive            = "resilience.bulkhead.active_calls"
	MetricBulkheadQueued            = "resilience.bulkhead.queued_calls"
	MetricDeadLettered              = "messaging.dead_lettered.messages"
	MetricHTTPClientDuration        = "http.client.request.duration"
	MetricMessagingSent             = "messaging.client.sent.messages"
	MetricMessagingConsumed         = "messaging.client.consumed.messages"
	MetricMessagingOperation        = "messaging.client.operation.duration"
	MetricMessagingProcess          = "messaging.process.duration"
)

// Attribute keys of this package's own (the others are those of the semantic
// conventions: error.type, http.*, server.*, messaging.*).
const (
	AttrPipeline         = attribute.Key("resilience.pipeline.name")
	AttrPolicy           = attribute.Key("resilience.policy.name")
	AttrEvent            = attribute.Key("resilience.event.name")
	AttrBreakerState     = attribute.Key("resilience.breaker.state")
	AttrAttempt          = attribute.Key("resilience.attempt.number")
	AttrRetryDelay       = attribute.Key("resilience.retry.delay")
	AttrBreakerFrom      = attribute.Key("resilience.breaker.state.from")
	AttrDeadLetterReason = attribute.Key("messaging.dead_letter.reason")
)

// DurationBuckets are the bucket boundaries, in seconds, of every duration histogram:
// those the semantic conventions recommend for http.client.request.duration.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Options configure a [Telemetry]. The zero value uses the global OpenTelemetry
// providers (no-ops until the program sets real ones with otel.SetMeterProvider and
// otel.SetTracerProvider), the W3C trace context for HTTP, and reports no breaker or
// bulkhead gauges.
type Options struct {
	// MeterProvider creates the instruments. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider creates the spans. Nil means otel.GetTracerProvider(). A
	// provider from go.opentelemetry.io/otel/trace/noop turns the HTTP attempt
	// spans off entirely: no span is started and no header is touched.
	TracerProvider trace.TracerProvider
	// Propagator writes the trace context of an HTTP attempt into its headers and
	// reads a traceparent already there. Nil means propagation.TraceContext{} (W3C
	// traceparent and tracestate), whatever the global propagator is. The
	// envelope helpers ([InjectTraceparent], ...) always use W3C trace context.
	Propagator propagation.TextMapPropagator

	// Breakers are circuit breakers whose state the gauge resilience.breaker.state
	// reports, besides those of BreakerSources.
	Breakers []*resilience.Breaker
	// BreakerSources list more breakers at each collection: a *resilience.Registry
	// (the breakers of its pipelines), an *httpx.Transport (one breaker per host,
	// created on first use). A breaker listed twice is reported once.
	BreakerSources []BreakerSource
	// Bulkheads are the bulkheads whose calls running and waiting the gauges
	// resilience.bulkhead.active_calls and resilience.bulkhead.queued_calls report.
	Bulkheads []*resilience.Bulkhead
}

// BreakerSource lists circuit breakers; *resilience.Registry and *httpx.Transport
// implement it.
type BreakerSource interface {
	Breakers() []*resilience.Breaker
}

// Telemetry records the metrics and traces of Rampart's parts: it is the
// [resilience.Observer] of pipelines and breakers, the [httpx.Observer] (and
// [httpx.AttemptStarter]) of HTTP transports, and the [bus.Observer] (and
// [bus.TracePropagator]) of buses. Build one per service with [New] and hand it to
// every part.
//
// A Telemetry is safe for concurrent use. A nil *Telemetry records nothing.
type Telemetry struct {
	tracer  trace.Tracer
	tracing bool // false with a trace/noop provider: no attempt spans
	prop    propagation.TextMapPropagator

	events       metric.Int64Counter
	attemptDur   metric.Float64Histogram
	deadLettered metric.Int64Counter
	httpDur      metric.Float64Histogram
	msgSent      metric.Int64Counter
	msgConsumed  metric.Int64Counter
	msgOpDur     metric.Float64Histogram
	msgProcDur   metric.Float64Histogram

	breakers  []*resilience.Breaker
	srcMu     sync.RWMutex
	sources   []BreakerSource // guarded by srcMu: AddBreakerSource appends
	bulkheads []*resilience.Bulkhead

	eventSets   attrCache[eventKey]
	attemptSets attrCache[eventKey]
	httpSets    attrCache[httpKey]
	msgSets     attrCache[msgKey]

	closeMu sync.Mutex
	reg     metric.Registration // the gauges' callback; nil when none or closed
}

// The hooks this package implements.
var (
	_ resilience.Observer  = (*Telemetry)(nil)
	_ httpx.Observer       = (*Telemetry)(nil)
	_ httpx.AttemptStarter = (*Telemetry)(nil)
	_ BreakerSource        = (*resilience.Registry)(nil)
	_ BreakerSource        = (*httpx.Transport)(nil)
)

// New returns a Telemetry that records through the providers of opts, or an error if
// an instrument cannot be created. When opts lists breakers or bulkheads, their
// gauges are read at each collection until [Telemetry.Close].
func New(opts Options) (*Telemetry, error) {
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Telemetry{
		tracer:    tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		tracing:   !isNoopTracerProvider(tp),
		prop:      opts.Propagator,
		breakers:  append([]*resilience.Breaker(nil), opts.Breakers...),
		sources:   append([]BreakerSource(nil), opts.BreakerSources...),
		bulkheads: append([]*resilience.Bulkhead(nil), opts.Bulkheads...),
	}
	if t.prop == nil {
		t.prop = propagation.TraceContext{}
	}
	for i, b := range t.breakers {
		if b == nil {
			return nil, fmt.Errorf("telemetry: Options.Breakers[%d]: is nil", i)
		}
	}
	for i, s := range t.sources {
		if s == nil {
			return nil, fmt.Errorf("telemetry: Options.BreakerSources[%d]: is nil", i)
		}
	}
	for i, b := range t.bulkheads {
		if b == nil {
			return nil, fmt.Errorf("telemetry: Options.Bulkheads[%d]: is nil", i)
		}
	}
	if err := t.instruments(mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))); err != nil {
		return nil, err
	}
	return t, nil
}

// isNoopTracerProvider reports whether tp is the API's no-op provider.
func isNoopTracerProvider(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return true
	}
	return false
}

// instruments creates the instruments and registers the gauges' callback.
func (t *Telemetry) instruments(m metric.Meter) error {
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	buckets := metric.WithExplicitBucketBoundaries(DurationBuckets...)
	seconds := metric.WithUnit("s")

	t.events, err = m.Int64Counter(MetricResilienceEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Events of the resilience policies: attempts, retries, rejections, breaker state changes, timeouts, hedges, fallbacks, injected faults."))
	check(err)
	t.attemptDur, err = m.Float64Histogram(MetricResilienceAttemptDuration, seconds, buckets,
		metric.WithDescription("Duration of the attempts of a retry or hedging policy."))
	check(err)
	t.deadLettered, err = m.Int64Counter(MetricDeadLettered, metric.WithUnit("{message}"),
		metric.WithDescription("Messages moved to a dead-letter queue, by reason."))
	check(err)
	t.httpDur, err = m.Float64Histogram(MetricHTTPClientDuration, seconds, buckets,
		metric.WithDescription("Duration of HTTP client requests, one per attempt."))
	check(err)
	t.msgSent, err = m.Int64Counter(MetricMessagingSent, metric.WithUnit("{message}"),
		metric.WithDescription("Number of messages producer attempted to send to the broker."))
	check(err)
	t.msgConsumed, err = m.Int64Counter(MetricMessagingConsumed, metric.WithUnit("{message}"),
		metric.WithDescription("Number of messages that were delivered to the application."))
	check(err)
	t.msgOpDur, err = m.Float64Histogram(MetricMessagingOperation, seconds, buckets,
		metric.WithDescription("Duration of messaging operation initiated by a producer or consumer client."))
	check(err)
	t.msgProcDur, err = m.Float64Histogram(MetricMessagingProcess, seconds, buckets,
		metric.WithDescription("Duration of processing operation."))
	check(err)

	// The gauges' callback is registered even with nothing to report yet, so that
	// AddBreakerSource can add breakers later; it runs only when a reader collects.
	check(t.registerGauges(m))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: creating instruments: %w", err)
	}
	return nil
}

// AddBreakerSource adds a source of circuit breakers to the breaker-state gauge,
// from the next collection on. It is for breakers whose owner is built after the
// Telemetry, such as an HTTP client that takes the Telemetry as its observer. It is
// safe for concurrent use; a nil source is an error.
func (t *Telemetry) AddBreakerSource(s BreakerSource) error {
	if s == nil {
		return errors.New("telemetry: AddBreakerSource: the source is nil")
	}
	t.srcMu.Lock()
	t.sources = append(t.sources, s)
	t.srcMu.Unlock()
	return nil
}

// Close stops reading the breaker and bulkhead gauges. It is idempotent; the other
// instruments keep recording. It does not shut the providers down: their owner does.
func (t *Telemetry) Close() error {
	if t == nil {
		return nil
	}
	t.closeMu.Lock()
	reg := t.reg
	t.reg = nil
	t.closeMu.Unlock()
	if reg == nil {
		return nil
	}
	if err := reg.Unregister(); err != nil {
		return fmt.Errorf("telemetry: close: %w", err)
	}
	return nil
}

// maxCachedSets bounds each attribute-set cache: past it, sets are built per
// measurement rather than kept, so that unbounded names cannot grow memory.
const maxCachedSets = 1024

// attrCache keeps the attribute sets of recurring measurements, so that a
// measurement with a known combination of attributes does not sort and hash them
// again. It is safe for concurrent use; the zero value is empty.
type attrCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]attribute.Set
}

// get returns the set for k, built by build the first time.
func (c *attrCache[K]) get(k K, build func(K) attribute.Set) attribute.Set {
	c.mu.RLock()
	s, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = build(k)
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]attribute.Set)
	}
	if len(c.m) < maxCachedSets {
		c.m[k] = s
	}
	c.mu.Unlock()
	return s
}
