package memory_test

import (
	"context"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

// TestNothingLostNothingDuplicated runs random sequences of publishes, receives
// and settlements on competing consumers that come and go, then drains the queue:
// every published message must be acked exactly once.
func TestNothingLostNothingDuplicated(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tr := memory.New()
		defer tr.Close()
		open := func() bus.Consumer {
			c, err := tr.Subscribe(ctx, bus.Subscription{Name: "q", EventTypes: []string{"a"}, Prefetch: rapid.IntRange(1, 4).Draw(rt, "prefetch")})
			if err != nil {
				rt.Fatal(err)
			}
			return c
		}
		done, cancel := context.WithCancel(ctx)
		cancel() // Receive with a done ctx polls
		consumers := []bus.Consumer{open()}
		var held []bus.Delivery
		published := 0
		acked := map[string]int{}
		take := func(label string) bus.Delivery {
			i := rapid.IntRange(0, len(held)-1).Draw(rt, label)
			d := held[i]
			held = append(held[:i], held[i+1:]...)
			return d
		}
		steps := rapid.IntRange(1, 80).Draw(rt, "steps")
		for range steps {
			switch op := rapid.IntRange(0, 6).Draw(rt, "op"); {
			case op == 0:
				if err := tr.Publish(ctx, msg("a", published)); err != nil {
					rt.Fatal(err)
				}
				published++
			case op == 1 && len(consumers) > 0:
				c := consumers[rapid.IntRange(0, len(consumers)-1).Draw(rt, "consumer")]
				if d, err := c.Receive(done); err == nil {
					held = append(held, d)
				}
			case op == 2 && len(held) > 0:
				d := take("ack")
				if err := d.Ack(ctx); err != nil {
					rt.Fatal(err)
				}
				acked[n(d)]++
			case op == 3 && len(held) > 0:
				if err := take("requeue").Requeue(ctx); err != nil {
					rt.Fatal(err)
				}
			case op == 4 && len(held) > 0:
				if err := take("redeliver").Redeliver(ctx, bus.Redelivery{Attempt: 2}); err != nil {
					rt.Fatal(err)
				}
			case op == 5 && len(consumers) > 0:
				i := rapid.IntRange(0, len(consumers)-1).Draw(rt, "close")
				consumers[i].Close()
				consumers = append(consumers[:i], consumers[i+1:]...)
			case op == 6:
				consumers = append(consumers, open())
			}
		}
		for _, d := range held {
			if err := d.Requeue(ctx); err != nil {
				rt.Fatal(err)
			}
		}
		for _, c := range consumers {
			c.Close()
		}
		last, err := tr.Subscribe(ctx, bus.Subscription{Name: "q", EventTypes: []string{"a"}, Prefetch: 1})
		if err != nil {
			rt.Fatal(err)
		}
		for {
			d, err := last.Receive(done)
			if err != nil {
				break
			}
			if err := d.Ack(ctx); err != nil {
				rt.Fatal(err)
			}
			acked[n(d)]++
		}
		for i := range published {
			if c := acked[fmt.Sprint(i)]; c != 1 {
				rt.Fatalf("message %d acked %d times, want 1", i, c)
			}
		}
		if len(acked) != published {
			rt.Fatalf("%d messages acked, %d published", len(acked), published)
		}
		if s := tr.Stats("q"); s.Ready != 0 || s.Unacked != 0 {
			rt.Fatalf("Stats after draining = %+v, want empty", s)
		}
	})
}
