// Package store keeps the customers service's data in SQL: SQLite
// (modernc.org/sqlite, no cgo) for the embedded default, or PostgreSQL (through
// pgx's database/sql driver) in production. The same statements run on both;
// the schema, in migrations/, has one file per dialect.
//
// # Transactions
//
// Writes go through [Store.InTx], whose [*Tx] also hands its *sql.Tx ([Tx.SQL])
// to the outbox (outbox.Add) and the SQL inbox (sqlinbox.Store.DoneTx), so that
// a change, the events it produces and the inbox mark of the handler that made
// it commit together. Reads that need no consistency with a write use the
// Store's own methods.
//
// On SQLite the database is opened in WAL mode with a busy timeout and write
// transactions that take the lock at BEGIN (_txlock=immediate), as package
// outbox recommends: one writer at a time, readers never blocked. On PostgreSQL
// the rows a use case changes are read with SELECT ... FOR UPDATE.
//
// # Times
//
// Times are TIMESTAMPTZ on PostgreSQL and Unix microseconds (INTEGER) on
// SQLite; the store converts them, so callers see time.Time in UTC.
//
// # Migrations
//
// [Store.Migrate] applies the files of migrations/<dialect>/ in order, each once,
// recording them in customers_schema_version, under PostgreSQL's advisory lock or
// SQLite's write lock, so that instances starting together apply them once. The
// tables of the outbox and the inbox are migrated by their own packages.
//
// A Store is safe for concurrent use.
package store
