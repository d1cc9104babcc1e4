package sqlinbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/internal/sqldb"
)

// Options configure a [Store]. The zero value keeps the inbox in table
// rampart_inbox of a database whose dialect is told from its driver, remembers
// done messages for [idempotency.DefaultRetention] (24 hours), and deletes expired
// rows at most once a minute, from within Claim.
type Options struct {
	// TablePrefix starts the name of the table and its index: 1 to 40 lower-case
	// ASCII letters, digits and '_', not starting with a digit. Empty means
	// [DefaultTablePrefix]. The outbox may share it.
	TablePrefix string
	// Dialect is the database's SQL dialect. Zero tells it from the database/sql
	// driver; [NewPgx] ignores it.
	Dialect Dialect
	// Retention is how long a done mark is kept. Zero or negative means
	// idempotency.DefaultRetention.
	Retention time.Duration
	// CleanupInterval is the least time between two deletions of expired rows
	// (done marks past their retention, claims past their lease), each of at most
	// 1,000 rows, run by the Claim that finds one due. Zero means one minute;
	// negative never deletes (call [Store.Cleanup] yourself).
	CleanupInterval time.Duration
}

// Store is an [idempotency.Store] in a SQL table, on PostgreSQL or SQLite, shared
// by every process that uses the same database and prefix. Besides Claim, Done and
// Release, it marks messages done inside the handler's own transaction
// ([Store.DoneTx], [Store.DonePgxTx]), so that the handler's writes and the mark
// commit together.
//
// Every Claim, Done and Release is one statement, or two for a Claim that finds
// the message claimed or done. Leases and retention are measured by the database's
// clock on PostgreSQL and by the process's on SQLite. Keys are stored as bytes, so
// any Consumer and MessageID fit (PostgreSQL indexes keys of up to about 2,700
// bytes). The store starts no goroutine and has nothing to close; it does not own
// the database. A Store is safe for concurrent use.
type Store struct {
	db        sqldb.DB
	dialect   Dialect
	prefix    string
	table     string
	retention time.Duration
	cleanup   time.Duration
	nextClean atomic.Int64 // UnixNano of the next cleanup

	claimSQL, stateSQL, doneSQL, releaseSQL, doneTxSQL, cleanupSQL string
}

// New returns a store of the inbox in db, PostgreSQL or SQLite. It does not touch
// the database: run [Store.Migrate] once before using it.
func New(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlinbox: New: db is nil")
	}
	d, err := sqldb.Detect(db, opts.Dialect, "sqlinbox: Options.Dialect: unknown dialect %d",
		"sqlinbox: cannot tell the SQL dialect of driver %s; set Options.Dialect")
	if err != nil {
		return nil, err
	}
	return newStore(sqldb.NewSQL(db), d, opts)
}

// NewPgx returns a store of the inbox in a pgx pool (PostgreSQL). It does not
// touch the database: run [Store.Migrate] once before using it.
func NewPgx(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("sqlinbox: NewPgx: pool is nil")
	}
	return newStore(sqldb.NewPgx(pool), Postgres, opts)
}

func newStore(db sqldb.DB, d Dialect, opts Options) (*Store, error) {
	prefix, err := sqldb.CheckPrefix("sqlinbox", "Options.TablePrefix", opts.TablePrefix)
	if err != nil {
		return nil, err
	}
	if opts.Retention <= 0 {
		opts.Retention = idempotency.DefaultRetention
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = time.Minute
	}
	s := &Store{db: db, dialect: d, prefix: prefix, table: prefix + "inbox", retention: opts.Retention, cleanup: opts.CleanupInterval}
	s.nextClean.Store(time.Now().Add(opts.CleanupInterval).UnixNano())
	s.buildSQL()
	return s, nil
}

