package bus

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Message is what a transport carries: the envelope in headers, the encoded event
// in the body, and the routing information a broker needs without reading headers.
// Once handed to a transport (or received from one) a Message is read-only: nobody
// changes its Headers map or Body in place; whoever needs other headers copies them.
type Message struct {
	// ID is the event ID (the "ce-id" header). Transports may use it for the
	// broker's own duplicate detection (Nats-Msg-Id) or as the AMQP message-id.
	ID string
	// Type is the event type (the "ce-type" header) and the routing information:
	// the routing key on RabbitMQ, the last tokens of the subject on JetStream.
	// Subscriptions bind event types.
	Type string
	// Key is the ordering key (partition key, or else subject), possibly empty.
	Key string
	// Headers carry the envelope (see the Header constants) and, after a failure,
	// Rampart's delivery headers. Names are lower case and delivered exactly as
	// published.
	Headers map[string]string
	// Body is the encoded event.
	Body []byte
}

// Transport moves messages between a [Bus] and a broker. It is owned by the bus
// package; implementations live in their own packages (bus/memory, bus/rabbitmq,
// bus/jetstream) and pass the conformance suite in bus/bustest. A Transport is safe
// for concurrent use, and may be shared by several buses (which then compete for
// the messages of a subscription they both consume, like separate processes).
// Transports recover from lost connections by themselves: a Consumer keeps
// delivering after a reconnect.
type Transport interface {
	// Publish sends msgs and returns once the broker has confirmed every one of
	// them (for the memory transport: enqueued), or returns an error: a message is
	// never silently dropped, and one that no subscription is bound to is
	// [ErrUnroutable] where the transport can tell. Publishing several messages is
	// not atomic: after an error some may have been confirmed.
	Publish(ctx context.Context, msgs ...Message) error
	// Subscribe declares the subscription's durable queue (or consumer) if needed,
	// binds its event types (bindings accumulate: a queue keeps the bindings it was
	// ever given, as on a broker), and starts consuming it. Several consumers of one
	// subscription name, in this process or another, compete for its messages; each
	// subscription name gets every message of the types it binds.
	Subscribe(ctx context.Context, sub Subscription) (Consumer, error)
	// Close closes the connection and every consumer. Deliveries not settled are
	// handed back to the broker. Close is idempotent.
	Close() error
}

// Subscription is what a transport needs to declare and consume one durable
// subscription.
type Subscription struct {
	// Name names the durable queue (RabbitMQ) or durable consumer (JetStream).
	Name string
	// EventTypes are the event types the subscription binds.
	EventTypes []string
	// Prefetch is how many deliveries may be outstanding (received and not settled)
	// at once per consumer: basic.qos on RabbitMQ, MaxAckPending on JetStream.
	Prefetch int
	// RedeliveryDelays are the delays the bus will ask of [Delivery.Redeliver], so
	// that a transport with fixed delay tiers (RabbitMQ's TTL retry queues) can
	// declare them up front. Redeliver is only ever called with one of these, or
	// with zero.
	RedeliveryDelays []time.Duration
	// AckWait is how long a delivery may stay unsettled before the broker may give
	// it to another consumer, where the broker has such a limit (JetStream's
	// AckWait). The bus sets it above the handler timeout.
	AckWait time.Duration
	// Ordered asks the transport to keep the queue's order across consumers where it
	// can (RabbitMQ's single active consumer, say); the bus keeps order per key within
	// one consumer.
	Ordered bool
}

// Consumer receives the deliveries of one subscription.
type Consumer interface {
	// Receive returns the next delivery. It blocks until one is available, ctx is
	// done (returning ctx.Err()), or the consumer or its transport is closed
	// ([ErrClosed]). Receive is safe for concurrent use by several workers.
	Receive(ctx context.Context) (Delivery, error)
	// Close stops receiving: deliveries the transport fetched but nobody received yet
	// are handed back to the queue; deliveries already received stay valid until
	// they are settled. Close is idempotent.
	Close() error
}

