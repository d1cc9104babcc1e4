// Package telemetry records the metrics and traces of Rampart's parts with
// OpenTelemetry, under the names of the semantic conventions, and exposes the
// metrics to Prometheus.
//
// The parts do not import this package: each owns a small hook, and a [Telemetry]
// implements them all. A service builds one and hands it to every part:
//
//	prom, err := telemetry.NewPrometheus(telemetry.PrometheusOptions{})
//	tel, err := telemetry.New(telemetry.Options{
//		MeterProvider:  prom.MeterProvider(),
//		TracerProvider: tracerProvider, // an sdk/trace provider with an exporter
//		BreakerSources: []telemetry.BreakerSource{registry, paymentsTransport},
//	})
//	defer tel.Close()
//	mux.Handle("GET /metrics", prom)
//
//	payments, err := httpx.NewTransport(httpx.Options{
//		Name:           "payments",
//		Observer:       tel, // HTTP metrics and one client span per attempt
//		PolicyObserver: tel, // the retries, rejections and timeouts of its pipeline
//	})
//	pipeline, err := resilience.NewPipeline(resilience.PipelineOptions{Name: "inventory", Observer: tel}, ...)
//	b, err := bus.New(transport, bus.Options{Observer: tel}) // publish and process spans, messaging metrics
//
// A nil *Telemetry records nothing, so a part may be handed one unconditionally.
//
// # Metrics
//
// Durations are histograms in seconds with the buckets the semantic conventions
// recommend for HTTP ([DurationBuckets]: 5ms to 10s). Attributes that do not apply
// are left out.
//
//	name (Prometheus name)                          kind       attributes
//	http.client.request.duration                    histogram  http.request.method, server.address, server.port,
//	  (http_client_request_duration_seconds)                   http.response.status_code, error.type,
//	                                                           http.request.resend_count (from the second attempt)
//	resilience.events                               counter    resilience.pipeline.name, resilience.policy.name,
//	  (resilience_events_total)                                resilience.event.name, error.type,
//	                                                           resilience.breaker.state (the new state, on
//	                                                           breaker_state_change)
//	resilience.attempt.duration                     histogram  resilience.pipeline.name, resilience.policy.name,
//	  (resilience_attempt_duration_seconds)                    error.type
//	resilience.breaker.state                        gauge      resilience.policy.name (the breaker's name);
//	  (resilience_breaker_state)                               0 closed, 1 open, 2 half-open, 3 isolated
//	resilience.bulkhead.active_calls                gauge      resilience.policy.name (the bulkhead's name)
//	resilience.bulkhead.queued_calls                gauge      resilience.policy.name
//	messaging.client.sent.messages                  counter    messaging.system, messaging.operation.name,
//	  (messaging_client_sent_messages_total)                   messaging.destination.name, error.type
//	messaging.client.operation.duration             histogram  the same
//	messaging.client.consumed.messages              counter    messaging.system, messaging.operation.name,
//	  (messaging_client_consumed_messages_total)               messaging.destination.name,
//	                                                           messaging.consumer.group.name, error.type
//	messaging.process.duration                      histogram  the same
//	messaging.dead_lettered.messages                counter    messaging.system, messaging.destination.name,
//	  (messaging_dead_lettered_messages_total)                 messaging.consumer.group.name,
//	                                                           messaging.dead_letter.reason
//
// resilience.events counts every event of [resilience.EventKind], named by its
// String method: attempt, retry, retries_exhausted, breaker_state_change, rejected,
// timeout, hedge, fallback, chaos. Breakers report their state changes to their own
// observer (BreakerOptions.Observer), without a pipeline name; set the Telemetry
// there too. The gauges are read at each collection from Options.Breakers,
// Options.BreakerSources (a *resilience.Registry, an *httpx.Transport) and
// Options.Bulkheads.
//
// error.type is the status code for an HTTP response of 400 or more; for an error,
// the result of its ErrorType() string method if it has one, "timeout" for
// [context.DeadlineExceeded], "canceled" for [context.Canceled], "_OTHER" for an
// error with no type of its own (errors.New), and otherwise its Go type as %T
// prints it ("*net.OpError", "*resilience.BreakerOpenError"), after fmt.Errorf's
// and *url.Error's wrappers. Every attribute has few values, with one exception to
// watch: server.address and server.port, one per host called.
//
// # Traces
//
// Each HTTP attempt is a client span ([Telemetry.StartAttempt]), named after its
// method, a child of the span in the call's context: a call retried twice is three
// sibling spans, the second and third with http.request.resend_count. Its trace
// context goes out in the attempt's traceparent header, so the server's spans are
// its children. A call whose context has no span but which carries a traceparent
// ([httpx.WithTraceparent]) continues that trace. url.full never has user
// information, and the values of the query parameters of
// [httpx.DefaultRedactedQuery] are redacted; headers are never recorded. A response
// of 400 or more, or an error, sets error.type and an error status.
//
// The other events of the policies (a retry scheduled, a rejection, a breaker
// changing state, a timeout, a fallback) are events of the span in the context
// they are reported with: the caller's span, for the retries of an HTTP call.
//
// # Messaging and the bus
//
// A Telemetry is the [bus.Observer] of a bus (bus.Options.Observer): each publish
// is a producer span, "publish <event type>", a child of the span in the
// publishing code's context, and the trace context of that span goes into the
// event's envelope ([Telemetry.PropagateTrace], the bus's [bus.TracePropagator]).
// Each delivery is a consumer span, "process <event type>", a child of the publish
// span that the envelope names, and the handler runs in its context: the HTTP
// calls it makes through an [httpx.Transport] observed by the same Telemetry are
// its children, and the events it publishes continue the trace (and keep the
// bus's causation and correlation IDs). So a trace follows an order from the HTTP
// request through its event to the handler and on to the services the handler
// calls. The spans carry messaging.system (the transport's: "memory", "rabbitmq",
// "nats"), messaging.destination.name (the event type),
// messaging.consumer.group.name (the subscription), messaging.message.id (the
// event ID), and error.type with an error status when the publish or the handler
// failed; a dead letter is a "messaging.dead_letter" event of the process span
// with messaging.dead_letter.reason. The same operations record the messaging
// metrics, and each dead letter messaging.dead_lettered.messages with the bus's
// reason: "undecodable", "unknown-type", "permanent-error" or "max-attempts".
//
// The pieces are usable alone: [Telemetry.StartPublish] and
// [Telemetry.StartProcess] start the spans and record the metrics when their
// [Operation] ends; [Telemetry.RecordPublish], [Telemetry.RecordProcess] and
// [Telemetry.RecordDeadLetter] record the metrics alone; [PropagateTrace] and
// [InjectTraceparent] give the trace context of a context, and
// [ExtractTraceparent] and [ExtractTrace] turn an envelope's trace context back
// into one.
//
// # Prometheus
//
// [NewPrometheus] returns an [http.Handler] to mount at /metrics, with a registry of
// its own (never the global one) and the MeterProvider whose metrics it exposes.
// The names follow the Prometheus conventions (dots become underscores, the unit
// is a suffix, counters end in _total) and every series has the otel_scope_name
// label "github.com/rampart-go/rampart/telemetry". PrometheusOptions.RuntimeMetrics
// adds the go_* and process_* metrics.
//
// # Cost when off
//
// With the zero Options and no global providers set, or with the no-op providers
// of go.opentelemetry.io/otel/metric/noop and go.opentelemetry.io/otel/trace/noop,
// every method returns after checking that its instruments are disabled
// (Enabled) and that no span records: a resilience event, an HTTP attempt's
// metrics, a message published or processed (the bus's hooks included) allocate
// nothing and take a few nanoseconds, but for a traceparent extracted from an
// envelope, which is the propagation's cost. The one exception is a span through
// the global tracer provider (an HTTP attempt's, a message's), which may become
// real at any time: it costs that provider's non-recording span (three or four
// small allocations); a trace/noop provider turns it off entirely. A part that is
// given no Telemetry at all does not call it.
//
// When on, attribute sets are built once per combination and cached (up to 1024
// per instrument; past that they are built per measurement), so that recording
// costs the SDK's own work.
//
// # Concurrency
//
// A [Telemetry] and a [Prometheus] are safe for concurrent use. Their methods never
// block, hold no lock of the parts that call them, and start no goroutine.
// [Telemetry.Close] stops the gauges' callback; the providers are shut down by
// whoever built them ([Prometheus.Shutdown] for its own).
package telemetry
