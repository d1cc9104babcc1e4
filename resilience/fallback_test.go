package resilience

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func fallbackStaticOK(context.Context) (int, error) { return 1, nil }

func TestFallbackOptions(t *testing.T) {
	if _, err := NewFallback(FallbackOptions{}); err == nil || !strings.HasPrefix(err.Error(), "resilience: FallbackOptions.Fallback: ") {
		t.Errorf("NewFallback(no Fallback) = %v, want an error naming FallbackOptions.Fallback", err)
	}
	f, err := NewFallback(FallbackOptions{Fallback: func(context.Context, Outcome) (any, error) { return nil, nil }})
	if err != nil || f.Name() != "fallback" {
		t.Errorf("NewFallback(zero name) = %v, %v, want name fallback", f, err)
	}
}

// fallbackStringer is a fmt.Stringer for the interface-typed cases.
type fallbackStringer string

func (s fallbackStringer) String() string { return string(s) }

func TestFallbackReplacesHandledOutcomes(t *testing.T) {
	errCall := errors.New("call failed")
	errAlt := errors.New("alternative failed")
	value := func(v any, err error) func(context.Context, Outcome) (any, error) {
		return func(context.Context, Outcome) (any, error) { return v, err }
	}
	tests := []struct {
		name         string
		callV        int
		callErr      error
		shouldHandle func(Outcome) bool
		fallback     func(context.Context, Outcome) (any, error)
		wantV        int
		wantErr      error // compared with errors.Is; nil means no error
		wantReplaced bool
	}{
		{name: "success passes", callV: 1, fallback: value(7, nil), wantV: 1},
		{name: "error replaced by value", callErr: errCall, fallback: value(7, nil), wantV: 7, wantReplaced: true},
		{name: "error replaced by error", callErr: errCall, fallback: value(nil, errAlt), wantErr: errAlt, wantReplaced: true},
		{name: "value and error", callErr: errCall, fallback: value(7, errAlt), wantV: 7, wantErr: errAlt, wantReplaced: true},
		{name: "nil value is zero", callV: 3, callErr: errCall, fallback: value(nil, nil), wantV: 0, wantReplaced: true},
		{name: "cancellation passes", callErr: context.Canceled, fallback: value(7, nil), wantErr: context.Canceled},
		{name: "wrapped cancellation passes", callErr: fmt.Errorf("op: %w", context.Canceled), fallback: value(7, nil), wantErr: context.Canceled},
		{name: "deadline replaced", callErr: context.DeadlineExceeded, fallback: value(7, nil), wantV: 7, wantReplaced: true},
		{name: "timeout replaced", callErr: &TimeoutError{Policy: "t", Timeout: time.Second}, fallback: value(7, nil), wantV: 7, wantReplaced: true},
		{name: "rejection replaced", callErr: ErrBulkheadFull, fallback: value(7, nil), wantV: 7, wantReplaced: true},
		{
			name: "ShouldHandle on value", callV: -1,
			shouldHandle: func(o Outcome) bool { return o.Value.(int) < 0 },
			fallback:     value(7, nil), wantV: 7, wantReplaced: true,
		},
		{
			name: "ShouldHandle declines error", callErr: errCall,
			shouldHandle: func(o Outcome) bool { return !errors.Is(o.Err, errCall) },
			fallback:     value(7, nil), wantErr: errCall,
		},
		{
			name: "fallback sees the outcome", callV: 5, callErr: errCall,
			fallback: func(_ context.Context, o Outcome) (any, error) {
				if o.Value != 5 || o.Err != errCall {
					return nil, fmt.Errorf("outcome = %+v", o)
				}
				return 6, nil
			},
			wantV: 6, wantReplaced: true,
		},
	}
	for _, tt := range tests {
		var obs policyEvents
		f := Must(NewFallback(FallbackOptions{Name: "fb", ShouldHandle: tt.shouldHandle, Fallback: tt.fallback}))
		p := Must(NewPipeline(PipelineOptions{Observer: &obs}, f))
		v, err := Do(context.Background(), p, func(context.Context) (int, error) { return tt.callV, tt.callErr })
		if v != tt.wantV {
			t.Errorf("%s: Do value = %d, want %d", tt.name, v, tt.wantV)
		}
		if (tt.wantErr == nil && err != nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Errorf("%s: Do error = %v, want %v", tt.name, err, tt.wantErr)
		}
		evs := obs.list()
		if got := len(evs) == 1 && evs[0].Kind == EventFallback && evs[0].Policy == "fb" && evs[0].Err == tt.callErr; got != tt.wantReplaced {
			t.Errorf("%s: EventFallback reported = %t (%+v), want %t", tt.name, got, evs, tt.wantReplaced)
		}
	}
}

func TestFallbackTypeMismatch(t *testing.T) {
	f := Must(NewFallback(FallbackOptions{Name: "fb", Fallback: func(context.Context, Outcome) (any, error) {
		return "cached", nil
	}}))
	p := Must(NewPipeline(PipelineOptions{}, f))
	v, err := Do(context.Background(), p, func(context.Context) (int, error) { return 3, errors.New("boom") })
	if v != 0 || err == nil || !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "int") {
		t.Errorf("Do with a string fallback for an int call = %d, %v, want 0 and an error naming string and int", v, err)
	}

	// An interface-typed call takes any value that implements the interface.
	f = Must(NewFallback(FallbackOptions{Fallback: func(context.Context, Outcome) (any, error) {
		return fallbackStringer("cached"), nil
	}}))
	p = Must(NewPipeline(PipelineOptions{}, f))
	s, err := Do(context.Background(), p, func(context.Context) (fmt.Stringer, error) { return nil, errors.New("boom") })
	if err != nil || s == nil || s.String() != "cached" {
		t.Errorf("Do with a Stringer fallback for a fmt.Stringer call = %v, %v, want cached, nil", s, err)
	}
	_, err = Do(context.Background(), p, func(context.Context) (error, error) { return nil, errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "resilience.fallbackStringer") || !strings.Contains(err.Error(), "error") {
		t.Errorf("Do with a Stringer fallback for an error call = %v, want an error naming both types", err)
	}
}

func TestFallbackAllocs(t *testing.T) {
	f := Must(NewFallback(FallbackOptions{Fallback: func(context.Context, Outcome) (any, error) { return 7, nil }}))
	p := Must(NewPipeline(PipelineOptions{}, f))
	ctx := context.Background()
	got := testing.AllocsPerRun(1000, func() {
		if _, err := Do(ctx, p, fallbackStaticOK); err != nil {
			t.Fatal(err)
		}
	})
	if got != 0 {
		t.Errorf("Do through a Fallback on success allocates %v times, want 0", got)
	}
}

// TestFallbackAroundTimeout checks the usual composition: a fallback outside a timeout
// replaces the timeout's error, and only that.
func TestFallbackAroundTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var replaced error
		f := Must(NewFallback(FallbackOptions{Fallback: func(_ context.Context, o Outcome) (any, error) {
			replaced = o.Err
			return -1, nil
		}}))
		to := Must(NewTimeout(TimeoutOptions{Timeout: time.Second}))
		p := Must(NewPipeline(PipelineOptions{}, f, to))
		start := time.Now()
		v, err := Do(context.Background(), p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if v != -1 || err != nil || time.Since(start) != time.Second || !errors.Is(replaced, ErrTimeout) {
			t.Errorf("Do = %d, %v after %s, replacing %v; want -1, nil after 1s, replacing a timeout", v, err, time.Since(start), replaced)
		}
	})
}
