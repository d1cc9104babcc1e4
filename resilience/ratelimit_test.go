package resilience

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func newRateLimiterPipeline(t *testing.T, opts RateLimiterOptions, obs Observer) (*Pipeline, *RateLimiter) {
	t.Helper()
	l, err := NewRateLimiter(opts)
	if err != nil {
		t.Fatalf("NewRateLimiter(%+v) = %v", opts, err)
	}
	p, err := NewPipeline(PipelineOptions{Name: "test", Observer: obs}, l)
	if err != nil {
		t.Fatal(err)
	}
	return p, l
}

func rateLimiterStaticOK(context.Context) (int, error) { return 1, nil }

// rateLimiterRetryAfter returns the RetryAfter of a *RateLimitedError, or -1.
func rateLimiterRetryAfter(err error) time.Duration {
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		return -1
	}
	return rl.RetryAfter
}

func TestRateLimiterOptions(t *testing.T) {
	tests := []struct {
		opts      RateLimiterOptions
		wantName  string
		wantBurst int
		wantErr   string // a prefix of the error
	}{
		{RateLimiterOptions{Rate: 10}, "rate-limiter", 10, ""},
		{RateLimiterOptions{Name: "api", Rate: 2.5}, "api", 3, ""},
		{RateLimiterOptions{Rate: 0.1}, "rate-limiter", 1, ""},
		{RateLimiterOptions{Rate: 5, Burst: 20}, "rate-limiter", 20, ""},
		{RateLimiterOptions{}, "", 0, "resilience: RateLimiterOptions.Rate: must be a finite number > 0, got 0"},
		{RateLimiterOptions{Rate: -1}, "", 0, "resilience: RateLimiterOptions.Rate: must be a finite number > 0, got -1"},
		{RateLimiterOptions{Rate: math.NaN()}, "", 0, "resilience: RateLimiterOptions.Rate: "},
		{RateLimiterOptions{Rate: math.Inf(1)}, "", 0, "resilience: RateLimiterOptions.Rate: "},
		{RateLimiterOptions{Rate: 1, Burst: -1}, "", 0, "resilience: RateLimiterOptions.Burst: must be ≥ 0, got -1"},
		{RateLimiterOptions{Rate: 1, MaxWait: -time.Second}, "", 0, "resilience: RateLimiterOptions.MaxWait: must be ≥ 0, got -1s"},
	}
	for _, tt := range tests {
		l, err := NewRateLimiter(tt.opts)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("NewRateLimiter(%+v) error = %v, want %q...", tt.opts, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewRateLimiter(%+v) = %v, want no error", tt.opts, err)
			continue
		}
		if l.Name() != tt.wantName || l.lim.Burst() != tt.wantBurst {
			t.Errorf("NewRateLimiter(%+v) = (%q, burst %d), want (%q, burst %d)", tt.opts, l.Name(), l.lim.Burst(), tt.wantName, tt.wantBurst)
		}
	}
}

func TestRateLimiterRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		p, l := newRateLimiterPipeline(t, RateLimiterOptions{Name: "api", Rate: 10, Burst: 1}, &obs)
		ctx := context.Background()
		if v, err := Do(ctx, p, rateLimiterStaticOK); v != 1 || err != nil {
			t.Fatalf("first Do = %d, %v, want 1, nil", v, err)
		}
		calls := 0
		_, err := Do(ctx, p, func(context.Context) (int, error) { calls++; return 0, nil })
		if !errors.Is(err, ErrRateLimited) || calls != 0 {
			t.Errorf("second Do = %v after %d calls, want ErrRateLimited without calling", err, calls)
		}
		if got := rateLimiterRetryAfter(err); got != 100*time.Millisecond {
			t.Errorf("RetryAfter = %s, want 100ms", got)
		}
		var rl *RateLimitedError
		if errors.As(err, &rl) && rl.Limiter != "api" {
			t.Errorf("RateLimitedError.Limiter = %q, want api", rl.Limiter)
		}
		if evs := obs.list(); len(evs) != 1 || evs[0].Kind != EventRejected || evs[0].Policy != "api" || !errors.Is(evs[0].Err, ErrRateLimited) {
			t.Errorf("events = %+v, want one EventRejected from api", evs)
		}
		// The rejection gave its reservation back: a call 40ms later is told 60ms, not
		// 160ms.
		time.Sleep(40 * time.Millisecond)
		_, err = Do(ctx, p, rateLimiterStaticOK)
		if got := rateLimiterRetryAfter(err); got != 60*time.Millisecond {
			t.Errorf("RetryAfter 40ms later = %s, want 60ms", got)
		}
		time.Sleep(60 * time.Millisecond)
		if v, err := Do(ctx, p, rateLimiterStaticOK); v != 1 || err != nil {
			t.Errorf("Do after RetryAfter = %d, %v, want 1, nil", v, err)
		}
		if got := l.Tokens(); got != 0 {
			t.Errorf("Tokens() = %v, want 0", got)
		}
	})
}

