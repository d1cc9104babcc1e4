package outbox

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed schema
var schemaFS embed.FS

// component is this package's name in the schema_version table, which the SQL
// inbox (idempotency/sqlinbox) shares under the same prefix.
const component = "outbox"

// migration is one embedded schema change: schema/<dialect>/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations of d in version order, with prefix filled in.
func migrations(d Dialect, prefix string) ([]migration, error) {
	dir := path.Join("schema", d.String())
	entries, err := schemaFS.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: embedded schema: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("outbox: embedded schema: bad file name %q", e.Name())
		}
		b, err := schemaFS.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("outbox: embedded schema: %w", err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: strings.ReplaceAll(string(b), "{{prefix}}", prefix)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

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
	return migrate(ctx, sqlDB{db}, d, prefix)
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
	return migrate(ctx, pgxDB{pool}, Postgres, prefix)
}

func migrate(ctx context.Context, db database, d Dialect, prefix string) error {
	ms, err := migrations(d, prefix)
	if err != nil {
		return err
	}
	if d == SQLite {
		// WAL lets readers (the relay) run beside the writer (the service); it is
		// a property of the file, kept once set.
		r, err := db.query(ctx, "PRAGMA journal_mode=WAL")
		if err != nil {
			return fmt.Errorf("outbox: migrate: WAL mode: %w", err)
		}
		for r.Next() {
		}
		r.Close()
	}
	err = db.inTx(ctx, d == SQLite, func(q querier) error {
		if d == Postgres {
			// CREATE ... IF NOT EXISTS races with itself in PostgreSQL: serialise.
			if _, err := q.exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey(prefix)); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, schemaVersionDDL(d, prefix)); err != nil {
			return err
		}
		cur := 0
		r, err := q.query(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+prefix+"schema_version WHERE component = $1", component)
		if err != nil {
			return err
		}
		for r.Next() {
			if err := r.Scan(&cur); err != nil {
				r.Close()
				return err
			}
		}
		r.Close()
		if err := r.Err(); err != nil {
			return err
		}
		for _, m := range ms {
			if m.version <= cur {
				continue
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := q.exec(ctx, "INSERT INTO "+prefix+"schema_version (component, version) VALUES ($1, $2)", component, m.version); err != nil {
				return fmt.Errorf("%s: recording the version: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: migrate %s schema %q: %w", d, prefix, err)
	}
	return nil
}

// schemaVersionDDL creates the table of applied migrations, shared by every
// component that uses the prefix.
func schemaVersionDDL(d Dialect, prefix string) string {
	if d == Postgres {
		return "CREATE TABLE IF NOT EXISTS " + prefix + `schema_version (
	component  TEXT NOT NULL,
	version    INTEGER NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (component, version)
)`
	}
	return "CREATE TABLE IF NOT EXISTS " + prefix + `schema_version (
	component  TEXT NOT NULL,
	version    INTEGER NOT NULL,
	applied_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
	PRIMARY KEY (component, version)
)`
}

// advisoryKey is the PostgreSQL advisory lock that serialises migrations of one
// prefix (shared with the SQL inbox, which computes it the same way).
func advisoryKey(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rampart-schema:" + prefix))
	return int64(h.Sum64())
}
