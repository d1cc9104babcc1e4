package bench

import (
	"context"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

// What telemetry costs: the same work with telemetry not configured (lib=rampart),
// with a Telemetry on no-op providers (lib=telemetry-noop: what a service gets when
// it wires telemetry but exports nothing), and with the OpenTelemetry SDK recording
// metrics into a reader and spans into an in-memory exporter (lib=telemetry-sdk).

func telemetries(b *testing.B) map[string]*telemetry.Telemetry {
	b.Helper()
	noop, err := telemetry.New(telemetry.Options{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
	if err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	sdk, err := telemetry.New(telemetry.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		noop.Close()
		sdk.Close()
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return map[string]*telemetry.Telemetry{"telemetry-noop": noop, "telemetry-sdk": sdk}
}

// BenchmarkTelemetryRetry: a retry whose first attempt fails and second succeeds,
// so that every kind of retry event is reported.
func BenchmarkTelemetryRetry(b *testing.B) {
	ctx := context.Background()
	tels := telemetries(b)
	run := func(b *testing.B, obs resilience.Observer) {
		p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "bench", Observer: obs},
			resilience.Must(resilience.NewRetry(resilience.RetryOptions{
				MaxAttempts: 2, Backoff: resilience.Backoff{Kind: resilience.BackoffConstant, Base: time.Nanosecond},
			})),
			// Counts failures in a row: a success after each failure keeps it closed.
			resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 5})),
		))
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if _, err := resilience.Do(ctx, p, func(context.Context) (int, error) {
				if n++; n == 1 {
					return 0, errBoom
				}
				return 1, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("lib=rampart", func(b *testing.B) { run(b, nil) })
	for _, name := range []string{"telemetry-noop", "telemetry-sdk"} {
		b.Run("lib="+name, func(b *testing.B) { run(b, tels[name]) })
	}
}

// BenchmarkTelemetryHTTP: the HTTP benchmark's GET through httpx with telemetry off
// and on (metrics and one client span per attempt).
func BenchmarkTelemetryHTTP(b *testing.B) {
	srv := benchServer(b)
	tels := telemetries(b)
	run := func(b *testing.B, tel *telemetry.Telemetry) {
		opts := httpx.Options{Name: "bench"}
		if tel != nil {
			opts.Observer, opts.PolicyObserver = tel, tel
		}
		c, err := httpx.NewHTTPClient(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.CloseIdleConnections)
		benchGet(b, c, srv.URL)
		b.ReportAllocs()
		for b.Loop() {
			benchGet(b, c, srv.URL)
		}
	}
	b.Run("lib=rampart", func(b *testing.B) { run(b, nil) })
	for _, name := range []string{"telemetry-noop", "telemetry-sdk"} {
		b.Run("lib="+name, func(b *testing.B) { run(b, tels[name]) })
	}
}
