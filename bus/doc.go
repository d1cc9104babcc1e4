// Package bus publishes domain events and runs their handlers over a message
// broker, so that a service keeps its promises when the broker, the network or a
// handler fails: nothing published is silently lost, a failing message comes back
// later and then goes to a dead-letter queue with the reason, and a message
// delivered twice runs its handler once.
//
// Events are plain Go structs. A [Registry] gives each Go type a stable event type
// name ("customers.customer-created.v1"); a [Bus] publishes them with [Bus.Publish]
// and runs typed handlers registered with [Handle]. The broker is behind the small
// [Transport] interface: bus/memory is in-process, bus/rabbitmq and bus/jetstream
// talk to real brokers, and bus/bustest is the conformance suite they all pass.
//
//	b, err := bus.New(transport, bus.Options{Source: "/customers", Inbox: inbox})
//	err = bus.Handle(b, "welcome-email", func(ctx context.Context, e CustomerCreated, m bus.Meta) error {
//		return mailer.SendWelcome(ctx, e.Email)
//	})
//	err = b.Start(ctx)
//	err = b.Publish(ctx, CustomerCreated{ID: id, Email: email}, bus.WithSubject(id))
//	...
//	err = b.Shutdown(ctx)
//
// # The life of a message
//
// Publish. [Bus.Publish] wraps the event in an [Envelope]: the CloudEvents
// attributes (a new UUIDv7 as the ID, the bus's source, the registered type name,
// the time, the subject, the codec's content type), the correlation and causation
// IDs, the W3C trace context, and the attempt, 1. When Publish is called from a
// handler, the new event's causation ID is the handled event's ID and its
// correlation ID and trace context are passed on: a chain of events can be
// followed across services. The envelope travels in message headers ([HeaderID],
// [HeaderType], ...), the event in the body, encoded by the first of
// [Options.Codecs] (JSON by default).
//
// Confirm. Publish returns only once the transport has confirmed the message (the
// broker's publisher confirm; for the memory transport, the message is in every
// bound queue), or returns an error. An error may leave the message published or
// not: publish it again with the same ID ([WithID]) and let duplicate detection
// absorb the repeat.
//
// Deliver. Each subscription (one name, such as "welcome-email") is one durable
// queue bound to the event types of its handlers: every subscription gets every
// event it binds (fan-out), and the instances of a service that run the same
// subscription share its events (competing consumers). A subscription runs
// [SubscriptionOptions.Workers] handlers at once, with Prefetch messages sent
// ahead by the broker; with Ordered, events with the same ordering key (partition
// key, or else subject) are handled one after the other while different keys run
// in parallel.
//
// Decode. The consumer decodes the envelope strictly ([DecodeEnvelope]) and the
// body with the codec of its content type. A message that cannot be decoded, has
// a malformed ID, is too large, or has a type the subscription has no handler for
// goes straight to the dead-letter queue with the reason; the consumer goes on.
//
// Inbox. With [Options.Inbox] set, the consumer claims the event ID for the
// subscription in the inbox before running the handler. An event handled before
// is acked without running the handler; one that another worker is handling right
// now is redelivered later, never run twice at once. The inbox marks the event
// done only after the handler succeeded; a failed or panicking handler releases
// the claim and leaves no mark, so that the redelivery runs it again.
//
// Handler. The handler runs inside the consumer middleware, outermost first:
// panic recovery (a panic becomes a [*PanicError] and counts as a failed attempt),
// duplicate detection, a timeout ([SubscriptionOptions.Timeout], cooperative: the
// handler's context is cancelled), and an optional short in-process retry
// ([SubscriptionOptions.Retry], a resilience pipeline). Its context carries the
// event's [Meta] ([MetaFrom]).
//
// Ack. When the handler returns nil, the message is acked (after the inbox mark).
//
// Redeliver. When it returns an error, the message is redelivered through the
// broker after a delay, counting attempts in its own header ([HeaderAttempt], not
// the broker's x-death or delivery count): after attempt n fails it comes back
// after RedeliveryDelays[min(n, len)-1], 1s, 10s and 1m by default. Only the
// failing subscription sees it again. [HeaderFirstFailure] and [HeaderLastError]
// travel with it.
//
// Dead letter. After [SubscriptionOptions.MaxAttempts] attempts (5 by default),
// or at once for an error marked with [Permanent], the message goes to the
// subscription's dead-letter queue with headers that say why ([DeadLetter]): the
// reason, the error text and Go type, the subscription, the attempts, the first and
// last failure times, and where it came from. [ParseDeadLetter] reads them back;
// transports that implement [DeadLetterReader] list the queue. Nothing is dropped
// silently and nothing loops forever.
//
// # Shutdown
//
// [Bus.Shutdown] stops receiving, lets running handlers finish, and hands back to
// the broker every message received and not handled; when its context ends first,
// it hands back the messages whose handlers are still running and cancels them.
// Nothing is acked that was not handled, so a message in flight is handled by the
// next consumer. [Bus.Close] does the same at once and waits for every goroutine of
// the bus. [Options.OnSettle] reports how each delivery ended.
//
// # Observing
//
// [Options.Observer] sees each publish, from before the event is encoded to the
// transport's confirmation, and each delivery, from its decoded envelope to its
// settlement, as operations that start with a context and end with an error; and
// each message stored in a dead-letter queue, with the reason. Package telemetry
// implements it with OpenTelemetry producer and consumer spans and the messaging
// metrics:
//
//	b, err := bus.New(transport, bus.Options{Source: "/customers", Observer: tel})
//
// The trace context crosses the broker in the envelope. Publish writes the trace
// context of the observer's context (the publish span) into traceparent and
// tracestate, through the observer's [TracePropagator] (or
// [Options.PropagateTrace]); the consumer's observer continues it, and the handler
// runs in the context the observer returned, which also carries the event's
// [Meta]: an event published from a handler is a child of the handler's span, and
// its causation and correlation IDs are set as always. Without a trace hook, or
// when it finds no span, an event published from a handler passes on the trace
// context of the event being handled. Transports that implement [SystemNamer]
// name their messaging system ("memory", "rabbitmq", "nats") to the observer.
//
// # Errors
//
// Errors to branch on are sentinels matched with [errors.Is] — [ErrClosed],
// [ErrDecode], [ErrUnknownEventType], [ErrUnroutable], [ErrAlreadySettled],
// [ErrPanic], [ErrStarted] — with struct types that carry the details
// ([DecodeError] names the field). Every message starts with "bus:".
//
// # Transports
//
// A [Transport] publishes with confirmation and subscribes a [Subscription]; a
// [Consumer] receives [Delivery] values, which are settled once by Ack, Requeue
// (hand back at shutdown), Redeliver (after a delay, with new headers) or
// DeadLetter. The interface fits a broker with TTL retry queues and dead-letter
// queues (RabbitMQ) as well as one with delayed negative acknowledgements and a
// dead-letter stream (JetStream). Transports keep header names and values exactly,
// reconnect by themselves, and pass [github.com/rampart-go/rampart/bus/bustest].
package bus
