package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// PrometheusOptions configure [NewPrometheus]. The zero value describes the
// process with resource.Default() (service.name from OTEL_SERVICE_NAME, the SDK's
// attributes: the target_info metric), and exposes the OpenTelemetry metrics only.
type PrometheusOptions struct {
	// Resource describes the service. Nil means resource.Default().
	Resource *resource.Resource
	// RuntimeMetrics adds the Go runtime's (go_*) and the process's (process_*)
	// metrics of client_golang's collectors to the exposition.
	RuntimeMetrics bool
	// Views change the aggregation of instruments (other buckets, dropped
	// attributes). Nil means none.
	Views []sdkmetric.View
}

// Prometheus exposes OpenTelemetry metrics in the Prometheus text format: it is an
// [http.Handler] to mount at /metrics, and the source of the MeterProvider whose
// metrics it serves. It has a prometheus.Registry of its own, not the global one, so
// that two of them (in tests, say) never collide.
//
// Metric names follow the Prometheus conventions: dots become underscores, the
// unit is a suffix and counters end in _total, so http.client.request.duration is
// exposed as http_client_request_duration_seconds (_bucket, _sum, _count) and
// resilience.events as resilience_events_total.
//
// A Prometheus is safe for concurrent use.
type Prometheus struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	handler  http.Handler
}

// NewPrometheus returns a Prometheus exposition configured by opts, or an error if
// the exporter cannot be registered.
func NewPrometheus(opts PrometheusOptions) (*Prometheus, error) {
	reg := prometheus.NewRegistry()
	if opts.RuntimeMetrics {
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, fmt.Errorf("telemetry: prometheus: %w", err)
		}
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("telemetry: prometheus: %w", err)
		}
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus: %w", err)
	}
	res := opts.Resource
	if res == nil {
		res = resource.Default()
	}
	popts := []sdkmetric.Option{sdkmetric.WithReader(exporter), sdkmetric.WithResource(res)}
	if len(opts.Views) > 0 {
		popts = append(popts, sdkmetric.WithView(opts.Views...))
	}
	return &Prometheus{
		registry: reg,
		provider: sdkmetric.NewMeterProvider(popts...),
		handler:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// MeterProvider returns the provider whose metrics p exposes: set it as
// Options.MeterProvider (or with otel.SetMeterProvider).
func (p *Prometheus) MeterProvider() *sdkmetric.MeterProvider { return p.provider }

// Registry returns p's Prometheus registry, to register other collectors with.
func (p *Prometheus) Registry() *prometheus.Registry { return p.registry }

// ServeHTTP writes the metrics in the Prometheus exposition format.
func (p *Prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// Shutdown shuts the MeterProvider down: its instruments stop recording and the
// exposition is empty afterwards. It is idempotent in effect: a second call returns
// the SDK's "already shutdown" error.
func (p *Prometheus) Shutdown(ctx context.Context) error {
	if err := p.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: prometheus: %w", err)
	}
	return nil
}
