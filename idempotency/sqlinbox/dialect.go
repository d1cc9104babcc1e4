package sqlinbox

import "github.com/rampart-go/rampart/internal/sqldb"

// Dialect is the SQL dialect of the database that holds the inbox (the type of
// outbox.Dialect too). The zero value, DetectDialect, asks [New] to tell it from
// the database/sql driver: PostgreSQL for github.com/jackc/pgx/v5/stdlib and
// github.com/lib/pq, SQLite for modernc.org/sqlite, github.com/mattn/go-sqlite3
// and github.com/ncruces/go-sqlite3. Its String method returns "postgres",
// "sqlite" or "detect".
type Dialect = sqldb.Dialect

// The dialects: DetectDialect, Postgres (PostgreSQL 12 or later) and SQLite
// (SQLite 3.35 or later).
const (
	DetectDialect = sqldb.DetectDialect
	Postgres      = sqldb.Postgres
	SQLite        = sqldb.SQLite
)

// DefaultTablePrefix starts the names of the inbox's tables when no prefix is set:
// rampart_inbox and rampart_schema_version (shared with the outbox).
const DefaultTablePrefix = sqldb.DefaultTablePrefix