// Delivery is one delivery of a message to a consumer. Exactly one of Ack,
// Requeue, Redeliver or DeadLetter settles it; a second call returns
// [ErrAlreadySettled]. The settling methods are safe to call from any goroutine.
type Delivery interface {
	// Message returns the delivered message.
	Message() Message
	// Redelivered reports whether the broker delivered this message before without
	// it being settled (a consumer died or handed it back): it may have been
	// handled. Redeliveries scheduled with Redeliver are new deliveries.
	Redelivered() bool
	// Ack removes the message: it was handled.
	Ack(ctx context.Context) error
	// Requeue hands the message back unchanged, for another consumer to receive at
	// once: the bus uses it for messages it did not handle because it is shutting
	// down. It does not count an attempt.
	Requeue(ctx context.Context) error
	// Redeliver removes the message and has it delivered again to this subscription
	// only, after r.Delay, carrying r.Headers (RabbitMQ: publish a copy to the retry
	// queue of that delay, which dead-letters back to the work queue, then ack;
	// JetStream: NakWithDelay, with the attempt taken from the delivery count).
	// Redeliver returns once the redelivery is safely scheduled.
	Redeliver(ctx context.Context, r Redelivery) error
	// DeadLetter moves the message to the subscription's dead-letter queue with the
	// headers of dl and the transport's [HeaderDLQOrigin], and removes it from the
	// work queue (RabbitMQ: publish to the DLQ with confirm, then ack; JetStream:
	// publish to the DLQ stream, then Term). It returns once the dead letter is
	// stored.
	DeadLetter(ctx context.Context, dl DeadLetter) error
}

// Redelivery asks a transport to deliver a message again later.
type Redelivery struct {
	// Delay is the wait before the message is delivered again: zero or one of
	// [Subscription.RedeliveryDelays].
	Delay time.Duration
	// Attempt is the attempt number the next delivery carries in [HeaderAttempt].
	// A transport that cannot change headers on redelivery reports this number
	// (or its broker's delivery count) in HeaderAttempt of the next delivery.
	Attempt int
	// Headers are set on the redelivered message, replacing headers of the same
	// name: HeaderAttempt, HeaderFirstFailure, HeaderLastError. A transport that can
	// keep headers must.
	Headers map[string]string
}

// DeadLetterReader is implemented by transports that can show what is in a
// subscription's dead-letter queue, for tests, tools and the demo. Replaying is
// publishing the message again (after fixing the cause).
type DeadLetterReader interface {
	// DeadLetters returns up to max messages of the subscription's dead-letter
	// queue, oldest first, without removing them; max <= 0 means all.
	DeadLetters(ctx context.Context, subscription string, max int) ([]Message, error)
}

// WithHeaders returns a copy of m whose headers are m's with set applied (an empty
// value removes the header). Transports and the bus use it instead of changing a
// message's headers in place.
func (m Message) WithHeaders(set map[string]string) Message {
	h := make(map[string]string, len(m.Headers)+len(set))
	for k, v := range m.Headers {
		h[k] = v
	}
	for k, v := range set {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	m.Headers = h
	return m
}

// HeaderText turns a header value of a broker's typed headers (AMQP tables, say)
// into the text the bus reads: strings and byte slices as they are, integers in
// decimal, booleans, floats and times in their usual text form. Other types
// (tables, arrays, nil) have no text form: ok is false, and the transport should
// list the header in [HeaderInvalid] (see [InvalidHeaders]) so that the message is
// dead-lettered with the reason instead of being decoded wrongly.
func HeaderText(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), true
	}
	return "", false
}

// InvalidHeaders returns the value of [HeaderInvalid] for headers whose values have
// no text form: "name:type" pairs, sorted, comma-separated.
func InvalidHeaders(bad map[string]any) string {
	parts := make([]string, 0, len(bad))
	for k, v := range bad {
		t := "nil"
		if v != nil {
			t = reflect.TypeOf(v).String()
		}
		parts = append(parts, k+":"+t)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
