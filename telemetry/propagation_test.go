package telemetry_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/telemetry"
)

func TestTraceparentRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := telemetry.ExtractTraceparent(context.Background(), tp)
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsRemote() || !sc.IsSampled() {
		t.Fatalf("ExtractTraceparent(%q): span context %v, want valid, remote, sampled", tp, sc)
	}
	if got := telemetry.InjectTraceparent(ctx); got != tp {
		t.Errorf("InjectTraceparent(ExtractTraceparent(%q)) = %q, want it back", tp, got)
	}

	ctx = telemetry.ExtractTrace(context.Background(), tp, "vendor=abc")
	if gotTP, gotTS := telemetry.PropagateTrace(ctx); gotTP != tp || gotTS != "vendor=abc" {
		t.Errorf("PropagateTrace = %q, %q; want %q, %q", gotTP, gotTS, tp, "vendor=abc")
	}
}

func TestTraceparentInvalid(t *testing.T) {
	for _, tp := range []string{
		"",
		"garbage",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace ID
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero span ID
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
	} {
		ctx := context.Background()
		if got := telemetry.ExtractTraceparent(ctx, tp); got != ctx {
			t.Errorf("ExtractTraceparent(%q) changed the context to %v", tp, trace.SpanContextFromContext(got))
		}
	}
	if tp, ts := telemetry.PropagateTrace(context.Background()); tp != "" || ts != "" {
		t.Errorf("PropagateTrace(no span) = %q, %q; want empty", tp, ts)
	}
	if got := telemetry.InjectTraceparent(context.Background()); got != "" {
		t.Errorf("InjectTraceparent(no span) = %q, want empty", got)
	}
}