// buildSQL writes the statements of the dialect. Parameters: $1 consumer, $2
// message ID, then the statement's own, then on SQLite the time (see params). On
// PostgreSQL the time is statement_timestamp() (the database's clock, fixed for
// one statement); on SQLite it is the process's clock in Unix nanoseconds.
func (s *Store) buildSQL() {
	t := s.table
	// now is the time of a statement with n parameters before it; later adds the
	// duration in parameter p.
	now := func(n int) string {
		if s.dialect == SQLite {
			return fmt.Sprintf("$%d", n+1)
		}
		return "statement_timestamp()"
	}
	later := func(p, n int) string {
		if s.dialect == SQLite {
			return fmt.Sprintf("$%d + $%d", n+1, p)
		}
		return fmt.Sprintf("statement_timestamp() + ($%d::float8 * interval '1 millisecond')", p)
	}
	// $3 token, $4 lease.
	s.claimSQL = `INSERT INTO ` + t + ` (consumer, message_id, done, token, expires_at, updated_at)
VALUES ($1, $2, false, $3, ` + later(4, 4) + `, ` + now(4) + `)
ON CONFLICT (consumer, message_id) DO UPDATE
SET done = false, token = excluded.token, expires_at = excluded.expires_at, updated_at = excluded.updated_at
WHERE ` + t + `.expires_at <= excluded.updated_at`
	s.stateSQL = `SELECT done, expires_at > ` + now(2) + ` FROM ` + t + ` WHERE consumer = $1 AND message_id = $2`
	// $3 token, $4 retention. A claim's Done, or the acknowledgement of a DoneTx
	// that marked the claim's message done (done, with the claim's token).
	s.doneSQL = `UPDATE ` + t + `
SET token = NULL, expires_at = CASE WHEN done THEN expires_at ELSE ` + later(4, 4) + ` END, done = true, updated_at = ` + now(4) + `
WHERE consumer = $1 AND message_id = $2 AND token = $3 AND (done OR expires_at > ` + now(4) + `)`
	// $3 token.
	s.releaseSQL = `DELETE FROM ` + t + `
WHERE consumer = $1 AND message_id = $2 AND token = $3 AND NOT done AND expires_at > ` + now(3)
	// $3 retention. Done unless done already (and not expired); a claim's token
	// stays, so that the claim's own Done then succeeds, once.
	s.doneTxSQL = `INSERT INTO ` + t + ` (consumer, message_id, done, token, expires_at, updated_at)
VALUES ($1, $2, true, NULL, ` + later(3, 3) + `, ` + now(3) + `)
ON CONFLICT (consumer, message_id) DO UPDATE
SET token = CASE WHEN ` + t + `.done THEN NULL ELSE ` + t + `.token END,
	done = true, expires_at = excluded.expires_at, updated_at = excluded.updated_at
WHERE NOT ` + t + `.done OR ` + t + `.expires_at <= excluded.updated_at`
	if s.dialect == Postgres {
		s.cleanupSQL = `DELETE FROM ` + t + ` WHERE (consumer, message_id) IN (
	SELECT consumer, message_id FROM ` + t + ` WHERE expires_at < statement_timestamp() LIMIT $1 FOR UPDATE SKIP LOCKED)`
	} else {
		s.cleanupSQL = `DELETE FROM ` + t + ` WHERE rowid IN (SELECT rowid FROM ` + t + ` WHERE expires_at < $2 LIMIT $1)`
	}
}

// params returns the parameters of a statement: the key, then rest, then on
// SQLite the time.
func (s *Store) params(k idempotency.Key, rest ...any) []any {
	a := make([]any, 0, 3+len(rest))
	a = append(a, []byte(k.Consumer), []byte(k.MessageID))
	a = append(a, rest...)
	if s.dialect == SQLite {
		a = append(a, time.Now().UnixNano())
	}
	return a
}

// dur is d as the statements take it: milliseconds on PostgreSQL, nanoseconds on
// SQLite.
func (s *Store) dur(d time.Duration) any {
	if s.dialect == Postgres {
		return float64(d) / float64(time.Millisecond)
	}
	return int64(d)
}

