package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// DeadLetters returns up to max messages (all if max <= 0) of the subscription's
// dead letters, oldest first, without removing them: the messages on subject
// "<prefix>.dlq.<subscription>" of the dead-letter stream, read through a
// short-lived consumer. Each carries the headers of its dead-lettering
// ([bus.ParseDeadLetter]). Replaying one is publishing it again.
func (t *Transport) DeadLetters(ctx context.Context, subscription string, max int) ([]bus.Message, error) {
	if t.closed.Load() {
		return nil, bus.ErrClosed
	}
	if err := checkName(subscription, 200); err != nil {
		return nil, fmt.Errorf("jetstream: dead letters: subscription name %w", err)
	}
	cons, err := t.js.CreateConsumer(ctx, t.names.dlq, natsjs.ConsumerConfig{
		Description:       "Rampart: reading dead letters of " + subscription,
		FilterSubject:     t.names.dlqSubject(subscription),
		DeliverPolicy:     natsjs.DeliverAllPolicy,
		AckPolicy:         natsjs.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		t.js.DeleteConsumer(dctx, t.names.dlq, cons.CachedInfo().Name)
	}()
	n := int(cons.CachedInfo().NumPending)
	if max > 0 && max < n {
		n = max
	}
	out := make([]bus.Message, 0, n)
	for len(out) < n {
		wait := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 {
			return out, context.DeadlineExceeded
		}
		batch, err := cons.Fetch(n-len(out), natsjs.FetchMaxWait(wait))
		if err != nil {
			return out, fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err)
		}
		got := 0
		for m := range batch.Messages() {
			msg := t.toMessage(m.Subject(), m.Headers(), m.Data())
			msg.Type = msg.Headers[bus.HeaderType]
			out = append(out, msg)
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) {
			return out, fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err)
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if got == 0 {
			return out, fmt.Errorf("jetstream: dead letters of %s: %d of %d read, then none within %s", subscription, len(out), n, wait)
		}
	}
	return out, nil
}
