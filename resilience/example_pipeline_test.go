package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// The standard pipeline for a call to a remote service: total timeout → retry →
// circuit breaker → attempt timeout, with an observer that counts what happened.
func ExampleDo() {
	events := map[string]int{}
	observer := resilience.ObserverFunc(func(_ context.Context, e resilience.Event) {
		events[e.Kind.String()]++
	})
	pipeline := resilience.Must(resilience.NewPipeline(
		resilience.PipelineOptions{Name: "inventory", Observer: observer},
		resilience.Must(resilience.NewTimeout(resilience.TimeoutOptions{Name: "total", Timeout: 5 * time.Second})),
		resilience.Must(resilience.NewRetry(resilience.RetryOptions{
			MaxAttempts: 4,
			Backoff:     resilience.Backoff{Base: time.Millisecond, Jitter: resilience.JitterNone},
		})),
		resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{
			Name: "inventory", Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 5,
		})),
		resilience.Must(resilience.NewTimeout(resilience.TimeoutOptions{Name: "attempt", Timeout: time.Second})),
	))

	// A flaky service: the first two calls fail, the third answers.
	calls := 0
	stock, err := resilience.Do(context.Background(), pipeline, func(ctx context.Context) (int, error) {
		calls++
		if calls <= 2 {
			return 0, errors.New("503 service unavailable")
		}
		return 17, nil
	})
	fmt.Println("stock:", stock, "error:", err)
	fmt.Println("calls:", calls, "attempt events:", events["attempt"], "retry events:", events["retry"])
	// Output:
	// stock: 17 error: <nil>
	// calls: 3 attempt events: 3 retry events: 2
}

// A rejection of a policy is an error that callers branch on with errors.Is.
func ExampleDo_rejection() {
	breaker := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{Name: "payments"}))
	breaker.Isolate() // an operator takes the dependency out of service
	pipeline := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "payments"}, breaker))

	_, err := resilience.Do(context.Background(), pipeline, func(ctx context.Context) (string, error) {
		return "charged", nil
	})
	fmt.Println(errors.Is(err, resilience.ErrBreakerOpen))
	fmt.Println(err)
	// Output:
	// true
	// resilience: circuit breaker "payments" is isolated
}
