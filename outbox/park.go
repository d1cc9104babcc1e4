package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/internal/sqldb"
)

// ParkReason says why the relay parked a row: stopped trying to publish it.
type ParkReason string

const (
	// ParkUnroutable: the publisher returned [bus.ErrUnroutable], no subscription
	// is bound to the event's type (RabbitMQ's mandatory flag, the memory
	// transport), and still was after [RelayOptions.UnroutableGrace]. Trying again
	// would fail again until someone subscribes.
	ParkUnroutable ParkReason = "unroutable"
	// ParkMaxAttempts: the row's publication failed [RelayOptions.MaxAttempts]
	// times.
	ParkMaxAttempts ParkReason = "max-attempts"
)

// Parked describes a row the relay has just parked, for [RelayOptions.OnPark].
type Parked struct {
	ID       string     // the event ID
	Type     string     // the event type
	Key      string     // the ordering key, empty when none
	Reason   ParkReason // why it was parked
	Attempts int        // failed publications, this one included
	Err      error      // the publisher's last error
}

// ParkedFilter selects parked rows for [ReplayParked]. The zero value selects
// every parked row; each field set narrows the selection.
type ParkedFilter struct {
	// Type selects the rows of one event type.
	Type string
	// Reason selects the rows parked for one reason.
	Reason ParkReason
	// IDs, if not nil, selects the rows of these event IDs. An empty, non-nil
	// slice selects none: ReplayParked then puts back nothing.
	IDs []string
}

// ReplayParked puts the parked rows that f selects back in the outbox described
// by opts in db (PostgreSQL or SQLite), to be published like new ones, with
// their attempts counted from zero (their last error is kept until they are
// sent). Parking gave up their place in the order of their key: a replayed row is
// published after the rows of its key that went out while it was parked, though
// before those still waiting behind it. Parked rows that were sent all the same
// (by a relay of an older version) are left alone. It returns how many rows it
// put back. Call it once what made the rows fail is fixed: a subscription now
// bound to their type, the broker's limits raised. On PostgreSQL it wakes the
// relays (NOTIFY); on SQLite the relay finds the rows at its next poll, or at
// once after [Relay.Notify]. It needs no relay and is safe to run while relays
// run.
func ReplayParked(ctx context.Context, db *sql.DB, opts Options, f ParkedFilter) (int, error) {
	if db == nil {
		return 0, fmt.Errorf("outbox: ReplayParked: db is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return 0, err
	}
	d, err := detectDialect(db, opts.Dialect)
	if err != nil {
		return 0, err
	}
	return replayParked(ctx, sqldb.NewSQL(db), d, prefix, f)
}

// ReplayParkedPgx is [ReplayParked] for a pgx pool (PostgreSQL); opts.Dialect is
// ignored.
func ReplayParkedPgx(ctx context.Context, pool *pgxpool.Pool, opts Options, f ParkedFilter) (int, error) {
	if pool == nil {
		return 0, fmt.Errorf("outbox: ReplayParkedPgx: pool is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return 0, err
	}
	return replayParked(ctx, sqldb.NewPgx(pool), Postgres, prefix, f)
}

func replayParked(ctx context.Context, db sqldb.DB, d Dialect, prefix string, f ParkedFilter) (int, error) {
	t := prefix + "outbox"
	if f.IDs != nil && len(f.IDs) == 0 {
		return 0, nil // an empty selection selects none
	}
	ids := f.IDs
	if ids == nil {
		ids = []string{}
	}
	idList, err := json.Marshal(ids)
	if err != nil {
		return 0, fmt.Errorf("outbox: ReplayParked: IDs: %w", err)
	}
	inIDs := "event_id IN (SELECT value FROM json_each($3))"
	if d == Postgres {
		inIDs = "event_id IN (SELECT jsonb_array_elements_text($3::jsonb))"
	}
	q := "UPDATE " + t + ` SET parked_at = NULL, parked_reason = NULL, attempts = 0, claimed_until = NULL, claimed_by = NULL
WHERE parked_at IS NOT NULL AND sent_at IS NULL
  AND ($1 = '' OR event_type = $1) AND ($2 = '' OR parked_reason = $2) AND ($4 = 0 OR ` + inIDs + ")"
	var n int64
	err = db.InTx(ctx, d == SQLite, func(tx sqldb.Querier) error {
		var err error
		if n, err = tx.Exec(ctx, q, f.Type, string(f.Reason), string(idList), int64(len(f.IDs))); err != nil {
			return err
		}
		if n > 0 && d == Postgres {
			// The trigger notifies on INSERT only.
			_, err = tx.Exec(ctx, "SELECT pg_notify($1, '')", t)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: replaying the parked rows of %s: %w", t, err)
	}
	return int(n), nil
}
