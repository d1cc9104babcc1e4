package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// A flaky call that fails twice, then succeeds on the third attempt.
func ExampleRetry() {
	retry := resilience.Must(resilience.NewRetry(resilience.RetryOptions{
		MaxAttempts: 5,
		Backoff:     resilience.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
	}))
	pipeline := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "inventory"}, retry))

	attempts := 0
	stock, err := resilience.Do(context.Background(), pipeline, func(ctx context.Context) (int, error) {
		attempts = resilience.AttemptFromContext(ctx)
		if attempts < 3 {
			return 0, errors.New("connection reset")
		}
		return 42, nil
	})
	fmt.Println("stock:", stock, "error:", err, "attempts:", attempts)
	// Output:
	// stock: 42 error: <nil> attempts: 3
}

// A call that keeps failing: the error says how many attempts were made and why
// Retry gave up, and still matches the last error.
func ExampleRetry_exhausted() {
	retry := resilience.Must(resilience.NewRetry(resilience.RetryOptions{
		MaxAttempts: 3,
		Backoff:     resilience.Backoff{Kind: resilience.BackoffConstant, Base: time.Millisecond},
	}))
	pipeline := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, retry))

	errUnavailable := errors.New("service unavailable")
	_, err := resilience.Do(context.Background(), pipeline, func(context.Context) (string, error) {
		return "", errUnavailable
	})
	var exhausted *resilience.RetriesExhaustedError
	if errors.As(err, &exhausted) {
		fmt.Println(exhausted.Attempts, "attempts,", exhausted.Reason)
	}
	fmt.Println(errors.Is(err, resilience.ErrRetriesExhausted), errors.Is(err, errUnavailable))
	fmt.Println(err)
	// Output:
	// 3 attempts, max attempts
	// true true
	// resilience: gave up after 3 attempt(s) (max attempts): service unavailable
}

// Retrying a value (an HTTP status, say) and releasing the ones retried over.
func ExampleRetryOptions_onDiscard() {
	type response struct{ status int }
	retry := resilience.Must(resilience.NewRetry(resilience.RetryOptions{
		Backoff: resilience.Backoff{Kind: resilience.BackoffConstant, Base: time.Millisecond},
		ShouldRetry: func(o resilience.Outcome) bool {
			return o.Err != nil || o.Value.(*response).status == 503
		},
		OnDiscard: func(o resilience.Outcome) {
			if r, _ := o.Value.(*response); r != nil {
				fmt.Println("discarding", r.status) // httpx drains and closes the body here
			}
		},
	}))
	pipeline := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, retry))

	statuses := []int{503, 503, 200}
	resp, err := resilience.Do(context.Background(), pipeline, func(ctx context.Context) (*response, error) {
		return &response{status: statuses[resilience.AttemptFromContext(ctx)-1]}, nil
	})
	fmt.Println(resp.status, err)
	// Output:
	// discarding 503
	// discarding 503
	// 200 <nil>
}

func ExampleBackoff_Delay() {
	b := resilience.Backoff{
		Kind:   resilience.BackoffExponential,
		Base:   100 * time.Millisecond,
		Max:    2 * time.Second,
		Jitter: resilience.JitterNone,
	}
	var prev time.Duration
	for n := 1; n <= 6; n++ {
		prev = b.Delay(n, prev)
		fmt.Printf("retry %d: %s\n", n, prev)
	}
	// Output:
	// retry 1: 100ms
	// retry 2: 200ms
	// retry 3: 400ms
	// retry 4: 800ms
	// retry 5: 1.6s
	// retry 6: 2s
}

// One budget shared by every retry policy that calls a service keeps retries to a
// share of the traffic.
func ExampleBudget() {
	budget := resilience.Must(resilience.NewBudget(resilience.BudgetOptions{
		Ratio:        0.1,         // retries: at most 10% of requests...
		MinPerSecond: 1,           // ...plus 1 a second...
		Window:       time.Second, // ...over the last second
	}))
	for range 20 {
		budget.Deposit() // what a Retry does for each call
	}
	allowed := 0
	for budget.TryWithdraw() { // what a Retry does before each retry
		allowed++
	}
	fmt.Println("retries allowed:", allowed)
	// Output:
	// retries allowed: 3
}
