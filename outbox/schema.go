package outbox

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/internal/sqldb"
)

//go:embed schema
var schemaFS embed.FS

// component is this package's name in the schema_version table, which the SQL
// inbox (idempotency/sqlinbox) shares under the same prefix.
const component = "outbox"

// Migrate creates or updates the outbox's tables in db, a PostgreSQL or SQLite
// database, under opts.TablePrefix. It is idempotent and safe to run from several
// processes at once: each migration is applied once, in a transaction, and
// recorded in the <prefix>schema_version table (PostgreSQL: under an advisory
// lock; SQLite: in a BEGIN IMMEDIATE transaction). On SQLite it also switches the
// file to WAL mode. [Relay.Start] runs it too; run it at startup when events may be
// added before the relay starts.
func Migrate(ctx context.Context, db *sql.DB, opts Options) error {
	if db == nil {
		return fmt.Errorf("outbox: Migrate: db is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return err
	}
	d, err := detectDialect(db, opts.Dialect)
	if err != nil {
		return err
	}
	return migrate(ctx, sqlDB{sqldb.NewSQL(db)}, d, prefix)
}

// MigratePgx is [Migrate] for a pgx pool (PostgreSQL); opts.Dialect is ignored.
func MigratePgx(ctx context.Context, pool *pgxpool.Pool, opts Options) error {
	if pool == nil {
		return fmt.Errorf("outbox: MigratePgx: pool is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return err
	}
	return migrate(ctx, pgxDB{sqldb.NewPgx(pool)}, Postgres, prefix)
}

// schema is the outbox's embedded migrations.
var schema = sqldb.Schema{Pkg: "outbox", Component: component, FS: schemaFS, Dir: "schema", WAL: true}

func migrate(ctx context.Context, db database, d Dialect, prefix string) error {
	return schema.Migrate(ctx, db, d, prefix)
}
