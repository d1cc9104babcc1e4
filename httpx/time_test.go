package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// The tests of this file run in a synctest bubble, over handlerTransport: time is
// fake, waits are exact, and nothing sleeps.

// retryAfterThenOK answers 503 with the Retry-After value the first time, 200 after.
func retryAfterThenOK(value func() string, count *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) == 1 {
			w.Header().Set("Retry-After", value())
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	cases := []struct {
		name   string
		value  func() string
		cap    time.Duration
		wait   time.Duration
		status int
		sent   int64
	}{
		{"seconds", func() string { return "2" }, 0, 2 * time.Second, 200, 2},
		{"HTTP-date", func() string { return time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat) }, 0, 3 * time.Second, 200, 2},
		{"date in the past", func() string { return time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat) }, 0, 0, 200, 2},
		{"capped", func() string { return "3600" }, 5 * time.Second, 5 * time.Second, 200, 2},
		{"invalid: backoff", func() string { return "soon" }, 0, 100 * time.Millisecond, 200, 2},
		// The total timeout is 30s: a wait that would end after it is not waited.
		{"beyond the deadline", func() string { return "120" }, time.Hour, 0, 503, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var count atomic.Int64
				c := newTransport(t, httpx.Options{
					Base: handlerTransport{retryAfterThenOK(tc.value, &count)},
					Retry: httpx.RetryOptions{
						Backoff:       resilience.Backoff{Base: 100 * time.Millisecond, Jitter: resilience.JitterNone},
						MaxRetryAfter: tc.cap,
					},
				}).Client()
				start := time.Now()
				resp, _, err := get(t, c, t.Context(), "http://api.example.com/x")
				if err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != tc.wait {
					t.Errorf("the call took %s, want %s", got, tc.wait)
				}
				if resp.StatusCode != tc.status || count.Load() != tc.sent {
					t.Errorf("status %d after %d request(s), want %d after %d", resp.StatusCode, count.Load(), tc.status, tc.sent)
				}
			})
		})
	}
}

func TestRetryAfterBeyondTheDeadlineReturnsAtOnceAsAStatusError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var count atomic.Int64
		h := retryAfterThenOK(func() string { return "120" }, &count)
		tr := newTransport(t, httpx.Options{
			Base:         handlerTransport{h},
			TotalTimeout: 10 * time.Second, AttemptTimeout: 2 * time.Second,
			Retry: httpx.RetryOptions{MaxRetryAfter: time.Hour},
		})
		c := &httpx.Client{HTTP: tr.Client(), BaseURL: mustParse(t, "http://api.example.com")}
		start := time.Now()
		_, err := httpx.GetJSON[map[string]any](t.Context(), c, "/x", nil)
		if d := time.Since(start); d != 0 {
			t.Errorf("the call took %s, want no wait at all", d)
		}
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.StatusCode != 503 || se.RetryAfter != 120*time.Second {
			t.Fatalf("err = %v, want a 503 StatusError with RetryAfter 2m", err)
		}
	})
}

// stall answers after an hour, or when the request's context ends; the first n
// requests only, then at once.
func stall(n int64, count *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) <= n {
			select {
			case <-time.After(time.Hour):
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var count atomic.Int64
		c := newTransport(t, httpx.Options{
			Base:           handlerTransport{stall(2, &count)},
			AttemptTimeout: time.Second,
			Retry:          httpx.RetryOptions{Backoff: resilience.Backoff{Base: 100 * time.Millisecond, Jitter: resilience.JitterNone}},
		}).Client()
		start := time.Now()
		resp, body, err := get(t, c, t.Context(), "http://api.example.com/x")
		if err != nil || resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("GET = %v, %q, %v", resp, body, err)
		}
		// 1s, 100ms, 1s, 200ms, then the answer.
		if got, want := time.Since(start), 2300*time.Millisecond; got != want {
			t.Errorf("took %s, want %s", got, want)
		}
	})
}

func TestTotalTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var count atomic.Int64
		c := newTransport(t, httpx.Options{
			Base:           handlerTransport{stall(100, &count)},
			TotalTimeout:   10 * time.Second,
			AttemptTimeout: 8 * time.Second,
			Retry:          httpx.RetryOptions{Backoff: resilience.Backoff{Kind: resilience.BackoffConstant, Base: time.Second}},
			Breaker:        httpx.BreakerOptions{Policy: resilience.BreakerOptions{SamplingWindow: time.Minute}},
		}).Client()
		start := time.Now()
		_, _, err := get(t, c, t.Context(), "http://api.example.com/x")
		// Attempt 1 times out at 8s, waits 1s, attempt 2 is cut at 10s by the total.
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("took %s, want 10s", got)
		}
		var te *resilience.TimeoutError
		if !errors.As(err, &te) || te.Policy != "test/total-timeout" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the total timeout", err)
		}
		if n := count.Load(); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
	})
}

func TestNoRetryWhenTheNextWaitPassesTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var count atomic.Int64
		c := newTransport(t, httpx.Options{
			Base:           handlerTransport{stall(100, &count)},
			TotalTimeout:   10 * time.Second,
			AttemptTimeout: 4 * time.Second,
			Retry:          httpx.RetryOptions{Backoff: resilience.Backoff{Kind: resilience.BackoffConstant, Base: time.Second}},
		}).Client()
		start := time.Now()
		_, _, err := get(t, c, t.Context(), "http://api.example.com/x")
		// 0-4s, wait, 5-9s; a wait of 1s would end at the deadline: give up at 9s.
		if got := time.Since(start); got != 9*time.Second {
			t.Errorf("took %s, want 9s", got)
		}
		if !errors.Is(err, resilience.ErrRetriesExhausted) || !errors.Is(err, resilience.ErrTimeout) {
			t.Errorf("err = %v, want retries exhausted on the attempt timeout", err)
		}
	})
}

func TestCallerDeadlineBeforeTotalTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var count atomic.Int64
		c := newTransport(t, httpx.Options{Base: handlerTransport{stall(100, &count)}}).Client()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, _, err := get(t, c, ctx, "http://api.example.com/x")
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("took %s, want the caller's 3s", got)
		}
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, resilience.ErrTimeout) {
			t.Errorf("err = %v, want the caller's own deadline, not a timeout of the pipeline", err)
		}
	})
}

func TestBreakerHalfOpensAfterItsBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fail atomic.Bool
		fail.Store(true)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(500)
			}
		})
		c := newTransport(t, httpx.Options{
			Base:  handlerTransport{h},
			Retry: httpx.RetryOptions{Disabled: true},
			Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
				Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 2, BreakDuration: 5 * time.Second,
			}},
		}).Client()
		call := func() error {
			_, _, err := get(t, c, t.Context(), "http://api.example.com/x")
			return err
		}
		_, _ = call(), call()
		if err := call(); !errors.Is(err, resilience.ErrBreakerOpen) {
			t.Fatalf("after 2 failures: err = %v, want ErrBreakerOpen", err)
		}
		fail.Store(false)
		time.Sleep(5 * time.Second)
		for i := range 3 {
			if err := call(); err != nil {
				t.Fatalf("call %d after the break: %v", i, err)
			}
		}
	})
}

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
