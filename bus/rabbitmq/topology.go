package rabbitmq

import (
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// Queues are the names of the queues of one subscription, as they appear in the
// RabbitMQ management UI.
type Queues struct {
	// Work is the queue the subscription consumes: "<prefix>.<subscription>",
	// bound to the events exchange by each of its event types.
	Work string
	// DeadLetter holds the messages the subscription gave up on:
	// "<prefix>.<subscription>.dlq".
	DeadLetter string
	// Retry are the delayed-redelivery queues by delay:
	// "<prefix>.<subscription>.retry.<delay>", such as "rampart.welcome-email.retry.10s".
	// Each holds messages for its delay (a per-queue message TTL), then
	// dead-letters them back to Work.
	Retry map[time.Duration]string
}

// Queues returns the names of the queues of the subscription with the given
// redelivery delays.
func (t *Transport) Queues(subscription string, delays ...time.Duration) Queues {
	work := t.opts.Prefix + "." + subscription
	q := Queues{Work: work, DeadLetter: work + ".dlq", Retry: make(map[time.Duration]string, len(delays))}
	for _, d := range delays {
		q.Retry[d] = retryName(work, d)
	}
	return q
}

// retryName is the name of the retry queue of work for delay d.
func retryName(work string, d time.Duration) string {
	return work + ".retry." + formatDelay(d)
}

// formatDelay writes d compactly for a queue name: "50ms", "10s", "1m", "2h";
// other durations as time.Duration writes them ("1.5s").
func formatDelay(d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return d.String()
}

// checkNames validates the queue names of a subscription.
func (t *Transport) checkNames(sub bus.Subscription) error {
	if sub.Name == "" {
		return fmt.Errorf("rabbitmq: subscription has no name")
	}
	q := t.Queues(sub.Name, sub.RedeliveryDelays...)
	for _, name := range append([]string{q.Work, q.DeadLetter}, mapValues(q.Retry)...) {
		if len(name) > maxQueueNameLen {
			return fmt.Errorf("rabbitmq: subscription %q: queue name %q has %d bytes; RabbitMQ allows %d", sub.Name, name, len(name), maxQueueNameLen)
		}
	}
	for i, d := range sub.RedeliveryDelays {
		if d <= 0 {
			return fmt.Errorf("rabbitmq: subscription %q: RedeliveryDelays[%d] is %s; want > 0", sub.Name, i, d)
		}
	}
	for _, typ := range sub.EventTypes {
		if typ == "" || len(typ) > maxQueueNameLen {
			return fmt.Errorf("rabbitmq: subscription %q: event type %q is not a routing key (1 to 255 bytes)", sub.Name, typ)
		}
	}
	return nil
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// declareExchange declares the events exchange: durable, topic.
func (t *Transport) declareExchange(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(t.opts.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return declareErr("exchange", t.opts.Exchange, err)
	}
	return nil
}

// declare declares the topology of sub on ch: the exchange, the dead-letter
// queue, a retry queue per delay, the work queue and its bindings. It is
// idempotent, and runs again whenever a consumer (re)starts, so that what was
// deleted while the transport was connected comes back.
func (t *Transport) declare(ch *amqp.Channel, sub bus.Subscription) error {
	if err := t.declareExchange(ch); err != nil {
		return err
	}
	q := t.Queues(sub.Name)
	if err := t.declareQueue(ch, q.DeadLetter, t.queueArgs()); err != nil {
		return err
	}
	for _, d := range sub.RedeliveryDelays {
		if err := t.declareRetry(ch, q.Work, d); err != nil {
			return err
		}
	}
	args := t.queueArgs()
	if sub.Ordered {
		args["x-single-active-consumer"] = true
	}
	if err := t.declareQueue(ch, q.Work, args); err != nil {
		return err
	}
	for _, typ := range sub.EventTypes {
		if err := ch.QueueBind(q.Work, typ, t.opts.Exchange, false, nil); err != nil {
			return fmt.Errorf("rabbitmq: bind queue %q to exchange %q with routing key %q: %w", q.Work, t.opts.Exchange, typ, err)
		}
	}
	return nil
}

// declareRetry declares the retry queue of work for delay d: its messages wait d
// (the queue's message TTL), then the broker dead-letters them to work through
// the default exchange. One queue per delay, so that a long delay never holds up
// a short one (a queue expires messages only at its head).
func (t *Transport) declareRetry(ch *amqp.Channel, work string, d time.Duration) error {
	args := t.queueArgs()
	args["x-message-ttl"] = max(int64(1), d.Milliseconds())
	args["x-dead-letter-exchange"] = ""
	args["x-dead-letter-routing-key"] = work
	if t.opts.QueueType == QueueQuorum {
		// Without these a quorum queue dead-letters at most once: a message
		// could be lost on its way back to the work queue.
		args["x-dead-letter-strategy"] = "at-least-once"
		args["x-overflow"] = "reject-publish"
	}
	return t.declareQueue(ch, retryName(work, d), args)
}

// queueArgs returns the arguments every queue of the transport has.
func (t *Transport) queueArgs() amqp.Table {
	return amqp.Table{"x-queue-type": string(t.opts.QueueType)}
}

// declareQueue declares a durable queue, and records its name for tests.
func (t *Transport) declareQueue(ch *amqp.Channel, name string, args amqp.Table) error {
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		return declareErr("queue", name, err)
	}
	t.mu.Lock()
	t.declared[name] = struct{}{}
	t.mu.Unlock()
	return nil
}

// declareErr wraps the error of declaring a queue or an exchange: a
// *ConflictError for a 406, naming the argument that differs.
func declareErr(kind, name string, err error) error {
	if err := conflictError(kind, name, err); err != nil {
		if _, ok := err.(*ConflictError); ok {
			return err
		}
	}
	return fmt.Errorf("rabbitmq: declare %s %q: %w", kind, name, err)
}
