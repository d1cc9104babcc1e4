package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	fsbreaker "github.com/failsafe-go/failsafe-go/circuitbreaker"
	fsretry "github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"

	"github.com/rampart-go/rampart/resilience"
)

// The same configuration for every library: 3 attempts with exponential backoff,
// a breaker that opens at 50% failures over at least 10 calls in 30s and stays open
// 5s, a 30s total timeout, a 10s attempt timeout and a bulkhead of 100.

func work(context.Context) (int, error) { return 1, nil }
func fsWork() (int, error)              { return 1, nil }

var errBoom = errors.New("boom")

func rampartRetry() *resilience.Retry {
	return resilience.Must(resilience.NewRetry(resilience.RetryOptions{
		MaxAttempts: 3,
		Backoff:     resilience.Backoff{Base: 10 * time.Millisecond, Max: time.Second},
	}))
}

func rampartBreaker() *resilience.Breaker {
	return resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{
		FailureRatio: 0.5, MinThroughput: 10, SamplingWindow: 30 * time.Second, BreakDuration: 5 * time.Second,
	}))
}

func rampartTimeout(d time.Duration) *resilience.Timeout {
	return resilience.Must(resilience.NewTimeout(resilience.TimeoutOptions{Timeout: d}))
}

func fsRetry() fsretry.RetryPolicy[int] {
	return fsretry.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(10*time.Millisecond, time.Second).Build()
}

func fsBreaker() fsbreaker.CircuitBreaker[int] {
	return fsbreaker.NewBuilder[int]().WithFailureRateThreshold(0.5, 10, 30*time.Second).WithDelay(5 * time.Second).Build()
}

func gobreakerCB() *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:     "bench",
		Interval: 30 * time.Second,
		Timeout:  5 * time.Second,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= 10 && float64(c.TotalFailures)/float64(c.Requests) >= 0.5
		},
	})
}

// BenchmarkRetryBreaker: retry + breaker around a call that succeeds.
func BenchmarkRetryBreaker(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=rampart", func(b *testing.B) {
		p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, rampartRetry(), rampartBreaker()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := resilience.Do(ctx, p, work); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=failsafe-go", func(b *testing.B) {
		ex := failsafe.With[int](fsRetry(), fsBreaker())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(fsWork); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=gobreaker-alone", func(b *testing.B) {
		cb := gobreakerCB()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(fsWork); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRetryBreakerTimeout: retry + breaker + timeout, the failsafe-go baseline
// quoted in the issue.
func BenchmarkRetryBreakerTimeout(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=rampart", func(b *testing.B) {
		p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, rampartRetry(), rampartBreaker(), rampartTimeout(10*time.Second)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := resilience.Do(ctx, p, work); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=failsafe-go", func(b *testing.B) {
		ex := failsafe.With[int](fsRetry(), fsBreaker(), fstimeout.New[int](10*time.Second))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(fsWork); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFivePolicies: the Polly-style chain bulkhead → total timeout → retry →
// attempt timeout → breaker.
func BenchmarkFivePolicies(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=rampart", func(b *testing.B) {
		p := rampartFive()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := resilience.Do(ctx, p, work); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The floor: the two nested contexts that the total and attempt timeouts need,
	// with nothing else.
	b.Run("lib=bare-nested-contexts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			total, cancelTotal := context.WithTimeout(ctx, 30*time.Second)
			attempt, cancelAttempt := context.WithTimeout(total, 10*time.Second)
			if _, err := work(attempt); err != nil {
				b.Fatal(err)
			}
			cancelAttempt()
			cancelTotal()
		}
	})
	b.Run("lib=failsafe-go", func(b *testing.B) {
		ex := fsFive()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(fsWork); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func rampartFive() *resilience.Pipeline {
	return resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{},
		resilience.Must(resilience.NewBulkhead(resilience.BulkheadOptions{MaxConcurrent: 100})),
		rampartTimeout(30*time.Second),
		rampartRetry(),
		rampartTimeout(10*time.Second),
		rampartBreaker(),
	))
}

func fsFive() failsafe.Executor[int] {
	return failsafe.With[int](
		fsbulkhead.New[int](100),
		fstimeout.New[int](30*time.Second),
		fsRetry(),
		fstimeout.New[int](10*time.Second),
		fsBreaker(),
	)
}

// BenchmarkTimeout: one timeout policy against a bare context.WithTimeout.
func BenchmarkTimeout(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=bare-context", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := work(c); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	})
	b.Run("lib=rampart", func(b *testing.B) {
		p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, rampartTimeout(10*time.Second)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := resilience.Do(ctx, p, work); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=failsafe-go", func(b *testing.B) {
		ex := failsafe.With[int](fstimeout.New[int](10 * time.Second))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(fsWork); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpenBreaker: how fast an open breaker rejects.
func BenchmarkOpenBreaker(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=rampart", func(b *testing.B) {
		br := rampartBreaker()
		br.Isolate()
		p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, br))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := resilience.Do(ctx, p, work); !errors.Is(err, resilience.ErrBreakerOpen) {
				b.Fatalf("err = %v, want ErrBreakerOpen", err)
			}
		}
	})
	b.Run("lib=failsafe-go", func(b *testing.B) {
		cb := fsBreaker()
		cb.Open()
		ex := failsafe.With[int](cb)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(fsWork); !errors.Is(err, fsbreaker.ErrOpen) {
				b.Fatalf("err = %v, want ErrOpen", err)
			}
		}
	})
	b.Run("lib=gobreaker", func(b *testing.B) {
		cb := gobreakerCB()
		for range 10 {
			_, _ = cb.Execute(func() (int, error) { return 0, errBoom })
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(fsWork); !errors.Is(err, gobreaker.ErrOpenState) {
				b.Fatalf("err = %v, want ErrOpenState", err)
			}
		}
	})
}

// BenchmarkParallel runs the happy paths on every core at once, to show whether a
// policy serialises its callers.
func BenchmarkParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("case=retry-breaker/lib=rampart", func(b *testing.B) {
		p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, rampartRetry(), rampartBreaker()))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = resilience.Do(ctx, p, work)
			}
		})
	})
	b.Run("case=retry-breaker/lib=failsafe-go", func(b *testing.B) {
		ex := failsafe.With[int](fsRetry(), fsBreaker())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = ex.Get(fsWork)
			}
		})
	})
	b.Run("case=breaker/lib=gobreaker", func(b *testing.B) {
		cb := gobreakerCB()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(fsWork)
			}
		})
	})
	b.Run("case=five/lib=rampart", func(b *testing.B) {
		p := rampartFive()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = resilience.Do(ctx, p, work)
			}
		})
	})
	b.Run("case=five/lib=failsafe-go", func(b *testing.B) {
		ex := fsFive()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = ex.Get(fsWork)
			}
		})
	})
}
