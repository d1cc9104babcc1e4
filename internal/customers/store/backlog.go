package store

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/internal/sqldb"
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
	opts, err := s.outboxOptions(table)
	if err != nil {
		return nil, fmt.Errorf("store: parked outbox rows: %w", err)
	}
	// The table as package outbox names it, which outboxOptions checked is table:
	// safe to write in the query.
	table = outboxTable(opts.TablePrefix)
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

// outboxOptions returns the outbox.Options of the outbox table: the table
// must be named as package outbox names its table, "<prefix>outbox" with a
// prefix that package accepts (so not "outbox", which it would read as
// "rampart_outbox").
func (s *Store) outboxOptions(table string) (outbox.Options, error) {
	prefix, ok := strings.CutSuffix(table, "outbox")
	if !ok || prefix == "" {
		return outbox.Options{}, fmt.Errorf("%q is not an outbox table: want <prefix>outbox, such as %q", table, outboxTable(""))
	}
	if _, err := sqldb.CheckPrefix("outbox table "+strconv.Quote(table), "prefix", prefix); err != nil {
		return outbox.Options{}, err
	}
	d := outbox.SQLite
	if s.dialect == Postgres {
		d = outbox.Postgres
	}
	return outbox.Options{TablePrefix: prefix, Dialect: d}, nil
}

// outboxTable returns the name package outbox gives its table for the
// TablePrefix prefix: the prefix, [outbox.DefaultTablePrefix] if empty, then
// "outbox".
func outboxTable(prefix string) string {
	return cmp.Or(prefix, outbox.DefaultTablePrefix) + "outbox"
}
