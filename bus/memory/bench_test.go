package memory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

type benchEvent struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

// BenchmarkConsume measures publishing b.N events and handling them through a
// typed handler (decode, middleware, ack) on the memory transport.
func BenchmarkConsume(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			tr := memory.New()
			defer tr.Close()
			bs, err := bus.New(tr, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{
				"bench": {Workers: workers, Prefetch: 256}}})
			if err != nil {
				b.Fatal(err)
			}
			defer bs.Close()
			done := make(chan struct{}, 1024)
			if err := bus.Handle(bs, "bench", func(ctx context.Context, e benchEvent, m bus.Meta) error {
				done <- struct{}{}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := bs.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				for i := 0; i < b.N; i++ {
					if err := bs.Publish(ctx, benchEvent{ID: "x", Amount: i}); err != nil {
						panic(err)
					}
				}
			}()
			for i := 0; i < b.N; i++ {
				<-done
			}
		})
	}
}
