// Package jetstream is the NATS JetStream transport of package bus: the same
// buses, handlers and guarantees as on RabbitMQ, on a NATS server or cluster
// ([Connect]) or on a server embedded in the process ([Embedded]), which needs
// no broker at all and keeps its streams in a data directory.
//
//	tr, err := jetstream.Embedded(ctx, jetstream.EmbeddedOptions{DataDir: "var/nats"})
//	// or: tr, err := jetstream.Connect(ctx, "nats://nats-1:4222,nats://nats-2:4222", jetstream.Options{})
//	defer tr.Close()
//	b, err := bus.New(tr, bus.Options{Source: "/customers", Inbox: inbox})
//
// A [Transport] implements [bus.Transport] and [bus.DeadLetterReader], and the
// ConnectionState interface of package health, so that a health check can
// report its connection and consumers.
//
// # Streams and consumers
//
// Everything lives under a prefix ([Options.Prefix], "rampart" by default),
// so that several applications, or tests, share a server. The transport
// declares three streams, which `nats stream ls` lists as:
//
//	rampart_EVENTS       subjects rampart.events.>      interest retention, file storage
//	rampart_DLQ          subjects rampart.dlq.>         limits retention, file storage
//	rampart_REDELIVERY   subjects rampart.redelivery.>  limits retention, one message per subject
//
// An event of type "customers.customer-created.v1" is published to subject
// "rampart.events.customers.customer-created.v1". Each subscription of the bus
// is one durable pull consumer on rampart_EVENTS, named after the
// subscription ("welcome-email" in `nats consumer ls rampart_EVENTS`), whose
// filter subjects are the subjects of its event types: bindings accumulate, as
// on a broker, so the consumer keeps the event types it was ever given.
//
// The events stream has interest retention: a message stays as long as some
// consumer whose filter matches it has not acknowledged or terminated it, and
// goes when every one has. So every subscription gets every event it binds
// (fan-out: one consumer each), the instances of one subscription share its
// events (competing consumers: they pull from the same consumer), and handled
// events do not pile up. A work-queue stream cannot fan out (its consumers'
// filters may not overlap); a limits stream would keep handled events until
// they expire and show a new subscription the events that came before it. An
// event published while no subscription binds its type is dropped by the
// server, as RabbitMQ drops an unroutable message; JetStream does not tell the
// publisher, so Publish never returns [bus.ErrUnroutable].
//
// Declaration is idempotent: a stream or consumer that exists with the same
// configuration is used as it is. The transport never changes a stream; a
// stream or consumer it cannot use is a [*ConfigError] that names the field
// ("stream rampart_EVENTS exists with Retention = Limits; the transport needs
// Interest"). A consumer with several filter subjects needs NATS 2.10 or later;
// on NATS 2.9 a subscription binds a single event type.
//
// # Publishing
//
// [Transport.Publish] sends each message with its event ID as Nats-Msg-Id and
// returns once the events stream has acknowledged it: the server drops a
// message published again with the same ID within [Options.DuplicateWindow]
// (two minutes), so a producer that retries after an error does not duplicate
// the event. Messages go out asynchronously, with at most
// [Options.MaxInFlight] waiting for their acknowledgements over all callers;
// one goroutine sends them, so that hundreds of concurrent publishers do not
// contend for the connection.
//
// The envelope travels in headers, in a compact form: Nats-Msg-Id is ce-id,
// the end of the subject ce-type, ce-specversion is "1.0", and the other
// CloudEvents headers and the attempt go in one header, Rampart-Ce, as
// comma-separated name=value entries named by the attribute
// ("source=/customers,time=2026-11-27T14:55:00.123456789Z,datacontenttype=application/json,correlationid";
// a bare correlationid is the event ID), "%", ",", the space and control bytes
// escaped as %XX, so that any value arrives on the events stream unchanged
// (the full form, below, sends each header as NATS carries it: a value with a
// space at either end, or a line break, is trimmed or changed). traceparent,
// tracestate, the headers of a retry and extensions stay headers of their own.
// Each NATS header costs the client and the server more than its bytes (the
// client writes and parses it line by line, the server scans the header block
// for its own), and the eleven headers of the envelope become two. A consumer
// puts the envelope back, so that handlers see exactly the headers published;
// a Rampart-Ce it cannot read is listed in [bus.HeaderInvalid], and the bus
// dead-letters the message. Messages stored by earlier versions are read as
// they are: in the compact form before this one ("Rampart-Compact: 1", every
// envelope header on its own but the three above) and in the full form (every
// header, no marker). [Options.FullHeaders] sends the full form, for consumers
// of earlier versions during an upgrade. Dead letters are always stored in the
// full form: their subject does not carry the type. Publish refuses a message
// with a header of its own named Rampart-Ce or Rampart-Compact, which would be
// read back as one of these forms.
//
// # The life of a failing message
//
// A consumer pulls at most [bus.Subscription.Prefetch] messages at a time —
// exactly: it asks the server only for the room it has — and acknowledges each
// explicitly (one goroutine of the transport publishes the acks, for the same
// reason as the publishes). Closing a consumer hands the messages it fetched
// and nobody received back to the server at once. While a handler runs, in-progress acks (+WPI) every AckWait/2
// keep the message from going to another consumer, however long the handler
// takes; AckWait ([Options.AckWait], 30 seconds) only decides how soon the
// messages of a consumer that died or lost its connection go to another one.
//
// When a handler fails, the bus asks for a redelivery after a delay. A stored
// message's headers cannot change, so the transport records the next attempt
// number and the headers the bus sets (rampart-attempt, rampart-first-failure,
// rampart-last-error) in rampart_REDELIVERY, under
// "rampart.redelivery.<subscription>.<sequence>", then naks the message with
// that delay (NakWithDelay). When the server delivers it again, the transport
// reads the record and the handler sees the attempt and headers as the bus
// set them — in this process or any other, after a restart too. The server's
// delivery count is not the attempt: it also counts messages handed back at
// shutdown and duplicates the inbox holds back. A crash while a handler runs
// does not count an attempt (as on RabbitMQ); the message comes back, marked
// redelivered, after AckWait.
//
// After the last attempt, or at once for a permanent error or a message that
// cannot be decoded, the bus dead-letters the message: the transport publishes
// it, with the bus's reason headers (rampart-dlq-reason, -error, -error-type,
// -subscription, -attempts, -first-failure, -last-failure) and
// rampart-dlq-origin ("stream=rampart_EVENTS consumer=welcome-email
// subject=rampart.events.customers.customer-created.v1 sequence=42"), to
// "rampart.dlq.<subscription>" on rampart_DLQ, waits for the acknowledgement,
// and then terminates the delivery (+TERM) so that the server never delivers
// it again. The dead letters stay until someone removes them:
// [Transport.DeadLetters] lists a subscription's, `nats stream view rampart_DLQ`
// shows them all, and replaying one is publishing it again.
//
// When a redelivery cannot be scheduled (its record cannot be written) or a
// dead letter cannot be published, the transport hands the message back with a
// plain nak, so that it is delivered again at once, with the attempt it had,
// instead of after AckWait.
//
// [Options.MaxDeliver] is the server's own limit on deliveries. The bus
// decides when a message has failed often enough, so by default there is no
// limit: at the limit the server would stop delivering a message without
// dead-lettering it.
//
// # Embedded mode and the data directory
//
// [Embedded] runs a NATS server with JetStream in the process, with file
// storage in [EmbeddedOptions.DataDir], and connects to it in-process (through
// nats.go's InProcessServer, over a pipe): the server opens no port at all,
// unless [EmbeddedOptions.Listen] asks for one so that the nats tool or other
// processes can connect. Embedded returns once the server is ready, and
// [Transport.Close] shuts it down cleanly. The data directory keeps every
// stream, consumer position and dead letter: a server started again on it
// carries on where the last one stopped, and a message acknowledged to a
// publisher survives the process being killed (it is written before it is
// acknowledged; [EmbeddedOptions.SyncAlways] also syncs it to the disk, against
// power loss). A service outgrows the embedded server by pointing [Connect] at
// a NATS cluster, with the same code.
//
// # Reconnection
//
// The connection reconnects forever, every [Options.ReconnectWait], after the
// server or the network goes away — an embedded server restarted on its data
// directory too. While it reconnects, [Transport.Publish] waits for the
// connection until its ctx ends: a message whose acknowledgement was lost with
// the connection, or that the stream did not answer while the server
// restarted, is published again with the same ID after a backoff (a random
// wait of up to 50ms, doubling up to 1s), and the duplicate window absorbs it
// if it was stored the first time — within [Options.DuplicateWindow] of the
// call, after which Publish gives up with an error that says so. A Publish
// whose ctx ends first returns an error that wraps ctx.Err() and the last
// publish error (the message may be stored: publish it again with the same ID).
// Consumers issue new pull requests on the new connection, and
// detect a pull request that stopped sending heartbeats, or a consumer that was
// deleted, and declare the consumer again. Acknowledgements sent while
// disconnected are delivered on reconnection; a message that was on its way to
// a consumer when the connection broke comes back after AckWait. The inbox of
// the bus absorbs what is delivered twice.
package jetstream