// claimRetries bounds the loop of a Claim that finds a row which changes under it.
const claimRetries = 10

// Claim implements [idempotency.Store]. It inserts the claim, or takes over a row
// whose lease or retention is over; when the key is held or done, a second query
// tells which.
func (s *Store) Claim(ctx context.Context, k idempotency.Key, lease time.Duration) (idempotency.Status, idempotency.Token, error) {
	if err := k.Validate(); err != nil {
		return 0, "", err
	}
	if lease <= 0 {
		return 0, "", fmt.Errorf("sqlinbox: lease %v is not positive", lease)
	}
	s.maybeCleanup(ctx)
	tok := idempotency.Token(rand.Text())
	for range claimRetries {
		n, err := s.db.Exec(ctx, s.claimSQL, s.params(k, string(tok), s.dur(lease))...)
		if err != nil {
			return 0, "", s.wrap("claim", k, err)
		}
		if n == 1 {
			return idempotency.Claimed, tok, nil
		}
		var done, live bool
		found, err := s.db.QueryRow(ctx, s.stateSQL, s.params(k), &done, &live)
		if err != nil {
			return 0, "", s.wrap("claim", k, err)
		}
		switch {
		case found && live && done:
			return idempotency.AlreadyDone, "", nil
		case found && live:
			return idempotency.InProgress, "", nil
		}
		// Released or expired between the two statements: try again.
	}
	return 0, "", s.wrap("claim", k, errors.New("the row kept changing; try again"))
}

// Done implements [idempotency.Store]. After [Store.DoneTx] marked the claim's
// message done, the claim's Done succeeds once.
func (s *Store) Done(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	return s.compareAnd(ctx, "done", s.doneSQL, k, t, s.dur(s.retention))
}

// Release implements [idempotency.Store].
func (s *Store) Release(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	return s.compareAnd(ctx, "release", s.releaseSQL, k, t)
}

func (s *Store) compareAnd(ctx context.Context, op, q string, k idempotency.Key, t idempotency.Token, extra ...any) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if t == "" {
		return idempotency.ErrNotClaimed
	}
	args := s.params(k, append([]any{string(t)}, extra...)...)
	n, err := s.db.Exec(ctx, q, args...)
	if err != nil {
		return s.wrap(op, k, err)
	}
	if n != 1 {
		return idempotency.ErrNotClaimed
	}
	return nil
}

// Cleanup deletes up to 1,000 expired rows: done marks past their retention and
// claims past their lease. It returns how many it deleted. Claim runs it every
// [Options.CleanupInterval]; call it yourself when that is negative.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var (
		n   int64
		err error
	)
	if s.dialect == Postgres {
		n, err = s.db.Exec(ctx, s.cleanupSQL, int64(cleanupBatch))
	} else {
		n, err = s.db.Exec(ctx, s.cleanupSQL, int64(cleanupBatch), time.Now().UnixNano())
	}
	if err != nil {
		return n, fmt.Errorf("sqlinbox: cleanup of %s: %w", s.table, err)
	}
	return n, nil
}

const cleanupBatch = 1000

// maybeCleanup runs Cleanup if it is due and no other call took it. Its error is
// ignored: the next interval tries again.
func (s *Store) maybeCleanup(ctx context.Context) {
	if s.cleanup < 0 {
		return
	}
	now := time.Now()
	next := s.nextClean.Load()
	if now.UnixNano() < next || !s.nextClean.CompareAndSwap(next, now.Add(s.cleanup).UnixNano()) {
		return
	}
	_, _ = s.Cleanup(ctx)
}

func (s *Store) wrap(op string, k idempotency.Key, err error) error {
	return fmt.Errorf("sqlinbox: %s of message %q for consumer %q: %w", op, k.MessageID, k.Consumer, err)
}
