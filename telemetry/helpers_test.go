package telemetry_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rampart-go/rampart/telemetry"
)

// rig is a Telemetry recording into memory: metrics read through a ManualReader,
// spans through a SpanRecorder.
type rig struct {
	tel    *telemetry.Telemetry
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

// newRig returns a rig whose Telemetry has opts with the in-memory providers.
func newRig(t *testing.T, opts telemetry.Options) *rig {
	t.Helper()
	r := &rig{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	opts.MeterProvider, opts.TracerProvider = mp, r.tp
	tel, err := telemetry.New(opts)
	if err != nil {
		t.Fatalf("telemetry.New: %v", err)
	}
	r.tel = tel
	t.Cleanup(func() {
		if err := tel.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_ = mp.Shutdown(context.Background())
		_ = r.tp.Shutdown(context.Background())
	})
	return r
}

// metric returns the metric named name, failing the test if it was not collected.
func (r *rig) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	m, ok := r.find(t, name)
	if !ok {
		t.Fatalf("metric %q not collected", name)
	}
	return m
}

// find returns the metric named name, if collected.
func (r *rig) find(t *testing.T, name string) (metricdata.Metrics, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != telemetry.ScopeName {
			t.Errorf("scope = %q, want %q", sm.Scope.Name, telemetry.ScopeName)
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// attrs encodes a set as "k=v,k=v", sorted by key.
func attrs(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// kvs encodes attributes as attrs does.
func kvs(list []attribute.KeyValue) string { return attrs(attribute.NewSet(list...)) }

// sums returns the data points of an int64 sum (counter) by encoded attributes.
func sums(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: data is %T, want Sum[int64]", m.Name, m.Data)
	}
	if !sum.IsMonotonic {
		t.Errorf("%s: not monotonic", m.Name)
	}
	out := make(map[string]int64)
	for _, dp := range sum.DataPoints {
		out[attrs(dp.Attributes)] = dp.Value
	}
	return out
}

// gauges returns the data points of an int64 gauge by encoded attributes.
func gauges(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok {
		t.Fatalf("%s: data is %T, want Gauge[int64]", m.Name, m.Data)
	}
	out := make(map[string]int64)
	for _, dp := range g.DataPoints {
		out[attrs(dp.Attributes)] = dp.Value
	}
	return out
}

// histograms returns the data points of a float64 histogram by encoded attributes,
// and checks that their unit is seconds and their buckets are the standard ones.
func histograms(t *testing.T, m metricdata.Metrics) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: data is %T, want Histogram[float64]", m.Name, m.Data)
	}
	if m.Unit != "s" {
		t.Errorf("%s: unit = %q, want s", m.Name, m.Unit)
	}
	out := make(map[string]metricdata.HistogramDataPoint[float64])
	for _, dp := range h.DataPoints {
		if fmt.Sprint(dp.Bounds) != fmt.Sprint(telemetry.DurationBuckets) {
			t.Errorf("%s: bounds = %v, want %v", m.Name, dp.Bounds, telemetry.DurationBuckets)
		}
		out[attrs(dp.Attributes)] = dp
	}
	return out
}

// keys returns the sorted keys of m, for failure messages.
func keys[V any](m map[string]V) string {
	list := make([]string, 0, len(m))
	for k := range m {
		list = append(list, k)
	}
	sort.Strings(list)
	return strings.Join(list, "\n  ")
}

// without returns list without the attribute key.
func without(list []attribute.KeyValue, key attribute.Key) []attribute.KeyValue {
	var out []attribute.KeyValue
	for _, kv := range list {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}

// valueOf returns the value of the attribute key in list, as a string.
func valueOf(list []attribute.KeyValue, key attribute.Key) string {
	for _, kv := range list {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
