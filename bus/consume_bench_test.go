package bus

import (
	"context"
	"errors"
	"testing"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/resilience"
)

type benchConsumed struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

// BenchmarkProcess measures the bus's share of consuming one delivery: envelope
// and body decoding, the middleware (with and without the memory inbox) and the
// settlement, on a delivery that acks at once. The worker loop and the transport
// are left out (see BenchmarkConsume in bus/memory for the memory transport end
// to end). Every delivery has its own event ID, as on a broker; making the
// messages is not timed.
func BenchmarkProcess(b *testing.B) {
	retry, err := resilience.NewRetry(resilience.RetryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pipeline, err := resilience.NewPipeline(resilience.PipelineOptions{}, retry)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		inbox idempotency.Store
		retry *resilience.Pipeline
	}{
		{"inbox=none", nil, nil},
		{"inbox=memory", idempotency.NewMemory(idempotency.MemoryOptions{}), nil},
		{"inbox=memory,retry", idempotency.NewMemory(idempotency.MemoryOptions{}), pipeline},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bs, err := New(idleTransport{}, Options{Inbox: bc.inbox,
				Subscriptions: map[string]SubscriptionOptions{"bench": {Retry: bc.retry}}})
			if err != nil {
				b.Fatal(err)
			}
			defer bs.Close()
			handled := 0
			if err := Handle(bs, "bench", func(ctx context.Context, e benchConsumed, m Meta) error {
				handled++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := bs.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			s := bs.subs["bench"]
			ctx, cancel := s.workerCtx()
			defer cancel()

			const batch = 4096
			ds := make([]ackDelivery, batch)
			ts := make([]tracked, batch)
			refill := func() {
				for i := range ds {
					m, err := bs.Encode(context.Background(), benchConsumed{ID: "x", Amount: i})
					if err != nil {
						b.Fatal(err)
					}
					ds[i] = ackDelivery{msg: m}
					ts[i] = tracked{d: &ds[i]}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % batch
				if j == 0 {
					b.StopTimer()
					refill()
					b.StartTimer()
				}
				s.process(ctx, &ts[j])
			}
			b.StopTimer()
			if handled != b.N {
				b.Fatalf("%d events handled, want %d", handled, b.N)
			}
			for i := range (b.N-1)%batch + 1 {
				if !ds[i].acked {
					b.Fatalf("delivery %d not acked", i)
				}
			}
		})
	}
}

// idleTransport has consumers that deliver nothing: the benchmark feeds the
// subscription itself.
type idleTransport struct{}

func (idleTransport) Publish(context.Context, ...Message) error { return nil }
func (idleTransport) Subscribe(context.Context, Subscription) (Consumer, error) {
	return idleConsumer{}, nil
}
func (idleTransport) Close() error { return nil }

type idleConsumer struct{}

func (idleConsumer) Receive(ctx context.Context) (Delivery, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (idleConsumer) Close() error { return nil }

// ackDelivery records its ack; it fails every other settlement.
type ackDelivery struct {
	msg   Message
	acked bool
}

func (d *ackDelivery) Message() Message  { return d.msg }
func (d *ackDelivery) Redelivered() bool { return false }
func (d *ackDelivery) Ack(context.Context) error {
	if d.acked {
		return ErrAlreadySettled
	}
	d.acked = true
	return nil
}
func (d *ackDelivery) Requeue(context.Context) error               { return errUnexpectedSettle }
func (d *ackDelivery) Redeliver(context.Context, Redelivery) error { return errUnexpectedSettle }
func (d *ackDelivery) DeadLetter(context.Context, DeadLetter) error {
	return errUnexpectedSettle
}

var errUnexpectedSettle = errors.New("bus: benchmark: delivery settled other than by ack")
