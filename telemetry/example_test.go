package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

// A pipeline observed by telemetry counts its events in resilience.events, read
// back here through an in-memory reader.
func ExampleTelemetry_Observe() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	tel, err := telemetry.New(telemetry.Options{MeterProvider: provider})
	if err != nil {
		panic(err)
	}

	pipeline := resilience.Must(resilience.NewPipeline(
		resilience.PipelineOptions{Name: "inventory", Observer: tel},
		resilience.Must(resilience.NewRetry(resilience.RetryOptions{
			Name: "retry", MaxAttempts: 3,
			Backoff: resilience.Backoff{Base: time.Millisecond, Jitter: resilience.JitterNone},
		})),
	))
	calls := 0
	err = pipeline.Run(context.Background(), func(context.Context) error {
		if calls++; calls == 1 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println("error:", err)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != telemetry.MetricResilienceEvents {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				event, _ := dp.Attributes.Value(telemetry.AttrEvent)
				line := fmt.Sprintf("%s %s=%s", m.Name, telemetry.AttrEvent, event.AsString())
				if et, ok := dp.Attributes.Value("error.type"); ok {
					line += " error.type=" + et.AsString()
				}
				lines = append(lines, fmt.Sprintf("%s: %d", line, dp.Value))
			}
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// error: <nil>
	// resilience.events resilience.event.name=attempt error.type=_OTHER: 1
	// resilience.events resilience.event.name=attempt: 1
	// resilience.events resilience.event.name=retry error.type=_OTHER: 1
}

// A service exposes its metrics at /metrics: the HTTP client's, with Prometheus
// names.
func ExampleNewPrometheus() {
	prom, err := telemetry.NewPrometheus(telemetry.PrometheusOptions{})
	if err != nil {
		panic(err)
	}
	defer prom.Shutdown(context.Background())
	tel, err := telemetry.New(telemetry.Options{MeterProvider: prom.MeterProvider()})
	if err != nil {
		panic(err)
	}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer upstream.Close()
	base := httpx.NewBaseTransport()
	defer base.CloseIdleConnections()
	client, err := httpx.NewHTTPClient(httpx.Options{Name: "inventory", Base: base, Observer: tel, PolicyObserver: tel})
	if err != nil {
		panic(err)
	}
	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", prom)
	metrics := httptest.NewServer(mux)
	defer metrics.Close()
	resp, err = http.Get(metrics.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	count := regexp.MustCompile(`(?m)^http_client_request_duration_seconds_count\{.*http_response_status_code="(\d+)".*\} (\d+)$`)
	for _, m := range count.FindAllStringSubmatch(string(body), -1) {
		fmt.Printf("http_client_request_duration_seconds_count{status %s} %s\n", m[1], m[2])
	}
	// Output:
	// http_client_request_duration_seconds_count{status 204} 1
}

// Each attempt of an HTTP call is a client span whose traceparent the server
// receives, so that its own spans join the caller's trace.
func ExampleTelemetry_StartAttempt() {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tel, err := telemetry.New(telemetry.Options{TracerProvider: tp})
	if err != nil {
		panic(err)
	}

	received := make(chan string, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Get("traceparent")
	}))
	defer upstream.Close()
	base := httpx.NewBaseTransport()
	defer base.CloseIdleConnections()
	client, err := httpx.NewHTTPClient(httpx.Options{Base: base, Observer: tel})
	if err != nil {
		panic(err)
	}

	ctx, span := tp.Tracer("checkout").Start(context.Background(), "checkout")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	span.End()

	remote := telemetry.ExtractTraceparent(context.Background(), <-received)
	fmt.Println("same trace:", telemetry.InjectTraceparent(remote)[3:35] == span.SpanContext().TraceID().String())
	// Output:
	// same trace: true
}

// A bus observed by telemetry: the event's publish is a producer span, a child
// of the caller's span, and its processing a consumer span, a child of the
// publish through the envelope's traceparent; the handler runs inside it.
func ExampleTelemetry_ObserveProcess() {
	spans := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer provider.Shutdown(context.Background())
	tel, err := telemetry.New(telemetry.Options{TracerProvider: provider})
	if err != nil {
		panic(err)
	}

	tr := memory.New()
	defer tr.Close()
	reg := bus.NewRegistry()
	type CustomerSignedUp struct{ Email string }
	if err := bus.Register[CustomerSignedUp](reg, "customers.customer-signed-up.v1"); err != nil {
		panic(err)
	}
	b, err := bus.New(tr, bus.Options{Source: "/customers", Registry: reg, Observer: tel})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	handled := make(chan bool, 1)
	err = bus.Handle(b, "welcome-email", func(ctx context.Context, e CustomerSignedUp, m bus.Meta) error {
		handled <- trace.SpanFromContext(ctx).IsRecording()
		return nil
	})
	if err != nil {
		panic(err)
	}
	if err := b.Start(context.Background()); err != nil {
		panic(err)
	}

	ctx, request := provider.Tracer("example").Start(context.Background(), "POST /customers")
	if err := b.Publish(ctx, CustomerSignedUp{Email: "ada@example.com"}); err != nil {
		panic(err)
	}
	request.End()
	fmt.Println("handler in a span:", <-handled)
	if err := b.Shutdown(context.Background()); err != nil { // ends the process span
		panic(err)
	}

	names := map[trace.SpanID]string{}
	for _, s := range spans.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	var lines []string
	for _, s := range spans.Ended() {
		parent := names[s.Parent().SpanID()]
		if parent == "" {
			parent = "none"
		}
		lines = append(lines, fmt.Sprintf("%s (%s), child of %s", s.Name(), s.SpanKind(), parent))
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// handler in a span: true
	// POST /customers (internal), child of none
	// process customers.customer-signed-up.v1 (consumer), child of publish customers.customer-signed-up.v1
	// publish customers.customer-signed-up.v1 (producer), child of POST /customers
}
