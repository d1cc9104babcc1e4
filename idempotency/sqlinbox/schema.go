package sqlinbox

import (
	"context"
	"embed"

	"github.com/rampart-go/rampart/internal/sqldb"
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
	return schema.Migrate(ctx, s.db, s.dialect, s.prefix)
}

// schema is the inbox's embedded migrations.
var schema = sqldb.Schema{Pkg: "sqlinbox", Component: component, FS: schemaFS, Dir: "schema"}
