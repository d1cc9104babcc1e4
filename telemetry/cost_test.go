package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

// The cost of telemetry that is off: with no-op providers, or with the global
// providers before the program sets real ones, recording allocates nothing, but
// for an HTTP attempt through the global tracer (which may start recording at any
// time): its non-recording span, boxed twice, and the context that carries it.
func TestOffCostsNothing(t *testing.T) {
	noop, err := telemetry.New(telemetry.Options{
		MeterProvider:  metricnoop.NewMeterProvider(),
		TracerProvider: tracenoop.NewTracerProvider(),
	})
	if err != nil {
		t.Fatal(err)
	}
	global, err := telemetry.New(telemetry.Options{}) // nothing set globally in these tests
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	retry := resilience.Event{Kind: resilience.EventRetry, Pipeline: "payments", Policy: "retry", Attempt: 2, Delay: time.Second, Err: errors.New("503")}
	attempt := resilience.Event{Kind: resilience.EventAttempt, Pipeline: "payments", Policy: "retry", Attempt: 1, Duration: time.Millisecond}
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "https", Host: "api.example.com", Path: "/v1"}, Header: http.Header{}}
	resp := &http.Response{StatusCode: 503}
	info := httpx.AttemptInfo{Request: req, Response: resp, Attempt: 2, Start: time.Now(), Duration: time.Millisecond}
	dst := telemetry.Destination{System: "rabbitmq", Name: "orders", ConsumerGroup: "billing"}
	msg := telemetry.Message{ID: "id", Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

	for _, tt := range []struct {
		name      string
		tel       *telemetry.Telemetry
		f         func(tel *telemetry.Telemetry)
		maxAllocs float64
	}{
		{"Observe retry", noop, func(tel *telemetry.Telemetry) { tel.Observe(ctx, retry) }, 0},
		{"Observe attempt", noop, func(tel *telemetry.Telemetry) { tel.Observe(ctx, attempt) }, 0},
		{"StartAttempt+ObserveAttempt", noop, func(tel *telemetry.Telemetry) { tel.ObserveAttempt(tel.StartAttempt(ctx, req), info) }, 0},
		{"RecordPublish", noop, func(tel *telemetry.Telemetry) {
			tel.RecordPublish(ctx, dst, 1, time.Millisecond, errors.ErrUnsupported)
		}, 0},
		{"RecordProcess", noop, func(tel *telemetry.Telemetry) { tel.RecordProcess(ctx, dst, time.Millisecond, nil) }, 0},
		{"RecordDeadLetter", noop, func(tel *telemetry.Telemetry) { tel.RecordDeadLetter(ctx, dst, "max_attempts") }, 0},
		{"StartPublish+End", noop, func(tel *telemetry.Telemetry) {
			c, op := tel.StartPublish(ctx, dst, "id")
			op.End(c, nil)
		}, 0},
		{"Observe retry, global", global, func(tel *telemetry.Telemetry) { tel.Observe(ctx, retry) }, 0},
		{"Observe attempt, global", global, func(tel *telemetry.Telemetry) { tel.Observe(ctx, attempt) }, 0},
		{"ObserveAttempt, global", global, func(tel *telemetry.Telemetry) { tel.ObserveAttempt(ctx, info) }, 0},
		{"StartAttempt, global", global, func(tel *telemetry.Telemetry) { tel.StartAttempt(ctx, req) }, 3},
		{"RecordPublish, global", global, func(tel *telemetry.Telemetry) { tel.RecordPublish(ctx, dst, 1, time.Millisecond, nil) }, 0},
		{"RecordProcess, global", global, func(tel *telemetry.Telemetry) { tel.RecordProcess(ctx, dst, time.Millisecond, nil) }, 0},
		{"StartProcess without traceparent+End, noop", noop, func(tel *telemetry.Telemetry) {
			c, op := tel.StartProcess(ctx, dst, telemetry.Message{ID: "id"})
			op.End(c, nil)
		}, 0},
	} {
		got := testing.AllocsPerRun(100, func() { tt.f(tt.tel) })
		if got > tt.maxAllocs {
			t.Errorf("%s: %v allocations, want at most %v", tt.name, got, tt.maxAllocs)
		}
	}
	// Extracting a traceparent costs its context even when off: that is the
	// propagation, not telemetry.
	if got := testing.AllocsPerRun(100, func() {
		c, op := noop.StartProcess(ctx, dst, msg)
		op.End(c, nil)
	}); got > 3 {
		t.Errorf("StartProcess with a traceparent: %v allocations, want at most 3", got)
	}
}

// BenchmarkObserve measures a resilience event with telemetry off and on (an SDK
// meter provider and a recording span).
func BenchmarkObserve(b *testing.B) {
	e := resilience.Event{Kind: resilience.EventRetry, Pipeline: "payments", Policy: "retry", Attempt: 2, Delay: time.Second, Err: errors.New("503")}
	b.Run("off", func(b *testing.B) {
		tel, _ := telemetry.New(telemetry.Options{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			tel.Observe(ctx, e)
		}
	})
	b.Run("metrics", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer mp.Shutdown(context.Background())
		tel, _ := telemetry.New(telemetry.Options{MeterProvider: mp, TracerProvider: tracenoop.NewTracerProvider()})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			tel.Observe(ctx, e)
		}
	})
}

// BenchmarkHTTPAttempt measures StartAttempt and ObserveAttempt for one attempt,
// off, and with metrics and a sampled span.
func BenchmarkHTTPAttempt(b *testing.B) {
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "https", Host: "api.example.com", Path: "/v1"}, Header: http.Header{}}
	info := httpx.AttemptInfo{Request: req, Response: &http.Response{StatusCode: 200}, Attempt: 1, Start: time.Now(), Duration: time.Millisecond}
	run := func(b *testing.B, tel *telemetry.Telemetry) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			tel.ObserveAttempt(tel.StartAttempt(ctx, req), info)
		}
	}
	b.Run("off", func(b *testing.B) {
		tel, _ := telemetry.New(telemetry.Options{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
		run(b, tel)
	})
	b.Run("on", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer mp.Shutdown(context.Background())
		tp := sdktrace.NewTracerProvider() // samples everything, exports nowhere
		defer tp.Shutdown(context.Background())
		tel, _ := telemetry.New(telemetry.Options{MeterProvider: mp, TracerProvider: tp})
		run(b, tel)
	})
}
