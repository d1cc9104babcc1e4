package outbox

import (
	"database/sql"

	"github.com/rampart-go/rampart/internal/sqldb"
)

// Dialect is the SQL dialect of the database that holds the outbox. The zero value
// asks [NewRelay] and [Migrate] to tell it from the database/sql driver. Its
// String method returns "postgres", "sqlite" or "detect".
type Dialect = sqldb.Dialect

const (
	// DetectDialect tells the dialect from the driver: PostgreSQL for
	// github.com/jackc/pgx/v5/stdlib and github.com/lib/pq, SQLite for
	// modernc.org/sqlite, github.com/mattn/go-sqlite3 and github.com/ncruces/go-sqlite3.
	DetectDialect = sqldb.DetectDialect
	// Postgres is PostgreSQL 12 or later.
	Postgres = sqldb.Postgres
	// SQLite is SQLite 3.38 or later.
	SQLite = sqldb.SQLite
)

// detectDialect resolves DetectDialect from the driver of db.
func detectDialect(db *sql.DB, d Dialect) (Dialect, error) {
	return sqldb.Detect(db, d, "outbox: unknown dialect %d",
		"outbox: cannot tell the SQL dialect of driver %s; set the Dialect option")
}

// DefaultTablePrefix starts the names of the outbox's tables when no prefix is set:
// rampart_outbox, rampart_outbox_relay and rampart_schema_version.
const DefaultTablePrefix = sqldb.DefaultTablePrefix

// checkPrefix returns the prefix to use: DefaultTablePrefix for "", p itself if it
// is 1 to 40 lower-case ASCII letters, digits and '_', not starting with a digit.
func checkPrefix(p string) (string, error) {
	return sqldb.CheckPrefix("outbox", "TablePrefix", p)
}
