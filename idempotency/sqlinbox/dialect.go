package sqlinbox

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
)

// Dialect is the SQL dialect of the database that holds the inbox. The zero value
// asks [New] to tell it from the database/sql driver.
type Dialect uint8

const (
	// DetectDialect tells the dialect from the driver: PostgreSQL for
	// github.com/jackc/pgx/v5/stdlib and github.com/lib/pq, SQLite for
	// modernc.org/sqlite, github.com/mattn/go-sqlite3 and github.com/ncruces/go-sqlite3.
	DetectDialect Dialect = iota
	// Postgres is PostgreSQL 12 or later.
	Postgres
	// SQLite is SQLite 3.35 or later.
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

func detectDialect(db *sql.DB, d Dialect) (Dialect, error) {
	switch d {
	case Postgres, SQLite:
		return d, nil
	case DetectDialect:
	default:
		return 0, fmt.Errorf("sqlinbox: Options.Dialect: unknown dialect %d", uint8(d))
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
	return 0, fmt.Errorf("sqlinbox: cannot tell the SQL dialect of driver %s.%s; set Options.Dialect", pkg, t.Name())
}

// DefaultTablePrefix starts the names of the inbox's tables when no prefix is set:
// rampart_inbox and rampart_schema_version (shared with the outbox).
const DefaultTablePrefix = "rampart_"

func checkPrefix(p string) (string, error) {
	if p == "" {
		return DefaultTablePrefix, nil
	}
	if len(p) > 40 {
		return "", fmt.Errorf("sqlinbox: Options.TablePrefix %q is longer than 40 bytes", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return "", fmt.Errorf("sqlinbox: Options.TablePrefix %q has %q at %d; want lower-case letters, digits and '_', not starting with a digit", p, c, i)
		}
	}
	return p, nil
}
