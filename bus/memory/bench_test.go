package memory_test

import (
	"context"
	"testing"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/idempotency"
)

type benchEvent struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

// BenchmarkConsume measures publishing b.N events and handling them through a
// typed handler (decode, middleware, ack) on the memory transport, without
// duplicate detection and with the memory inbox.
func BenchmarkConsume(b *testing.B) {
	for _, bc := range []struct {
		name    string
		workers int
		inbox   bool
	}{
		{"workers=1", 1, false},
		{"workers=4", 4, false},
		{"workers=1,inbox=memory", 1, true},
		{"workers=4,inbox=memory", 4, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := memory.New()
			defer tr.Close()
			opts := bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{
				"bench": {Workers: bc.workers, Prefetch: 256}}}
			if bc.inbox {
				opts.Inbox = idempotency.NewMemory(idempotency.MemoryOptions{})
			}
			bs, err := bus.New(tr, opts)
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
