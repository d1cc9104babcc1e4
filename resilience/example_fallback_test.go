package resilience_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-go/rampart/resilience"
)

func ExampleNewFallback() {
	fallback := resilience.Must(resilience.NewFallback(resilience.FallbackOptions{
		Name: "cached-price",
		Fallback: func(_ context.Context, o resilience.Outcome) (any, error) {
			fmt.Println("replacing:", o.Err)
			return 42.0, nil // the value must have the call's type, float64
		},
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, fallback))

	price, err := resilience.Do(context.Background(), p, func(context.Context) (float64, error) {
		return 0, errors.New("pricing service unavailable")
	})
	fmt.Println(price, err)
	// Output:
	// replacing: pricing service unavailable
	// 42 <nil>
}
