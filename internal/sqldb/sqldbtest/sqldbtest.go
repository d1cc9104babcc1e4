// Package sqldbtest holds the test helpers shared by the outbox's and the SQL
// inbox's tests.
package sqldbtest

import (
	"database/sql"
	"testing"
)

// SQLiteDSN is the recommended way to open a SQLite database for the outbox and
// the inbox: WAL, a busy timeout, and write transactions that take the lock at
// BEGIN.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

// OpenSQL opens dsn with driver, closed when t ends.
func OpenSQL(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
