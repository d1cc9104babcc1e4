package resilience

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// tracePolicy returns a custom policy that appends "name>" before and "<name" after
// the rest of the pipeline runs.
func tracePolicy(t *testing.T, name string, log *[]string) *Custom {
	t.Helper()
	p, err := NewCustom(name, func(ctx context.Context, next func(context.Context) error) error {
		*log = append(*log, name+">")
		err := next(ctx)
		*log = append(*log, "<"+name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPipelineRunsPoliciesOutermostFirst(t *testing.T) {
	var log []string
	p, err := NewPipeline(PipelineOptions{Name: "order"},
		tracePolicy(t, "a", &log), tracePolicy(t, "b", &log), tracePolicy(t, "c", &log))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Do(context.Background(), p, func(context.Context) (int, error) {
		log = append(log, "fn")
		return 42, nil
	})
	if got != 42 || err != nil {
		t.Fatalf("Do = %d, %v; want 42, nil", got, err)
	}
	want := []string{"a>", "b>", "c>", "fn", "<c", "<b", "<a"}
	if !reflect.DeepEqual(log, want) {
		t.Fatalf("order = %v, want %v", log, want)
	}
}

func TestPipelinePassesValueAndErrorThrough(t *testing.T) {
	boom := errors.New("boom")
	var log []string
	p := Must(NewPipeline(PipelineOptions{}, tracePolicy(t, "x", &log)))
	v, err := Do(context.Background(), p, func(context.Context) (string, error) { return "partial", boom })
	if v != "partial" || !errors.Is(err, boom) {
		t.Fatalf("Do = %q, %v; want %q, %v", v, err, "partial", boom)
	}
	if p.Name() != "default" {
		t.Fatalf("Name() = %q, want %q", p.Name(), "default")
	}
}

func TestPipelineRun(t *testing.T) {
	p := Must(NewPipeline(PipelineOptions{Name: "run"}))
	calls := 0
	if err := p.Run(context.Background(), func(context.Context) error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("Run = %v after %d calls; want nil after 1", err, calls)
	}
	boom := errors.New("boom")
	if err := p.Run(context.Background(), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

func TestNilPipelineRunsFunction(t *testing.T) {
	v, err := Do(context.Background(), nil, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Do(nil pipeline) = %d, %v; want 7, nil", v, err)
	}
}

func TestNewPipelineRejectsNilPolicy(t *testing.T) {
	var r *Retry
	tests := []struct {
		name     string
		policies []Policy
	}{
		{"untyped nil", []Policy{nil}},
		{"typed nil", []Policy{r}},
	}
	for _, tt := range tests {
		_, err := NewPipeline(PipelineOptions{Name: "p"}, tt.policies...)
		if err == nil || !strings.Contains(err.Error(), "policy 0 is nil") {
			t.Errorf("%s: NewPipeline = %v, want an error naming policy 0", tt.name, err)
		}
	}
}

func TestPoliciesReturnsACopy(t *testing.T) {
	var log []string
	a := tracePolicy(t, "a", &log)
	p := Must(NewPipeline(PipelineOptions{}, a))
	got := p.Policies()
	got[0] = nil
	if p.Policies()[0] != Policy(a) {
		t.Fatal("changing the slice from Policies() changed the pipeline")
	}
}

func TestNewCustomRejectsNilFunc(t *testing.T) {
	if _, err := NewCustom("x", nil); err == nil {
		t.Fatal("NewCustom(nil) = nil error, want an error")
	}
}

func TestEmitAddsPipelineAndPolicyNames(t *testing.T) {
	var got []Event
	obs := ObserverFunc(func(_ context.Context, e Event) { got = append(got, e) })
	var log []string
	pol := tracePolicy(t, "tracer", &log)
	p := Must(NewPipeline(PipelineOptions{Name: "payments", Observer: obs}, pol))
	c := chain[int]{p: p}
	if !c.observed() {
		t.Fatal("observed() = false with an observer")
	}
	c.emit(context.Background(), pol, Event{Kind: EventRetry, Attempt: 2})
	want := []Event{{Kind: EventRetry, Pipeline: "payments", Policy: "tracer", Attempt: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %+v, want %+v", got, want)
	}
	quiet := chain[int]{p: Must(NewPipeline(PipelineOptions{}))}
	if quiet.observed() {
		t.Fatal("observed() = true without an observer")
	}
	quiet.emit(context.Background(), pol, Event{Kind: EventRetry}) // must not panic
}

func TestObserversFansOutAndSkipsNil(t *testing.T) {
	var a, b int
	oa := ObserverFunc(func(context.Context, Event) { a++ })
	ob := ObserverFunc(func(context.Context, Event) { b++ })
	if Observers() != nil || Observers(nil, nil) != nil {
		t.Fatal("Observers of nothing is not nil")
	}
	if o := Observers(nil, oa); o == nil {
		t.Fatal("Observers(nil, oa) = nil")
	} else {
		o.Observe(context.Background(), Event{})
	}
	Observers(oa, nil, ob).Observe(context.Background(), Event{})
	if a != 2 || b != 1 {
		t.Fatalf("calls = %d, %d; want 2, 1", a, b)
	}
}

func TestEventKindString(t *testing.T) {
	tests := []struct {
		k    EventKind
		want string
	}{
		{EventAttempt, "attempt"}, {EventRetry, "retry"}, {EventRetriesExhausted, "retries_exhausted"},
		{EventBreakerStateChange, "breaker_state_change"}, {EventRejected, "rejected"},
		{EventTimeout, "timeout"}, {EventHedge, "hedge"}, {EventFallback, "fallback"},
		{EventChaos, "chaos"}, {0, "unknown"}, {200, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("EventKind(%d).String() = %q, want %q", tt.k, got, tt.want)
		}
	}
}

func staticOK(context.Context) (int, error) { return 1, nil }

func TestEmptyPipelineDoesNotAllocate(t *testing.T) {
	p := Must(NewPipeline(PipelineOptions{Name: "empty"}))
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { _, _ = Do(ctx, p, staticOK) }); n != 0 {
		t.Fatalf("Do through an empty pipeline allocates %.1f times per call, want 0", n)
	}
}

func TestMustPanicsOnError(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Must did not panic on an error")
		}
	}()
	Must(NewCustom("x", nil))
}
