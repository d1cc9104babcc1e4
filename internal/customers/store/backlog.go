package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/rampart-go/rampart/outbox"
)

// OutboxBacklog is what waits in the outbox: rows committed and not yet
// confirmed by the broker, and rows the relay parked (see outbox.Backlog).
type OutboxBacklog = outbox.Backlog

// OutboxBacklog reads the backlog of the outbox table (table, such as
// "rampart_outbox": the outbox of prefix "rampart_") with outbox.ReadBacklog.
func (s *Store) OutboxBacklog(ctx context.Context, table string) (OutboxBacklog, error) {
	opts, err := s.outboxOptions(table)
	if err != nil {
		return OutboxBacklog{}, fmt.Errorf("store: outbox backlog: %w", err)
	}
	b, err := outbox.ReadBacklog(ctx, s.db, opts)
	if err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	return b, nil
}

// ParkedByReason counts the parked rows of the outbox table by reason
// ("unroutable", "max-attempts"); a reason with no row is absent.
func (s *Store) ParkedByReason(ctx context.Context, table string) (map[string]int, error) {
	if _, err := s.outboxOptions(table); err != nil {
		return nil, fmt.Errorf("store: parked outbox rows: %w", err)
	}
	// outboxOptions checked table: it is safe to write in the query.
	rows, err := s.db.QueryContext(ctx, "SELECT COALESCE(parked_reason, ''), COUNT(*) FROM "+table+
		" WHERE parked_at IS NOT NULL GROUP BY parked_reason")
	if err != nil {
		return nil, fmt.Errorf("store: parked rows of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var reason string
		var n int
		if err := rows.Scan(&reason, &n); err != nil {
			return nil, fmt.Errorf("store: parked rows of %s: %w", table, err)
		}
		out[reason] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: parked rows of %s: %w", table, err)
	}
	return out, nil
}

// ReplayParked puts the parked rows of the outbox table that f selects back in
// the outbox, to be published again (outbox.ReplayParked), and returns how many.
func (s *Store) ReplayParked(ctx context.Context, table string, f outbox.ParkedFilter) (int, error) {
	opts, err := s.outboxOptions(table)
	if err != nil {
		return 0, fmt.Errorf("store: replaying parked rows: %w", err)
	}
	n, err := outbox.ReplayParked(ctx, s.db, opts, f)
	if err != nil {
		return n, fmt.Errorf("store: replaying parked rows: %w", err)
	}
	return n, nil
}

// outboxOptions returns the outbox.Options of the outbox table.
func (s *Store) outboxOptions(table string) (outbox.Options, error) {
	prefix, ok := strings.CutSuffix(table, "outbox")
	if !ok || !validPrefix(prefix) {
		return outbox.Options{}, fmt.Errorf("%q is not an outbox table", table)
	}
	d := outbox.SQLite
	if s.dialect == Postgres {
		d = outbox.Postgres
	}
	return outbox.Options{TablePrefix: prefix, Dialect: d}, nil
}

// validPrefix reports whether prefix is made of lower-case letters, digits and
// underscores, so that the table's name can be written in a query.
func validPrefix(prefix string) bool {
	for _, c := range prefix {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
