package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

func TestObserveEventAttributes(t *testing.T) {
	ctx := context.Background()
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		e    resilience.Event
		want string // the attributes of the resilience.events data point
	}{
		{
			name: "retry with an opaque error",
			e:    resilience.Event{Kind: resilience.EventRetry, Pipeline: "payments", Policy: "retry", Attempt: 2, Err: errors.New("boom")},
			want: "error.type=_OTHER,resilience.event.name=retry,resilience.pipeline.name=payments,resilience.policy.name=retry",
		},
		{
			name: "retry with a typed error wrapped by fmt.Errorf",
			e:    resilience.Event{Kind: resilience.EventRetry, Pipeline: "payments", Policy: "retry", Err: fmt.Errorf("calling: %w", opErr)},
			want: "error.type=*net.OpError,resilience.event.name=retry,resilience.pipeline.name=payments,resilience.policy.name=retry",
		},
		{
			name: "breaker rejection",
			e:    resilience.Event{Kind: resilience.EventRejected, Pipeline: "payments", Policy: "payments-breaker", Err: &resilience.BreakerOpenError{Breaker: "payments-breaker"}},
			want: "error.type=*resilience.BreakerOpenError,resilience.event.name=rejected,resilience.pipeline.name=payments,resilience.policy.name=payments-breaker",
		},
		{
			name: "breaker state change outside a pipeline",
			e:    resilience.Event{Kind: resilience.EventBreakerStateChange, Policy: "payments-breaker", From: resilience.StateClosed, To: resilience.StateOpen},
			want: "resilience.breaker.state=open,resilience.event.name=breaker_state_change,resilience.policy.name=payments-breaker",
		},
		{
			name: "timeout",
			e:    resilience.Event{Kind: resilience.EventTimeout, Pipeline: "p", Policy: "attempt", Duration: time.Second, Err: context.DeadlineExceeded},
			want: "error.type=timeout,resilience.event.name=timeout,resilience.pipeline.name=p,resilience.policy.name=attempt",
		},
		{
			name: "successful attempt",
			e:    resilience.Event{Kind: resilience.EventAttempt, Pipeline: "p", Policy: "retry", Attempt: 1, Duration: 20 * time.Millisecond},
			want: "resilience.event.name=attempt,resilience.pipeline.name=p,resilience.policy.name=retry",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, telemetry.Options{})
			r.tel.Observe(ctx, tt.e)
			r.tel.Observe(ctx, tt.e)
			got := sums(t, r.metric(t, telemetry.MetricResilienceEvents))
			if len(got) != 1 || got[tt.want] != 2 {
				t.Errorf("resilience.events = %v, want {%s: 2}", got, tt.want)
			}
		})
	}
}

func TestObserveAttemptDuration(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	ctx := context.Background()
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventAttempt, Pipeline: "p", Policy: "retry", Attempt: 1, Duration: 20 * time.Millisecond, Err: errors.New("x")})
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventAttempt, Pipeline: "p", Policy: "retry", Attempt: 2, Duration: 30 * time.Millisecond})
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventRetry, Pipeline: "p", Policy: "retry", Attempt: 2})

	h := histograms(t, r.metric(t, telemetry.MetricResilienceAttemptDuration))
	want := map[string]float64{
		"error.type=_OTHER,resilience.pipeline.name=p,resilience.policy.name=retry": 0.020,
		"resilience.pipeline.name=p,resilience.policy.name=retry":                   0.030,
	}
	if len(h) != len(want) {
		t.Fatalf("resilience.attempt.duration points:\n  %s\nwant %d", keys(h), len(want))
	}
	for k, sum := range want {
		dp, ok := h[k]
		if !ok || dp.Count != 1 || dp.Sum < sum-1e-9 || dp.Sum > sum+1e-9 {
			t.Errorf("resilience.attempt.duration{%s} = count %d sum %v, want count 1 sum %v", k, dp.Count, dp.Sum, sum)
		}
	}
}

