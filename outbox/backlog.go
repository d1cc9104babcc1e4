package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/internal/sqldb"
)

// Backlog is what waits in an outbox: rows committed and not yet published,
// those the relays are publishing (Unsent) and those they parked (Parked). It is
// for health checks, metrics and dashboards.
type Backlog struct {
	// Unsent is the number of rows waiting to be published, parked rows aside.
	Unsent int `json:"unsent"`
	// Failed is the number of unsent rows whose publication failed at least once
	// (their last error is recorded).
	Failed int `json:"failed"`
	// Oldest is when the oldest unsent row was added; zero when none is unsent.
	Oldest time.Time `json:"oldest,omitzero"`
	// Parked is the number of rows the relays stopped trying to publish (no
	// subscription bound to their type, or too many failed attempts; see
	// [ParkReason]); each keeps its reason and last error until [ReplayParked]
	// puts it back. Parked rows are not in Unsent, Failed or Oldest. A parked row
	// that was sent all the same (by a relay of an older version) is not counted.
	Parked int `json:"parked"`
}

// Age returns how long the oldest unsent row has waited at now, or 0 when none is
// unsent.
func (b Backlog) Age(now time.Time) time.Duration {
	if b.Oldest.IsZero() || now.Before(b.Oldest) {
		return 0
	}
	return now.Sub(b.Oldest)
}

// ReadBacklog reads the backlog of the outbox described by opts in db, a
// PostgreSQL or SQLite database. It needs no relay: a health check or a
// dashboard may call it in any process that reaches the database. The outbox's
// tables must exist ([Migrate]).
func ReadBacklog(ctx context.Context, db *sql.DB, opts Options) (Backlog, error) {
	if db == nil {
		return Backlog{}, fmt.Errorf("outbox: ReadBacklog: db is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return Backlog{}, err
	}
	d, err := detectDialect(db, opts.Dialect)
	if err != nil {
		return Backlog{}, err
	}
	return readBacklog(ctx, sqldb.NewSQL(db), d, prefix)
}

// ReadBacklogPgx is [ReadBacklog] for a pgx pool (PostgreSQL); opts.Dialect is
// ignored.
func ReadBacklogPgx(ctx context.Context, pool *pgxpool.Pool, opts Options) (Backlog, error) {
	if pool == nil {
		return Backlog{}, fmt.Errorf("outbox: ReadBacklogPgx: pool is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return Backlog{}, err
	}
	return readBacklog(ctx, sqldb.NewPgx(pool), Postgres, prefix)
}

func readBacklog(ctx context.Context, q querier, d Dialect, prefix string) (Backlog, error) {
	t := prefix + "outbox"
	// created_at is a TIMESTAMPTZ on PostgreSQL and Unix milliseconds on SQLite.
	oldest := "MIN(created_at)"
	if d == Postgres {
		oldest = "CAST(EXTRACT(EPOCH FROM MIN(created_at)) * 1000 AS BIGINT)"
	}
	// Each part reads one of the partial indexes (pending rows, parked rows).
	query := "SELECT COUNT(*), COUNT(*) FILTER (WHERE last_error IS NOT NULL), " + oldest +
		", (SELECT COUNT(*) FROM " + t + " WHERE parked_at IS NOT NULL AND sent_at IS NULL)" +
		" FROM " + t + " WHERE sent_at IS NULL AND parked_at IS NULL"
	var (
		b                      Backlog
		unsent, failed, parked int64
		ms                     sql.NullInt64
	)
	if _, err := q.QueryRow(ctx, query, nil, &unsent, &failed, &ms, &parked); err != nil {
		return Backlog{}, fmt.Errorf("outbox: reading the backlog of %s: %w", t, err)
	}
	b.Unsent, b.Failed, b.Parked = int(unsent), int(failed), int(parked)
	if ms.Valid {
		b.Oldest = time.UnixMilli(ms.Int64).UTC()
	}
	return b, nil
}
