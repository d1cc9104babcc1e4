package sqldb

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Schema describes the embedded migrations of one component.
type Schema struct {
	// Pkg starts the error messages: "outbox", "sqlinbox".
	Pkg string
	// Component is the component's name in the schema_version table.
	Component string
	// FS holds the migrations, Dir/<dialect>/NNNN_name.sql, with {{prefix}}
	// standing for the table prefix.
	FS  fs.FS
	Dir string
	// WAL switches a SQLite file to WAL mode before migrating.
	WAL bool
}

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations of d in version order, with prefix filled in.
func (s Schema) Migrations(d Dialect, prefix string) ([]Migration, error) {
	dir := path.Join(s.Dir, d.String())
	entries, err := fs.ReadDir(s.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: embedded schema: %w", s.Pkg, err)
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("%s: embedded schema: bad file name %q", s.Pkg, e.Name())
		}
		b, err := fs.ReadFile(s.FS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("%s: embedded schema: %w", s.Pkg, err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: strings.ReplaceAll(string(b), "{{prefix}}", prefix)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate creates or updates the component's tables in db under prefix. Each
// migration is applied once, in a transaction, and recorded in the
// <prefix>schema_version table shared by every component of the prefix
// (PostgreSQL: under an advisory lock; SQLite: in a BEGIN IMMEDIATE transaction).
func (s Schema) Migrate(ctx context.Context, db DB, d Dialect, prefix string) error {
	ms, err := s.Migrations(d, prefix)
	if err != nil {
		return err
	}
	if s.WAL && d == SQLite {
		// WAL lets readers run beside the writer; it is a property of the file,
		// kept once set.
		r, err := db.Query(ctx, "PRAGMA journal_mode=WAL")
		if err != nil {
			return fmt.Errorf("%s: migrate: WAL mode: %w", s.Pkg, err)
		}
		for r.Next() {
		}
		r.Close()
	}
	err = db.InTx(ctx, d == SQLite, func(q Querier) error {
		if d == Postgres {
			// CREATE ... IF NOT EXISTS races with itself in PostgreSQL: serialise.
			if _, err := q.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", AdvisoryKey(prefix)); err != nil {
				return err
			}
		}
		if _, err := q.Exec(ctx, SchemaVersionDDL(d, prefix)); err != nil {
			return err
		}
		var cur int
		if _, err := q.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+prefix+"schema_version WHERE component = $1",
			[]any{s.Component}, &cur); err != nil {
			return err
		}
		for _, m := range ms {
			if m.Version <= cur {
				continue
			}
			if _, err := q.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := q.Exec(ctx, "INSERT INTO "+prefix+"schema_version (component, version) VALUES ($1, $2)", s.Component, m.Version); err != nil {
				return fmt.Errorf("%s: recording the version: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate %s schema %q: %w", s.Pkg, d, prefix, err)
	}
	return nil
}

// SchemaVersionDDL creates the table of applied migrations, shared by every
// component that uses the prefix.
func SchemaVersionDDL(d Dialect, prefix string) string {
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

// AdvisoryKey is the PostgreSQL advisory lock that serialises migrations of one
// prefix, whichever component runs them.
func AdvisoryKey(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rampart-schema:" + prefix))
	return int64(h.Sum64())
}
