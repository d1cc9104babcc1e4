// Package sqlinbox is an [idempotency.Store] in a SQL table, on PostgreSQL
// (github.com/jackc/pgx/v5, pooled or through database/sql) or SQLite
// (modernc.org/sqlite), that can mark a message done inside the handler's own
// database transaction.
//
// # The inbox in the handler's transaction
//
// The memory and Redis inboxes mark a message done after the handler returned: if
// the process dies between the commit of the handler's writes and the mark, the
// redelivery runs the handler again, and its effect happens twice. [Store.DoneTx]
// (for a *sql.Tx) and [Store.DonePgxTx] (for a pgx.Tx) write the mark in the
// handler's transaction instead, so that the writes and the mark commit together
// or not at all:
//
//	err := bus.Handle(b, "invoicing", func(ctx context.Context, e OrderPaid, m bus.Meta) error {
//		tx, err := db.BeginTx(ctx, nil)
//		if err != nil {
//			return err
//		}
//		defer tx.Rollback()
//		if _, err := tx.ExecContext(ctx, "INSERT INTO invoices ...", e.OrderID); err != nil {
//			return err
//		}
//		k := idempotency.Key{Consumer: m.Subscription, MessageID: m.ID}
//		if err := inbox.DoneTx(ctx, tx, k); errors.Is(err, sqlinbox.ErrAlreadyDone) {
//			return nil // handled before: the rollback drops our writes
//		} else if err != nil {
//			return err
//		}
//		return tx.Commit()
//	})
//
// With the store as the bus's inbox ([bus.Options.Inbox]), the bus claims the
// message before the handler runs, and marks it done after; after a DoneTx that
// committed, the bus's Done succeeds (once) and acks. A crash before the commit
// leaves neither the writes nor the mark, and the redelivery runs the handler; a
// crash after it leaves both, and the redelivery is acked without running it. Two
// handlers of one message at once (a duplicate delivered to two instances, or a
// lease that ran out) are serialised by the row lock: the second DoneTx waits for
// the first transaction and returns [ErrAlreadyDone] if it committed.
//
// DoneTx needs no claim: a handler that does not use the bus's inbox can
// deduplicate with DoneTx alone.
//
// # When to choose it over Redis
//
// Choose the SQL inbox when the handler's effect is a write to the same database:
// it is then the only store with which the effect happens exactly once, without the
// handler being idempotent itself, and it needs no other server. Choose Redis
// ([idempotency.Redis]) when the effect is elsewhere (an e-mail, a call to another
// service), where no store can make the effect and the mark atomic, or for very
// high message rates: a Redis round trip is cheaper than a write to a SQL table,
// which also grows the database's write load (and its WAL) by one row per message,
// and needs its expired rows deleted. With SQLite the inbox fits a single
// instance, like the SQLite outbox.
//
// # Schema
//
// [Store.Migrate] creates <prefix>inbox (consumer and message_id as bytes, the
// primary key; done; token; expires_at, the end of the lease or of the retention;
// updated_at) and records the migration in <prefix>schema_version (component
// "inbox"), which the outbox shares under the same prefix ("rampart_" by default).
// Expired rows (done marks past [Options.Retention], claims past their lease) are
// deleted 1,000 at a time by [Store.Cleanup], which Claim runs at most once per
// [Options.CleanupInterval].
package sqlinbox
