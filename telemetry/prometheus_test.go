package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

// scrape GETs the exposition of h and returns its text.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	return string(body)
}

// series returns the lines of text that start with name followed by '{' or ' '.
func series(text, name string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			out = append(out, line)
		}
	}
	return out
}

func TestPrometheusExposition(t *testing.T) {
	prom, err := telemetry.NewPrometheus(telemetry.PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Shutdown(context.Background())
	breaker := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Name: "payments-breaker"}))
	breaker.Isolate()
	bulkhead := resilience.Must(resilience.NewBulkhead(resilience.BulkheadOptions{Name: "db"}))
	tel, err := telemetry.New(telemetry.Options{
		MeterProvider: prom.MeterProvider(),
		Breakers:      []*resilience.Breaker{breaker},
		Bulkheads:     []*resilience.Bulkhead{bulkhead},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()

	// A real HTTP call, retried once.
	srv := newTracedServer(t, tracenoop.NewTracerProvider(), 503)
	client := newClient(t, tel, httpx.Options{Name: "inventory"})
	if resp, err := get(t, context.Background(), client, srv.URL+"/stock"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET = %v, %v", resp, err)
	}
	ctx := context.Background()
	tel.RecordPublish(ctx, telemetry.Destination{System: "rabbitmq", Name: "orders"}, 2, 3*time.Millisecond, nil)
	tel.RecordProcess(ctx, telemetry.Destination{System: "rabbitmq", Name: "orders", ConsumerGroup: "billing"}, time.Millisecond, errors.New("x"))
	tel.RecordDeadLetter(ctx, telemetry.Destination{System: "rabbitmq", Name: "orders", ConsumerGroup: "billing"}, "max_attempts")

	text := scrape(t, prom)
	port := portOf(t, srv.URL)
	for _, tt := range []struct {
		typ, name string
		labels    []string // label="value" pairs that one series of name has
		value     string   // its value, "" for any
	}{
		{"histogram", "http_client_request_duration_seconds_bucket", []string{`http_request_method="GET"`, `http_response_status_code="503"`, `error_type="503"`, `server_address="127.0.0.1"`, `server_port="` + port + `"`, `le="0.005"`}, ""},
		{"histogram", "http_client_request_duration_seconds_bucket", []string{`http_request_resend_count="1"`, `http_response_status_code="200"`, `le="+Inf"`}, "1"},
		{"histogram", "http_client_request_duration_seconds_count", []string{`http_request_resend_count="1"`}, "1"},
		{"counter", "resilience_events_total", []string{`resilience_event_name="retry"`, `resilience_pipeline_name="inventory"`, `resilience_policy_name="inventory/retry"`}, "1"},
		{"counter", "resilience_events_total", []string{`resilience_event_name="attempt"`}, "2"},
		{"histogram", "resilience_attempt_duration_seconds_count", []string{`resilience_policy_name="inventory/retry"`}, "2"},
		{"gauge", "resilience_breaker_state", []string{`resilience_policy_name="payments-breaker"`}, "3"},
		{"gauge", "resilience_bulkhead_active_calls", []string{`resilience_policy_name="db"`}, "0"},
		{"gauge", "resilience_bulkhead_queued_calls", []string{`resilience_policy_name="db"`}, "0"},
		{"counter", "messaging_client_sent_messages_total", []string{`messaging_system="rabbitmq"`, `messaging_destination_name="orders"`, `messaging_operation_name="publish"`}, "2"},
		{"histogram", "messaging_client_operation_duration_seconds_count", []string{`messaging_operation_name="publish"`}, "1"},
		{"counter", "messaging_client_consumed_messages_total", []string{`messaging_consumer_group_name="billing"`, `messaging_operation_name="process"`, `error_type="_OTHER"`}, "1"},
		{"histogram", "messaging_process_duration_seconds_count", []string{`messaging_consumer_group_name="billing"`}, "1"},
		{"counter", "messaging_dead_lettered_messages_total", []string{`messaging_dead_letter_reason="max_attempts"`, `messaging_consumer_group_name="billing"`}, "1"},
	} {
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(tt.name, "_bucket"), "_count"), "_sum")
		if !strings.Contains(text, "# TYPE "+family+" "+tt.typ+"\n") {
			t.Errorf("no \"# TYPE %s %s\" line", family, tt.typ)
		}
		found := false
		for _, line := range series(text, tt.name) {
			ok := true
			for _, l := range tt.labels {
				ok = ok && strings.Contains(line, l)
			}
			if ok && (tt.value == "" || strings.HasSuffix(line, "} "+tt.value)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no series %s{%s} %s in:\n%s", tt.name, strings.Join(tt.labels, ","), tt.value, strings.Join(series(text, tt.name), "\n"))
		}
	}
	if series(text, "go_goroutines") != nil {
		t.Error("runtime metrics exposed without PrometheusOptions.RuntimeMetrics")
	}
}

// Each Prometheus has a registry of its own: two never collide, and the global
// registry is left alone.
func TestPrometheusOwnRegistry(t *testing.T) {
	a, err := telemetry.NewPrometheus(telemetry.PrometheusOptions{RuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := telemetry.NewPrometheus(telemetry.PrometheusOptions{RuntimeMetrics: true})
	if err != nil {
		t.Fatalf("second NewPrometheus: %v", err)
	}
	for _, p := range []*telemetry.Prometheus{a, b} {
		tel, err := telemetry.New(telemetry.Options{MeterProvider: p.MeterProvider()})
		if err != nil {
			t.Fatal(err)
		}
		tel.Observe(context.Background(), resilience.Event{Kind: resilience.EventRetry, Pipeline: "p", Policy: "r"})
	}
	text := scrape(t, a)
	if got := series(text, "resilience_events_total"); len(got) != 1 || !strings.HasSuffix(got[0], "} 1") {
		t.Errorf("resilience_events_total of a = %q, want one series of 1", got)
	}
	if series(text, "go_goroutines") == nil {
		t.Error("no go_goroutines with RuntimeMetrics")
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "resilience_") {
			t.Errorf("the global registry has %s", f.GetName())
		}
	}
	for _, p := range []*telemetry.Prometheus{a, b} {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
}
