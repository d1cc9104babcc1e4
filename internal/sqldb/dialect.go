// Package sqldb is the SQL plumbing shared by the outbox and the SQL inbox
// (idempotency/sqlinbox): the dialect and its detection, the table-prefix check,
// one face over *sql.DB and *pgxpool.Pool, and the embedded-migration runner with
// the <prefix>schema_version table the two share.
package sqldb

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
)

// Dialect is the SQL dialect of a database. The zero value asks for detection
// from the database/sql driver.
type Dialect uint8

const (
	// DetectDialect tells the dialect from the driver: PostgreSQL for
	// github.com/jackc/pgx/v5/stdlib and github.com/lib/pq, SQLite for
	// modernc.org/sqlite, github.com/mattn/go-sqlite3 and github.com/ncruces/go-sqlite3.
	DetectDialect Dialect = iota
	// Postgres is PostgreSQL 12 or later.
	Postgres
	// SQLite is SQLite 3; the packages that use it state the least version they need.
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

// Detect resolves DetectDialect from the driver of db; Postgres and SQLite are
// returned as they are. The caller words the errors: unknownFmt formats the
// unknown dialect d (%d), undetectedFmt the driver, package.Type (%s), whose
// dialect cannot be told.
func Detect(db *sql.DB, d Dialect, unknownFmt, undetectedFmt string) (Dialect, error) {
	switch d {
	case Postgres, SQLite:
		return d, nil
	case DetectDialect:
	default:
		return 0, fmt.Errorf(unknownFmt, uint8(d))
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
	return 0, fmt.Errorf(undetectedFmt, pkg+"."+t.Name())
}

// DefaultTablePrefix starts the names of the tables when no prefix is set.
const DefaultTablePrefix = "rampart_"

// MaxPrefixLen keeps the longest name derived from a prefix within PostgreSQL's
// 63-byte identifiers.
const MaxPrefixLen = 40

// CheckPrefix returns the prefix to use: DefaultTablePrefix for "", p itself if it
// is 1 to 40 lower-case ASCII letters, digits and '_', not starting with a digit.
// Its errors start with pkg (the caller's package name) and name the option field.
func CheckPrefix(pkg, field, p string) (string, error) {
	if p == "" {
		return DefaultTablePrefix, nil
	}
	if len(p) > MaxPrefixLen {
		return "", fmt.Errorf("%s: %s %q is longer than %d bytes", pkg, field, p, MaxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return "", fmt.Errorf("%s: %s %q has %q at %d; want lower-case letters, digits and '_', not starting with a digit", pkg, field, p, c, i)
		}
	}
	return p, nil
}
