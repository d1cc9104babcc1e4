// Package rabbitmq is the RabbitMQ transport of package [bus], on
// github.com/rabbitmq/amqp091-go: confirmed publishing over a pool of channels,
// manual acks, delayed redelivery through per-delay retry queues, a dead-letter
// queue per subscription, and reconnection that publishers and consumers do not
// see, except as a wait.
//
//	tr, err := rabbitmq.New(ctx, "amqp://guest:guest@localhost:5672/", rabbitmq.Options{Name: "customers"})
//	if err != nil {
//		return err // a *DialError: bad URL, broker unreachable, wrong password, unknown vhost
//	}
//	defer tr.Close()
//	b, err := bus.New(tr, bus.Options{Source: "/customers", Inbox: inbox})
//
// A [Transport] is safe for concurrent use and may be shared by several buses.
//
// # Topology
//
// The transport declares what it uses, and declares it again whenever it
// reconnects or a consumer resumes, so that a queue deleted by hand comes back
// (empty). With the default [Options] (Prefix "rampart", quorum queues) and a
// subscription "welcome-email" with the default redelivery delays of package bus
// (1s, 10s, 1m), the management UI shows:
//
//	Exchanges
//	  rampart.events                      topic, durable: every event, routing key = event type
//	Queues
//	  rampart.welcome-email               quorum: the work queue, bound to rampart.events
//	                                      by each event type the subscription handles
//	  rampart.welcome-email.retry.1s      quorum, x-message-ttl 1000, dead-letters to
//	  rampart.welcome-email.retry.10s       rampart.welcome-email through the default
//	  rampart.welcome-email.retry.1m        exchange (at-least-once)
//	  rampart.welcome-email.dlq           quorum: dead letters, read by [Transport.DeadLetters]
//	Connections
//	  customers (publish)                 the publisher channels (confirm mode)
//	  customers (consume)                 one channel per consumer (basic.qos = prefetch)
//
// [Transport.Queues] returns these names. Each subscription name is one work
// queue: several services each get every event (one queue each); instances of
// one service share a queue's messages (competing consumers). An ordered
// subscription's work queue is declared with single active consumer, so that
// one instance at a time consumes it, in order.
//
// RabbitMQ cannot change a queue's arguments. Declaring a queue that exists with
// other arguments (a classic queue when quorum is wanted, another TTL, single
// active consumer added) fails at Subscribe with a [*ConflictError] that names
// the argument and both values, such as
//
//	rabbitmq: queue "rampart.welcome-email" exists with other arguments:
//	x-queue-type: existing classic, wanted quorum
//
// # Publishing
//
// [Transport.Publish] publishes each message to the events exchange with its
// event type as routing key, persistent, with the mandatory flag, the service's
// name as app-id, and the envelope in a compact form: its ID as message-id, its
// type as type, its content type as content-type and its correlation ID as
// correlation-id (AMQP's basic properties), and the other CloudEvents
// attributes and the attempt in one header, rampart-ce, as name=value entries
// ("source=/customers,time=2026-11-27T14:55:00.123456789Z"; specversion 1.0 is
// implied, and the first delivery has no attempt). traceparent, the headers of
// a delayed retry and of dead-lettering, and extensions stay headers of their
// own. RabbitMQ's cost per
// message grows with its header table, much faster than with its body
// (BenchmarkRabbitHeaderCost in the bench module measures it; docs/benchmarks.md
// has the numbers): the compact form keeps the table to one short entry. The consumer puts
// the envelope back together, so that the bus reads exactly the headers it
// published. A message without rampart-ce is read as it is: with
// rampart-amqp-props (the form of the previous version), the properties that
// header lists; without either (every envelope header in the table, from
// earlier versions, or another publisher's message, whose content_type or
// correlation_id mean something of their own), the headers of its table alone.
// Consumers of earlier versions read the envelope from the table only: while
// they run (a rolling upgrade), set
// [Options].EnvelopeInTable to publish it there too. Publish waits for the
// broker's confirm of that message only: publishers share a pool of
// confirm-mode channels ([Options].PublisherChannels), with up to
// [Options].MaxInFlight unconfirmed messages on each. A message no queue is bound
// to comes back as basic.return, and Publish returns [bus.ErrUnroutable]. While
// the broker blocks publishing (a memory or disk alarm, connection.blocked),
// publishers wait until their context ends and then fail with a
// [*BlockedError] that says why.
//
// amqp091-go flushes its socket after every message and every ack; the
// transport coalesces these writes (a goroutine per connection sends whatever
// accumulated in one system call), so that a busy connection sends many frames
// per call, and the broker reads them in as few pieces. The frames are the same:
// one basic.ack per settled delivery.
//
// # Consuming
//
// A consumer has a channel of its own with basic.qos prefetch =
// Subscription.Prefetch, and acks manually, only when the bus settles a delivery:
//
//   - Ack: basic.ack.
//   - Requeue (the bus is shutting down): basic.nack with requeue; the broker
//     delivers the message again at once, with its redelivered flag set.
//   - Redeliver: publish a copy with the bus's new headers to the retry queue of
//     the delay (to the work queue for no delay), wait for its confirm, then ack.
//   - DeadLetter: publish a copy with the dead-letter headers and
//     rampart-dlq-origin ("exchange=rampart.events routing-key=<type>
//     queue=rampart.welcome-email") to the dead-letter queue, wait for its
//     confirm, then ack.
//
// If the copy cannot be published, the delivery is handed back (nack with
// requeue) rather than left unacked. Header values of other types than strings,
// from other publishers, become text where they have one (numbers, booleans,
// times) and are otherwise listed in rampart-invalid-headers, which the bus
// dead-letters with the reason. The broker's own headers (x-death,
// x-delivery-count) are dropped.
//
// # A failing message, step by step
//
// With the bus's defaults (5 attempts, delays 1s, 10s, 1m):
//
//  1. The message arrives in rampart.welcome-email; the consumer receives it
//     (attempt 1: no attempt in its headers) and the handler fails.
//  2. The bus asks for a redelivery after 1s: the transport publishes a copy with
//     attempt 2 (in rampart-ce), rampart-first-failure and rampart-last-error to
//     rampart.welcome-email.retry.1s and acks the original. The copy is in the
//     retry queue ("Ready" in the UI) for 1s, until its TTL expires.
//  3. The broker dead-letters the expired copy back to rampart.welcome-email,
//     and the consumer receives it as attempt 2. It fails again: the next copy
//     waits in .retry.10s, then in .retry.1m, then .retry.1m again.
//  4. Attempt 5 fails: the bus dead-letters it. The transport publishes it to
//     rampart.welcome-email.dlq with rampart-dlq-reason (max-attempts),
//     rampart-dlq-error, rampart-dlq-error-type, rampart-dlq-attempts,
//     rampart-dlq-first-failure, rampart-dlq-last-failure and
//     rampart-dlq-origin, and acks it.
//
// A message that cannot be decoded, has a type the subscription has no handler
// for, or whose handler returns [bus.Permanent], goes to the dead-letter queue
// at once. Read dead letters with [Transport.DeadLetters] (or "Get messages" in
// the UI, with "Nack message requeue true"); replay one by publishing it again
// once the cause is fixed.
//
// # Recovery
//
// The transport keeps two connections, "(publish)" and "(consume)", so that a
// broker blocking publishers never holds up a consumer's acks. A supervisor
// goroutine per connection watches it (connection.close from the broker, a
// reset socket, or heartbeats missing for 1.5 × [Options].Heartbeat) and dials
// again at once, then with [Options].Reconnect backoff, until it is back or the
// transport closes. Meanwhile:
//
//   - Publishers wait for the connection until their context ends. A message
//     whose confirm was lost with its channel or connection (it may or may not
//     be stored) is published again on the new connection: a duplicate the
//     consumer's inbox absorbs. Publishing never reports success without the
//     broker's confirm.
//   - Consumers declare their topology again, set the prefetch and consume anew.
//     The broker hands the deliveries that were not acked back to the queue (with
//     the redelivered flag); acks of deliveries from the lost channel fail (the
//     bus logs them), and are never sent on the new channel, where their delivery
//     tags would name other messages.
//   - A consumer the broker cancels (its queue was deleted) declares the queue
//     again and resumes. A retry or dead-letter queue deleted while the transport
//     runs is declared again by the first redelivery or dead letter that finds
//     it missing (the broker returns the copy as unroutable).
//
// amqp091-go (since v1.12) can recover connections, channels, topology and
// consumers by itself (Config.Recovery); the transport does not use it. Its
// reconnect retries a fixed number of times (5) at a fixed interval (5s) and then
// gives up for good; it reopens a channel in place, whose delivery tags start
// again from 1 while deliveries received before the loss keep their old tags, so
// that acking one of those acks whichever message now has its tag (a message
// never handled is lost); and it resolves the confirms that were pending as
// nacks, which cannot be told apart from the broker's. The transport's own
// supervisor has none of these problems: deliveries are settled on the channel
// they came from, and a settle on a lost channel fails.
//
// # Options
//
// [Options] is a struct whose zero value works: connections named after the
// program, prefix "rampart", exchange "rampart.events", quorum queues, 4
// publisher channels of 512 unconfirmed messages, heartbeats every 10s,
// connection attempts bounded by 10s, reconnect backoff from 100ms to 5s.
// Use [QueueClassic] for a broker without quorum queues (RabbitMQ before 3.8)
// or when replication is not wanted.
package rabbitmq
