package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/rampart-go/rampart/outbox"
)

// OutboxBacklog is what waits in the outbox: rows committed and not yet
// confirmed by the broker (see outbox.Backlog).
type OutboxBacklog = outbox.Backlog

// OutboxBacklog reads the backlog of the outbox table (table, such as
// "rampart_outbox": the outbox of prefix "rampart_") with outbox.ReadBacklog.
func (s *Store) OutboxBacklog(ctx context.Context, table string) (OutboxBacklog, error) {
	prefix, ok := strings.CutSuffix(table, "outbox")
	if !ok {
		return OutboxBacklog{}, fmt.Errorf("store: outbox backlog: %q is not an outbox table", table)
	}
	d := outbox.SQLite
	if s.dialect == Postgres {
		d = outbox.Postgres
	}
	b, err := outbox.ReadBacklog(ctx, s.db, outbox.Options{TablePrefix: prefix, Dialect: d})
	if err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	return b, nil
}
