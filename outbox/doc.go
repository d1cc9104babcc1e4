// Package outbox publishes events if and only if the database transaction that
// produced them commits: the transactional outbox.
//
// A service that changes its database and then publishes an event can lose the
// event (the process dies, or the broker is down, between the commit and the
// publish) or publish one whose change was rolled back. With an outbox, the
// service writes the event into an outbox table in the same transaction as its own
// change, and a [Relay] publishes the committed rows through the broker afterwards,
// retrying until the broker confirms them:
//
//	relay, err := outbox.NewRelay(db, transport, outbox.RelayOptions{}) // the transport of bus b
//	err = relay.Start(ctx)
//	defer relay.Close()
//
//	tx, err := db.BeginTx(ctx, nil)
//	_, err = tx.ExecContext(ctx, "INSERT INTO orders ...")
//	_, err = outbox.Write(ctx, tx, b, OrderCreated{ID: id, Total: total}, bus.WithPartitionKey(id)) // WritePgx for a pgx.Tx
//	err = tx.Commit() // the relay publishes the event now
//
// # The outbox pattern
//
// [Write] encodes the event with the bus ([bus.Bus.Encode]: the message
// [bus.Bus.Publish] would send, with the envelope in its headers, the encoded
// body, the event ID, the event type and the ordering key, the partition key or
// else the subject) and writes it in the transaction; [Add] writes messages
// encoded beforehand. The relay publishes exactly that message through a
// [Publisher] (a [bus.Transport]; pass the one of your bus), so consumers cannot
// tell an event that went through the outbox from one published directly. A
// rolled-back transaction leaves no row and publishes nothing.
//
// Nothing is to be called after the commit. On PostgreSQL a trigger NOTIFYs the
// relays when the transaction commits. On SQLite, Write and Add wake the relays of
// their outbox that run in the same process; a relay so woken reads under the
// database's write lock, so it waits (within the busy timeout) for the writing
// transaction to commit or roll back rather than looking too early. A relay in
// another process, or one whose database/sql driver cannot LISTEN, finds the rows
// at its next poll; [Relay.Notify] wakes a relay by hand.
//
// Delivery is at least once: a relay that dies after the broker confirmed a batch
// and before it marked the rows sent publishes them again after its lease. The
// repeat carries the same event ID, which the consumers' inbox (package
// idempotency; [github.com/rampart-go/rampart/idempotency/sqlinbox] in the same
// database) recognises.
//
// [Outbox] holds the table name for a prefix other than the default; [Write],
// [WritePgx], [Add] and [AddPgx] write into the default outbox, rampart_outbox.
// Write and Add take any [SQLTx] (*sql.Tx), WritePgx and AddPgx any [PgxTx]
// (pgx.Tx). The outbox works on PostgreSQL and SQLite.
//
// # Schema
//
// The tables come with the package (embedded SQL) and are created by [Migrate]
// ([MigratePgx]), which [Relay.Start] also runs. Migrations are applied once each,
// under PostgreSQL's advisory lock or SQLite's write lock, and recorded in
// <prefix>schema_version (component "outbox"), so running them again, or from
// several processes at once, is harmless. The prefix, "rampart_" by default, is
// [Options.TablePrefix]; the SQL inbox may share it.
//
// Upgrading a large outbox on PostgreSQL: each migration runs in one
// transaction, and migration 2 (parked rows) adds two columns and builds three
// partial indexes with plain CREATE INDEX, which holds a lock that blocks
// writes to the outbox table — and so the transactions of the program that add
// events — for as long as the build takes, which grows with the table (sent
// rows stay for RelayOptions.Retention, a day by default). On a table of
// millions of rows, run [Migrate] once before the new version starts, at a
// quiet time, or first run the two ALTER TABLE statements of
// schema/postgres/0002_parked.sql yourself (adding a column without a default
// is quick) and build its three indexes with CREATE INDEX CONCURRENTLY under
// the same names: the migration's IF NOT EXISTS then leaves them alone.
//
// <prefix>outbox has one row per event: seq (an identity, the order of Add),
// event_id (unique), event_type, ordering_key (empty when none), headers (JSON),
// body, created_at, attempts, last_error (of the last failed publication),
// claimed_until and claimed_by (a relay's lease, or the backoff after a failure),
// sent_at, and parked_at with parked_reason (see below). Partial indexes cover the
// pending rows (unsent, not parked), by seq and by key and seq, the parked ones,
// and the sent ones by sent_at. On PostgreSQL a statement trigger NOTIFYs the
// channel <prefix>outbox when rows are added; on SQLite the table
// <prefix>outbox_relay holds the relay lock.
//
// # Failures and parked rows
//
// A row whose publication fails keeps its last_error and its attempts, and is
// retried with [RelayOptions.Backoff]; while it waits, the rows of its key wait
// behind it. A broker that is down fails every row, so by default a row is
// retried for as long as it fails. Two kinds of row are parked instead: set
// aside with their reason, their last error and their attempts, no longer tried,
// and holding back nothing (the rows of their key after them go on):
//
//   - a row the publisher reports unroutable ([bus.ErrUnroutable]: RabbitMQ and
//     the memory transport when no subscription is bound to the event's type) is
//     parked, reason [ParkUnroutable], at its first such failure once
//     [RelayOptions.UnroutableGrace] (one minute by default) has passed since it
//     was added (created_at), since trying again fails again until someone
//     subscribes (JetStream never reports it). Within the grace it is retried
//     like any failed row, holding back its key, so that an event published
//     before its consumers declared their queues (services starting together)
//     is delivered in order rather than parked; a negative grace parks it at its
//     first unroutable failure;
//   - with [RelayOptions.MaxAttempts] set, a row that failed that many times is
//     parked, reason [ParkMaxAttempts].
//
// A parked row is logged (a warning naming the event, its type, reason and
// error), reported to [RelayOptions.OnPark], counted in [Backlog.Parked], and
// kept until [ReplayParked] puts it back (all of them, or by type, reason or
// event ID), once a subscription is bound or the cause fixed. Parking gives up
// the order of the key for that row: it is published, if replayed, after rows
// that followed it. Subscribe before you publish: bind the queues of a new event
// type before the producers' relays publish it (or within their grace), or
// replay what was parked.
//
// To see what waits: [ReadBacklog], or SELECT * FROM rampart_outbox WHERE
// sent_at IS NULL ORDER BY seq (parked rows have parked_at set).
//
// # Relays and ordering
//
// Rows of one ordering key are published in the order of seq, one key's rows never
// by two relays at once; rows with no key, and rows of different keys, in any
// order and in parallel.
//
// On PostgreSQL a relay claims a batch in one statement. It takes the head of each
// key (the oldest pending row of that key) when the head's lease is free, with FOR
// UPDATE SKIP LOCKED so that relays claiming at the same moment skip each other's
// heads instead of waiting; and with each head the free rows that follow it in its
// key. A row that is not a head is never claimed on its own. That is why SKIP
// LOCKED cannot reorder a key: a relay that skips a locked head does not move on to
// the next row of the same key, because that row is not a head while the locked
// one is unsent. Claimed rows get claimed_by and claimed_until (now + [RelayOptions.Lease])
// and are published in seq order, in calls to the publisher that hold at most
// one row of each key and rows of one event type (the first row of every key, by
// type, then the second, ...: a publisher may publish one call's messages in
// parallel, as RabbitMQ's does). The rows of a call that succeeded are sent; after
// a call fails its rows are published again one by one, to find the failing ones.
// A row reported unroutable is parked once its grace is over, or else waits for
// its backoff (holding back its key), and the batch goes on; the first row that
// fails otherwise waits for its backoff (claimed_until in the future), which holds
// back the rest of its key, or is parked, and the other keys go on, unless a
// second row fails (the broker is down, most likely). The rows published are
// marked sent; the rest of the batch is released. A relay
// stops publishing a batch when four fifths of the lease are over, and a relay that
// dies leaves rows that another relay claims when the lease ends. So any number of
// relays can run, and together they publish every row.
//
// Order per key is the order of seq, that is of Add, when the transactions that add
// events of one key are serialised, as they are when each updates (or locks) the
// key's aggregate row, the usual case. Two transactions that add events of one key
// without touching a common row may commit in the other order than their seq.
//
// On SQLite one relay runs per database file: [Relay.Start] takes a lock row
// (owner, expiry) and renews it every third of [RelayOptions.LockTTL]; a second relay
// gets a [*LockedError] naming the holder, or waits as a standby with
// [RelayOptions.Standby] and takes over when the holder closes (at once) or dies
// (within the TTL). The single relay publishes every free unsent row in seq order,
// except those behind a row of their key that is waiting for its backoff.
//
// Sent rows are deleted after [RelayOptions.Retention] (24 hours by default), 1,000
// at a time, every [RelayOptions.CleanupInterval].
//
// # SQLite vs PostgreSQL
//
// PostgreSQL (through pgx, [NewPgxRelay], or database/sql with the pgx stdlib
// driver, [NewRelay]) is for services with several instances: each can run a
// relay, leases are measured by the database's clock, and LISTEN/NOTIFY wakes the
// relays. SQLite (modernc.org/sqlite, no cgo) is the embedded default for a single
// instance: one relay per file, times by the process's clock. Open SQLite in WAL
// mode with a busy timeout, and with write transactions that take the lock at
// BEGIN, so that a transaction that reads and then writes cannot fail with
// SQLITE_BUSY:
//
//	file:app.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate
//
// [Migrate] switches the file to WAL (a property of the file) in any case.
//
// # Latency
//
// On PostgreSQL the trigger's NOTIFY reaches every relay's LISTEN connection when
// the adding transaction commits, so a row is claimed one round trip after the
// commit (a median under a millisecond at a steady 200 events a second, in
// bench/outbox_test.go); the poll ([RelayOptions.PollInterval], 1s) only catches
// what a lost connection missed, and rows whose lease or backoff ended.
//
// NOTIFY has a cost: PostgreSQL serialises the commits of transactions that
// notify (a global lock held until the commit is flushed), which on the
// development machine capped the commits that add events at about 1,200 a second,
// against 3,000 to 5,000 without. A service that commits events faster can drop
// the trigger (DROP TRIGGER rampart_outbox_notify ON rampart_outbox; migrations do
// not create it again) and give its relays a short PollInterval: at 10ms the
// median from commit to publish was 5ms.
//
// On SQLite the relay polls every 100ms; [Write] and [Add] wake a relay of the
// same process, which publishes as soon as the transaction commits. A relay that
// found rows looks again at once, until the table is drained.
//
// Relays, [Outbox] and the functions of this package are safe for concurrent use.
package outbox
