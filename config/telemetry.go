package config

import "strings"

// TelemetryConfig says how the service reports metrics. It holds plain values,
// which the program hands to package telemetry: this package does not import it.
type TelemetryConfig struct {
	ServiceName    string `yaml:"service_name"`    // service.name of the metrics; empty means OTEL_SERVICE_NAME or the SDK's default
	Prometheus     bool   `yaml:"prometheus"`      // serve the metrics in the Prometheus format; default false
	MetricsPath    string `yaml:"metrics_path"`    // where; default /metrics
	RuntimeMetrics bool   `yaml:"runtime_metrics"` // add the Go runtime's and the process's metrics
}

func (t *TelemetryConfig) setDefaults() { *t = TelemetryConfig{MetricsPath: "/metrics"} }

func (t *TelemetryConfig) validate(st *loadState, path string) {
	if !strings.HasPrefix(t.MetricsPath, "/") {
		st.fail(join(path, "metrics_path"), "must start with '/', got %s", quoteShort(t.MetricsPath))
	}
}
