package resilience

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestPermanent(t *testing.T) {
	boom := errors.New("boom")
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	p := Permanent(boom)
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"plain", boom, false},
		{"permanent", p, true},
		{"wrapped permanent", fmt.Errorf("charge: %w", p), true},
		{"joined", errors.Join(errors.New("other"), p), true},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !errors.Is(p, boom) || p.Error() != "boom" {
		t.Fatalf("Permanent(boom) = %q, unwraps to boom: %v", p.Error(), errors.Is(p, boom))
	}
}

type hinted struct{ d time.Duration }

func (h hinted) Error() string             { return "hinted" }
func (h hinted) RetryAfter() time.Duration { return h.d }

func TestRetryAfterHint(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"nil", nil, 0, false},
		{"plain", boom, 0, false},
		{"RetryAfterError", &RetryAfterError{Err: boom, After: 3 * time.Second}, 3 * time.Second, true},
		{"wrapped", fmt.Errorf("call: %w", &RetryAfterError{Err: boom, After: time.Second}), time.Second, true},
		{"own method", hinted{2 * time.Second}, 2 * time.Second, true},
		{"joined", errors.Join(boom, hinted{5 * time.Second}), 5 * time.Second, true},
		{"joined without hint", errors.Join(boom, errors.New("x")), 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfterHint(tt.err)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("retryAfterHint(%s) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
	rae := &RetryAfterError{Err: boom, After: time.Second}
	if rae.Error() != "boom" || !errors.Is(rae, boom) {
		t.Fatalf("RetryAfterError = %q, Is(boom) = %v", rae.Error(), errors.Is(rae, boom))
	}
}

func TestErrorTypesMatchTheirSentinels(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		err      error
		sentinel error
		text     string
	}{
		{&BreakerOpenError{Breaker: "payments", State: StateOpen, RetryIn: 2 * time.Second}, ErrBreakerOpen,
			`resilience: circuit breaker "payments" is open (half-opens in 2s)`},
		{&BreakerOpenError{Breaker: "payments", State: StateIsolated}, ErrBreakerOpen,
			`resilience: circuit breaker "payments" is isolated`},
		{&RateLimitedError{Limiter: "api", RetryAfter: 100 * time.Millisecond}, ErrRateLimited,
			`resilience: rate limited by "api", retry after 100ms`},
		{&TimeoutError{Policy: "attempt-timeout", Timeout: time.Second}, ErrTimeout,
			`resilience: attempt-timeout timed out after 1s`},
		{&RetriesExhaustedError{Attempts: 3, Reason: "max attempts", Err: boom}, ErrRetriesExhausted,
			`resilience: gave up after 3 attempt(s) (max attempts): boom`},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.sentinel) {
			t.Errorf("errors.Is(%T, %v) = false, want true", tt.err, tt.sentinel)
		}
		if got := tt.err.Error(); got != tt.text {
			t.Errorf("%T.Error() = %q, want %q", tt.err, got, tt.text)
		}
	}
	te := &TimeoutError{Policy: "t", Timeout: time.Second, Err: boom}
	if !errors.Is(te, context.DeadlineExceeded) || !errors.Is(te, boom) {
		t.Fatal("TimeoutError does not match DeadlineExceeded and its cause")
	}
	if !errors.Is(&RetriesExhaustedError{Err: boom}, boom) {
		t.Fatal("RetriesExhaustedError does not unwrap to the last error")
	}
	if errors.Is(&BreakerOpenError{}, ErrTimeout) {
		t.Fatal("BreakerOpenError matches ErrTimeout")
	}
}
