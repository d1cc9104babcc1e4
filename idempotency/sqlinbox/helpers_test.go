package sqlinbox_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/rampart-go/rampart/idempotency/sqlinbox"
	"github.com/rampart-go/rampart/internal/sqldb/sqldbtest"
	"github.com/rampart-go/rampart/internal/testenv"
)

var ctx = context.Background()

type backend struct {
	name    string
	dialect sqlinbox.Dialect
	pgx     bool
}

var (
	pgSQL       = backend{"postgres-sql", sqlinbox.Postgres, false}
	pgPgx       = backend{"postgres-pgx", sqlinbox.Postgres, true}
	sqlite      = backend{"sqlite", sqlinbox.SQLite, false}
	allBackends = []backend{sqlite, pgSQL, pgPgx}
)

// env is an inbox of its own: a table prefix of its own on the test PostgreSQL
// (dropped at the end) or a new SQLite file, with an effects table that stands for
// the handler's own writes.
type env struct {
	t       testing.TB
	backend backend
	prefix  string
	dsn     string
	db      *sql.DB
	pool    *pgxpool.Pool
	store   *sqlinbox.Store
}

func newEnv(t testing.TB, be backend, opts sqlinbox.Options) *env {
	t.Helper()
	e := &env{t: t, backend: be}
	switch be.dialect {
	case sqlinbox.Postgres:
		e.dsn = testenv.URL(t, testenv.Postgres)
		e.prefix = "t" + strings.ToLower(rand.Text()[:10]) + "_"
		e.db = openSQL(t, "pgx", e.dsn)
		t.Cleanup(func() {
			if _, err := e.db.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %[1]sinbox, %[1]sschema_version, %[1]seffects", e.prefix)); err != nil {
				t.Errorf("dropping the tables of %s: %v", e.prefix, err)
			}
		})
	case sqlinbox.SQLite:
		e.dsn = sqliteDSN(filepath.Join(t.TempDir(), "app.db"))
		e.prefix = "app_"
		e.db = openSQL(t, "sqlite", e.dsn)
	}
	opts.TablePrefix = e.prefix
	var err error
	if be.pgx {
		pool, perr := pgxpool.New(ctx, e.dsn)
		if perr != nil {
			t.Fatal(perr)
		}
		t.Cleanup(pool.Close)
		e.pool = pool
		e.store, err = sqlinbox.NewPgx(pool, opts)
	} else {
		e.store, err = sqlinbox.New(e.db, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+e.prefix+"effects (message_id TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	sqliteDSN = sqldbtest.SQLiteDSN
	openSQL   = sqldbtest.OpenSQL
)

// effects counts the handler's writes for message id.
func (e *env) effects(id string) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT count(*) FROM "+e.prefix+"effects WHERE message_id = $1", id).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// handle runs a handler of message id in a transaction: it writes its effect,
// marks the message done with DoneTx, and commits (or rolls back if commit is
// false). It returns DoneTx's error, after rolling back.
func (e *env) handle(id string, commit bool) error {
	e.t.Helper()
	k := key(id)
	if e.pool != nil {
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "INSERT INTO "+e.prefix+"effects (message_id) VALUES ($1)", id); err != nil {
			e.t.Fatal(err)
		}
		if err := e.store.DonePgxTx(ctx, tx, k); err != nil {
			return err
		}
		if commit {
			return tx.Commit(ctx)
		}
		return tx.Rollback(ctx)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+e.prefix+"effects (message_id) VALUES ($1)", id); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.DoneTx(ctx, tx, k); err != nil {
		return err
	}
	if commit {
		return tx.Commit()
	}
	return tx.Rollback()
}

func newID() string { return "m-" + rand.Text() }

const consumer = "billing"

// waitClaimed claims until it gets a claim (a lease has to end first).
func waitClaimed(t testing.TB, e *env, id string, lease, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, tok, err := e.store.Claim(ctx, key(id), lease)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			return string(tok)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Claim(%s) still %v after %v", id, st, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
