package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OutboxBacklog is what waits in the outbox: rows committed and not yet
// confirmed by the broker.
type OutboxBacklog struct {
	Unsent int       `json:"unsent"`
	Failed int       `json:"failed"`          // of which a publication failed at least once
	Oldest time.Time `json:"oldest,omitzero"` // created_at of the oldest unsent row
}

// OutboxBacklog reads the backlog of the outbox table (table, such as
// "rampart_outbox"). It knows the outbox's schema: package outbox has no call
// for it.
func (s *Store) OutboxBacklog(ctx context.Context, table string) (OutboxBacklog, error) {
	var b OutboxBacklog
	var oldest sql.NullInt64
	q := "SELECT COUNT(*), COUNT(*) FILTER (WHERE attempts > 0), MIN(created_at) FROM " + table + " WHERE sent_at IS NULL"
	if s.dialect == Postgres {
		q = "SELECT COUNT(*), COUNT(*) FILTER (WHERE attempts > 0), CAST(EXTRACT(EPOCH FROM MIN(created_at)) * 1000 AS BIGINT) FROM " + table + " WHERE sent_at IS NULL"
	}
	if err := s.db.QueryRowContext(ctx, q).Scan(&b.Unsent, &b.Failed, &oldest); err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	if oldest.Valid {
		b.Oldest = time.UnixMilli(oldest.Int64).UTC()
	}
	return b, nil
}