func TestRateLimiterWaits(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name      string
		maxWait   time.Duration
		deadline  time.Duration // 0 means none
		wantAfter time.Duration
		wantRetry time.Duration // RetryAfter of the rejection; 0 means the call runs
	}{
		{name: "no bound", wantAfter: 500 * time.Millisecond},
		{name: "within MaxWait", maxWait: 500 * time.Millisecond, wantAfter: 500 * time.Millisecond},
		{name: "beyond MaxWait", maxWait: 499 * time.Millisecond, wantRetry: 500 * time.Millisecond},
		{name: "within deadline", deadline: 501 * time.Millisecond, wantAfter: 500 * time.Millisecond},
		{name: "beyond deadline", deadline: 300 * time.Millisecond, wantRetry: 500 * time.Millisecond},
		{name: "at deadline", deadline: 500 * time.Millisecond, wantRetry: 500 * time.Millisecond},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			p, _ := newRateLimiterPipeline(t, RateLimiterOptions{Rate: 2, Burst: 1, Wait: true, MaxWait: tt.maxWait}, nil)
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			if _, err := Do(ctx, p, rateLimiterStaticOK); err != nil {
				t.Fatalf("%s: first Do = %v, want nil", tt.name, err)
			}
			start := time.Now()
			v, err := Do(ctx, p, rateLimiterStaticOK)
			got := time.Since(start)
			if tt.wantRetry == 0 {
				if v != 1 || err != nil || got != tt.wantAfter {
					t.Errorf("%s: Do = %d, %v after %s, want 1, nil after %s", tt.name, v, err, got, tt.wantAfter)
				}
				return
			}
			if ra := rateLimiterRetryAfter(err); ra != tt.wantRetry || got != 0 {
				t.Errorf("%s: Do = %v (RetryAfter %s) after %s, want ErrRateLimited (RetryAfter %s) at once", tt.name, err, ra, got, tt.wantRetry)
			}
		})
	}
}

func TestRateLimiterCancelWhileWaiting(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p, l := newRateLimiterPipeline(t, RateLimiterOptions{Rate: 1, Burst: 1, Wait: true}, nil)
		if _, err := Do(context.Background(), p, rateLimiterStaticOK); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := Do(ctx, p, rateLimiterStaticOK)
		if got := time.Since(start); err != context.Canceled || got != 200*time.Millisecond {
			t.Errorf("Do cancelled while waiting = %v after %s, want context.Canceled after 200ms", err, got)
		}
		// The permit it had reserved was given back.
		if got := l.Tokens(); math.Abs(got-0.2) > 1e-9 {
			t.Errorf("Tokens() after the cancelled wait = %v, want 0.2", got)
		}
	})
}

func TestRateLimiterUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, l := newRateLimiterPipeline(t, RateLimiterOptions{Rate: 10, Burst: 1}, nil)
		ctx := context.Background()
		if err := l.Update(RateLimiterOptions{Rate: 0}); err == nil || !strings.Contains(err.Error(), "RateLimiterOptions.Rate") {
			t.Errorf("Update(Rate: 0) = %v, want an error naming RateLimiterOptions.Rate", err)
		}
		if err := l.Update(RateLimiterOptions{Name: "ignored", Rate: 1}); err != nil {
			t.Fatalf("Update(Rate: 1) = %v, want nil", err)
		}
		if l.Name() != "rate-limiter" || l.lim.Burst() != 1 || l.lim.Limit() != 1 {
			t.Errorf("after Update: name %q, burst %d, limit %v, want rate-limiter, 1, 1", l.Name(), l.lim.Burst(), l.lim.Limit())
		}
		if _, err := Do(ctx, p, rateLimiterStaticOK); err != nil {
			t.Fatal(err)
		}
		_, err := Do(ctx, p, rateLimiterStaticOK)
		if got := rateLimiterRetryAfter(err); got != time.Second {
			t.Errorf("RetryAfter after Update(Rate: 1) = %s, want 1s", got)
		}
		// Switching to waiting mode takes effect too.
		if err := l.Update(RateLimiterOptions{Rate: 1, Wait: true}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := Do(ctx, p, rateLimiterStaticOK); err != nil || time.Since(start) != time.Second {
			t.Errorf("Do after Update(Wait: true) = %v after %s, want nil after 1s", err, time.Since(start))
		}
	})
}

func TestRateLimiterAllocs(t *testing.T) {
	p, _ := newRateLimiterPipeline(t, RateLimiterOptions{Rate: 1e9, Burst: 1e6}, nil)
	ctx := context.Background()
	got := testing.AllocsPerRun(1000, func() {
		if _, err := Do(ctx, p, rateLimiterStaticOK); err != nil {
			t.Fatal(err)
		}
	})
	if got != 0 {
		t.Errorf("Do through a RateLimiter with a permit allocates %v times, want 0", got)
	}
}