// A real pipeline, retry → breaker, against a failing function: every event the
// pipeline and the breaker report is counted once, with their names.
func TestPipelineEventsCounted(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int64{}
	count := resilience.ObserverFunc(func(_ context.Context, e resilience.Event) {
		mu.Lock()
		defer mu.Unlock()
		key := "resilience.event.name=" + e.Kind.String()
		if e.Pipeline != "" {
			key += ",resilience.pipeline.name=" + e.Pipeline
		}
		seen[key+",resilience.policy.name="+e.Policy]++
	})

	r := newRig(t, telemetry.Options{})
	obs := resilience.Observers(r.tel, count)
	breaker := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{
		Name: "inventory-breaker", Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 2,
		BreakDuration: time.Hour, Observer: obs,
	}))
	retry := resilience.Must(resilience.NewRetry(resilience.RetryOptions{
		Name: "inventory-retry", MaxAttempts: 4,
		Backoff: resilience.Backoff{Base: time.Millisecond, Jitter: resilience.JitterNone},
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "inventory", Observer: obs}, retry, breaker))

	calls := 0
	err := p.Run(context.Background(), func(context.Context) error {
		calls++
		return errors.New("503")
	})
	if !errors.Is(err, resilience.ErrBreakerOpen) && !errors.Is(err, resilience.ErrRetriesExhausted) {
		t.Fatalf("Run = %v, want a breaker rejection or retries exhausted", err)
	}
	if calls != 2 {
		t.Errorf("calls = %d, want 2 (the breaker opens after two failures)", calls)
	}

	got := sums(t, r.metric(t, telemetry.MetricResilienceEvents))
	// The metric has error.type and breaker state on top of the names.
	stripped := map[string]int64{}
	for k, v := range got {
		set := decode(k)
		var kept []attribute.KeyValue
		for _, kv := range set {
			if kv.Key != "error.type" && kv.Key != telemetry.AttrBreakerState {
				kept = append(kept, kv)
			}
		}
		stripped[kvs(kept)] += v
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(stripped) != fmt.Sprint(seen) {
		t.Errorf("resilience.events = %v\nwant (as observed) %v", stripped, seen)
	}
	for _, want := range []string{
		"error.type=_OTHER,resilience.event.name=retry,resilience.pipeline.name=inventory,resilience.policy.name=inventory-retry",
		"resilience.breaker.state=open,resilience.event.name=breaker_state_change,resilience.policy.name=inventory-breaker",
		"error.type=*resilience.BreakerOpenError,resilience.event.name=rejected,resilience.pipeline.name=inventory,resilience.policy.name=inventory-breaker",
	} {
		if got[want] == 0 {
			t.Errorf("resilience.events{%s} missing; have:\n  %s", want, keys(got))
		}
	}
}

// decode parses the "k=v,k=v" encoding of attrs (values without commas).
func decode(s string) []attribute.KeyValue {
	var out []attribute.KeyValue
	for len(s) > 0 {
		var kv string
		kv, s, _ = strings.Cut(s, ",")
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, attribute.String(k, v))
	}
	return out
}

func TestBreakerStateGauge(t *testing.T) {
	shared := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Name: "shared"}))
	own := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Name: "own"}))
	var reg resilience.Registry
	if err := reg.Register(resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "a"}, shared))); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, telemetry.Options{
		Breakers:       []*resilience.Breaker{own, shared}, // shared is also in the registry: reported once
		BreakerSources: []telemetry.BreakerSource{&reg},
	})

	check := func(wantShared, wantOwn int64) {
		t.Helper()
		got := gauges(t, r.metric(t, telemetry.MetricBreakerState))
		want := map[string]int64{
			"resilience.policy.name=shared": wantShared,
			"resilience.policy.name=own":    wantOwn,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("resilience.breaker.state = %v, want %v", got, want)
		}
	}
	check(0, 0)
	shared.Isolate()
	check(3, 0)
	shared.Reset()
	own.Isolate()
	check(0, 3)

	for _, tt := range []struct {
		s    resilience.BreakerState
		want int64
	}{{resilience.StateClosed, 0}, {resilience.StateOpen, 1}, {resilience.StateHalfOpen, 2}, {resilience.StateIsolated, 3}} {
		if got := telemetry.BreakerStateValue(tt.s); got != tt.want {
			t.Errorf("BreakerStateValue(%s) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

// An open breaker is reported as 1: a breaker tripped by real failures.
func TestBreakerStateGaugeOpen(t *testing.T) {
	b := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{
		Name: "b", Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 1, BreakDuration: time.Hour,
	}))
	r := newRig(t, telemetry.Options{Breakers: []*resilience.Breaker{b}})
	permit, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	permit.Done(true)
	got := gauges(t, r.metric(t, telemetry.MetricBreakerState))
	if got["resilience.policy.name=b"] != 1 {
		t.Errorf("resilience.breaker.state = %v, want b: 1 (open)", got)
	}
}

func TestBulkheadGauges(t *testing.T) {
	bh := resilience.Must(resilience.NewBulkhead(resilience.BulkheadOptions{Name: "db", MaxConcurrent: 1, MaxQueue: 2}))
	r := newRig(t, telemetry.Options{Bulkheads: []*resilience.Bulkhead{bh}})
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "db"}, bh))

	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	run := func() {
		defer wg.Done()
		_ = p.Run(context.Background(), func(context.Context) error {
			once.Do(func() { close(started) })
			<-release
			return nil
		})
	}
	wg.Add(2)
	go run()
	<-started
	go run()
	for deadline := time.Now().Add(5 * time.Second); bh.Queued() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bulkhead queued = %d after 5s, want 1", bh.Queued())
		}
	}

	active := gauges(t, r.metric(t, telemetry.MetricBulkheadActive))
	queued := gauges(t, r.metric(t, telemetry.MetricBulkheadQueued))
	close(release)
	wg.Wait()
	if active["resilience.policy.name=db"] != 1 || len(active) != 1 {
		t.Errorf("%s = %v, want db: 1", telemetry.MetricBulkheadActive, active)
	}
	if queued["resilience.policy.name=db"] != 1 || len(queued) != 1 {
		t.Errorf("%s = %v, want db: 1", telemetry.MetricBulkheadQueued, queued)
	}
	if got := gauges(t, r.metric(t, telemetry.MetricBulkheadQueued)); got["resilience.policy.name=db"] != 0 {
		t.Errorf("after the calls, %s = %v, want db: 0", telemetry.MetricBulkheadQueued, got)
	}
}

