package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is the SQL dialect of a Store's database.
type Dialect string

// The dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the service's database. Build it with [Open]; [Store.Close] closes it.
type Store struct {
	db      *sql.DB
	dialect Dialect
	where   string // the database, for logs: a file path, or the URL without password
}

// Open opens the database named by dsn: a postgres:// (or postgresql://) URL for
// PostgreSQL, else the path of a SQLite file (created, with its directory, if
// needed; "sqlite:" in front is allowed). It checks that the database answers;
// run [Store.Migrate] before using it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect, s.where = Postgres, redact(dsn)
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", s.where, err)
		}
		s.db.SetMaxOpenConns(20)
	default:
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("store: open: no database: want a postgres:// URL or a SQLite file path")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("store: open %s: %w", path, err)
			}
		}
		s.dialect, s.where = SQLite, path
		// WAL, a busy timeout, and write transactions that take the lock at BEGIN
		// (see package outbox): a transaction that reads then writes never fails
		// with SQLITE_BUSY.
		s.db, err = sql.Open("sqlite", "file:"+path+
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		s.db.SetMaxOpenConns(8)
	}
	if err := s.Ping(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// DB returns the database, for the outbox relay and the SQL inbox, which share
// it.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the database's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// String names the database for logs: "sqlite:" and the file, or the
// PostgreSQL URL without its password.
func (s *Store) String() string {
	if s.dialect == SQLite {
		return "sqlite:" + s.where
	}
	return s.where
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.where, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx is a write transaction. Its methods are the service's writes; [Tx.SQL]
// hands the transaction to the outbox and the inbox.
type Tx struct {
	tx *sql.Tx
	d  Dialect
}

// SQL returns the transaction, for outbox.Add and sqlinbox.Store.DoneTx.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// InTx runs fn in a transaction, committed if fn returns nil and rolled back
// otherwise (fn's error is returned as it is, so that callers match it).
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(&Tx{tx: tx, d: s.dialect}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// forUpdate is the locking clause of a read that precedes a write.
func forUpdate(d Dialect) string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return "" // the transaction holds SQLite's write lock since BEGIN
}

// timeArg is t as a statement's parameter.
func timeArg(d Dialect, t time.Time) any {
	if d == SQLite {
		return t.UnixMicro()
	}
	return t.UTC()
}

// dbTime scans a time column of either dialect into a UTC time.Time.
type dbTime struct{ t *time.Time }

func (d dbTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		*d.t = x.UTC()
	case int64:
		*d.t = time.UnixMicro(x).UTC()
	case nil:
		*d.t = time.Time{}
	default:
		return fmt.Errorf("store: cannot scan %T into a time", v)
	}
	return nil
}

// isUniqueViolation reports whether err is a unique constraint's refusal.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// redact removes the password from a database URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
