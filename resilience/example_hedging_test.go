package resilience_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

func ExampleNewHedging() {
	hedging := resilience.Must(resilience.NewHedging(resilience.HedgingOptions{
		Delay:     10 * time.Millisecond, // start a second attempt if the first is slow
		MaxHedges: 1,
		OnDiscard: func(o resilience.Outcome) {
			// Release what a losing attempt holds (an HTTP response body, say).
			fmt.Printf("discarded attempt %d: %v\n", o.Attempt, o.Err)
		},
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, hedging))

	var attempts atomic.Int32
	v, err := resilience.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		if attempts.Add(1) == 1 {
			<-ctx.Done() // the first replica hangs until it is cancelled
			return "", ctx.Err()
		}
		return "answer from replica 2", nil
	})
	fmt.Println(v, err)
	// Output:
	// discarded attempt 1: context canceled
	// answer from replica 2 <nil>
}