// Close stops the gauges, and may be called twice.
func TestCloseStopsGauges(t *testing.T) {
	b := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Name: "b"}))
	r := newRig(t, telemetry.Options{Breakers: []*resilience.Breaker{b}})
	if _, ok := r.find(t, telemetry.MetricBreakerState); !ok {
		t.Fatal("no breaker gauge before Close")
	}
	for i := range 2 {
		if err := r.tel.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if m, ok := r.find(t, telemetry.MetricBreakerState); ok && len(gauges(t, m)) > 0 {
		t.Errorf("breaker gauge reported after Close: %v", gauges(t, m))
	}
}

func TestNewRejectsNil(t *testing.T) {
	for _, tt := range []struct {
		opts telemetry.Options
		want string
	}{
		{telemetry.Options{Breakers: []*resilience.Breaker{nil}}, "telemetry: Options.Breakers[0]: is nil"},
		{telemetry.Options{BreakerSources: []telemetry.BreakerSource{nil}}, "telemetry: Options.BreakerSources[0]: is nil"},
		{telemetry.Options{Bulkheads: []*resilience.Bulkhead{nil}}, "telemetry: Options.Bulkheads[0]: is nil"},
	} {
		if _, err := telemetry.New(tt.opts); err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

// Every event but an attempt becomes an event of the span in ctx.
func TestObserveSpanEvents(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	ctx, span := r.tp.Tracer("test").Start(context.Background(), "call")
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventAttempt, Pipeline: "p", Policy: "retry", Attempt: 1, Err: errors.New("x")})
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventRetry, Pipeline: "p", Policy: "retry", Attempt: 2, Delay: 250 * time.Millisecond, Err: errors.New("x")})
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventRejected, Pipeline: "p", Policy: "b", Err: &resilience.BreakerOpenError{Breaker: "b"}})
	r.tel.Observe(ctx, resilience.Event{Kind: resilience.EventBreakerStateChange, Policy: "b", From: resilience.StateOpen, To: resilience.StateHalfOpen})
	span.End()
	// Outside a recording span nothing is added, and nothing fails.
	r.tel.Observe(trace.ContextWithSpan(context.Background(), span), resilience.Event{Kind: resilience.EventRetry, Policy: "late"})

	ended := r.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	var got []string
	for _, ev := range ended[0].Events() {
		got = append(got, ev.Name+" "+kvs(ev.Attributes))
	}
	want := []string{
		"resilience.retry error.type=_OTHER,resilience.attempt.number=2,resilience.pipeline.name=p,resilience.policy.name=retry,resilience.retry.delay=0.25",
		"resilience.rejected error.type=*resilience.BreakerOpenError,resilience.pipeline.name=p,resilience.policy.name=b",
		"resilience.breaker_state_change resilience.breaker.state=half-open,resilience.breaker.state.from=open,resilience.policy.name=b",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("span events:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// A nil *Telemetry records nothing and does not panic.
func TestNilTelemetry(t *testing.T) {
	var tel *telemetry.Telemetry
	ctx := context.Background()
	tel.Observe(ctx, resilience.Event{Kind: resilience.EventRetry})
	tel.RecordPublish(ctx, telemetry.Destination{}, 1, time.Second, nil)
	tel.RecordProcess(ctx, telemetry.Destination{}, time.Second, nil)
	tel.RecordDeadLetter(ctx, telemetry.Destination{}, "x")
	ctx2, op := tel.StartPublish(ctx, telemetry.Destination{}, "")
	op.End(ctx2, nil)
	ctx2, op = tel.StartProcess(ctx, telemetry.Destination{}, telemetry.Message{})
	op.End(ctx2, errors.New("x"))
	if err := tel.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// A source added after New is reported from the next collection on.
func TestAddBreakerSource(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	if err := r.tel.AddBreakerSource(nil); err == nil {
		t.Fatal("AddBreakerSource(nil) = nil, want an error")
	}
	late := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Name: "late"}))
	var reg resilience.Registry
	if err := reg.Register(resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "late"}, late))); err != nil {
		t.Fatal(err)
	}
	if err := r.tel.AddBreakerSource(&reg); err != nil {
		t.Fatal(err)
	}
	late.Isolate()
	got := gauges(t, r.metric(t, telemetry.MetricBreakerState))
	if got["resilience.policy.name=late"] != 3 {
		t.Errorf("resilience.breaker.state = %v, want late: 3 (isolated)", got)
	}
}
