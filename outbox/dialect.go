package outbox

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
)

// Dialect is the SQL dialect of the database that holds the outbox. The zero value
// asks [NewRelay] and [Migrate] to tell it from the database/sql driver.
type Dialect uint8

const (
	// DetectDialect tells the dialect from the driver: PostgreSQL for
	// github.com/jackc/pgx/v5/stdlib and github.com/lib/pq, SQLite for
	// modernc.org/sqlite, github.com/mattn/go-sqlite3 and github.com/ncruces/go-sqlite3.
	DetectDialect Dialect = iota
	// Postgres is PostgreSQL 12 or later.
	Postgres
	// SQLite is SQLite 3.38 or later.
	SQLite
)

// String returns "postgres", "sqlite" or "detect".
func (d Dialect) String() string {
	switch d {
	case DetectDialect:
		return "detect"
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// detectDialect resolves DetectDialect from the driver of db.
func detectDialect(db *sql.DB, d Dialect) (Dialect, error) {
	switch d {
	case Postgres, SQLite:
		return d, nil
	case DetectDialect:
	default:
		return 0, fmt.Errorf("outbox: unknown dialect %d", uint8(d))
	}
	t := reflect.TypeOf(db.Driver())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	switch {
	case strings.HasPrefix(pkg, "github.com/jackc/pgx/"), pkg == "github.com/lib/pq":
		return Postgres, nil
	case pkg == "modernc.org/sqlite", strings.HasPrefix(pkg, "github.com/mattn/go-sqlite3"),
		strings.HasPrefix(pkg, "github.com/ncruces/go-sqlite3"):
		return SQLite, nil
	}
	return 0, fmt.Errorf("outbox: cannot tell the SQL dialect of driver %s.%s; set the Dialect option", pkg, t.Name())
}

// DefaultTablePrefix starts the names of the outbox's tables when no prefix is set:
// rampart_outbox, rampart_outbox_relay and rampart_schema_version.
const DefaultTablePrefix = "rampart_"

// maxPrefixLen keeps the longest name derived from a prefix within PostgreSQL's
// 63-byte identifiers.
const maxPrefixLen = 40

// checkPrefix returns the prefix to use: DefaultTablePrefix for "", p itself if it
// is 1 to 40 lower-case ASCII letters, digits and '_', not starting with a digit.
func checkPrefix(p string) (string, error) {
	if p == "" {
		return DefaultTablePrefix, nil
	}
	if len(p) > maxPrefixLen {
		return "", fmt.Errorf("outbox: TablePrefix %q is longer than %d bytes", p, maxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return "", fmt.Errorf("outbox: TablePrefix %q has %q at %d; want lower-case letters, digits and '_', not starting with a digit", p, c, i)
		}
	}
	return p, nil
}
