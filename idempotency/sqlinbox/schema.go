package sqlinbox

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed schema
var schemaFS embed.FS

// component is this package's name in the schema_version table, which the outbox
// shares under the same prefix.
const component = "inbox"

// Migrate creates or updates the inbox's table. It is idempotent and safe to run
// from several processes at once: each migration is applied once, in a
// transaction, and recorded in the <prefix>schema_version table (PostgreSQL:
// under an advisory lock; SQLite: in a BEGIN IMMEDIATE transaction). Run it once
// at startup, before the store is used.
func (s *Store) Migrate(ctx context.Context) error {
	dir := path.Join("schema", s.dialect.String())
	entries, err := schemaFS.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sqlinbox: embedded schema: %w", err)
	}
	type migration struct {
		version int
		name    string
		sql     string
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return fmt.Errorf("sqlinbox: embedded schema: bad file name %q", e.Name())
		}
		b, err := schemaFS.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("sqlinbox: embedded schema: %w", err)
		}
		ms = append(ms, migration{v, e.Name(), strings.ReplaceAll(string(b), "{{prefix}}", s.prefix)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	err = s.db.inTx(ctx, s.dialect == SQLite, func(q querier) error {
		if s.dialect == Postgres {
			if _, err := q.exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey(s.prefix)); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, schemaVersionDDL(s.dialect, s.prefix)); err != nil {
			return err
		}
		var cur int
		if _, err := q.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+s.prefix+"schema_version WHERE component = $1",
			[]any{component}, &cur); err != nil {
			return err
		}
		for _, m := range ms {
			if m.version <= cur {
				continue
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := q.exec(ctx, "INSERT INTO "+s.prefix+"schema_version (component, version) VALUES ($1, $2)", component, m.version); err != nil {
				return fmt.Errorf("%s: recording the version: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlinbox: migrate %s schema %q: %w", s.dialect, s.prefix, err)
	}
	return nil
}

// schemaVersionDDL is the table of applied migrations, the same as the outbox's.
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
// prefix; the outbox computes the same key, as the two share schema_version.
func advisoryKey(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rampart-schema:" + prefix))
	return int64(h.Sum64())
}
