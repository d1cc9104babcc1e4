package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// migration is one file of migrations/<dialect>/: NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations of d, in order.
func migrations(d Dialect) ([]migration, error) {
	dir := "migrations/" + string(d)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration %s/%s: want NNNN_name.sql", dir, name)
		}
		data, err := fs.ReadFile(migrationFiles, dir+"/"+name)
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrateLockKey is the PostgreSQL advisory lock that serialises migrations.
const migrateLockKey = 0x637573746f6d6572 // "customer"

// Migrate applies the migrations the database lacks, in one transaction, and
// reports which it applied. Running it again, or from several instances at once,
// is harmless.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	list, err := migrations(s.dialect)
	if err != nil {
		return nil, err
	}
	applied = []string{}
	err = s.InTx(ctx, func(tx *Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockKey)); err != nil {
				return fmt.Errorf("store: migrate: lock: %w", err)
			}
		}
		if _, err := tx.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS customers_schema_version (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		done := map[int]bool{}
		rows, err := tx.tx.QueryContext(ctx, "SELECT version FROM customers_schema_version")
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("store: migrate: %w", err)
			}
			done[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		for _, m := range list {
			if done[m.version] {
				continue
			}
			if _, err := tx.tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if _, err := tx.tx.ExecContext(ctx, "INSERT INTO customers_schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			applied = append(applied, m.name)
		}
		return nil
	})
	return applied, err
}
