package outbox

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// database is what the relay and the migrations need of a connection pool:
// *sql.DB (PostgreSQL or SQLite) or *pgxpool.Pool behind one face.
type database interface {
	querier
	// inTx runs fn in a transaction, committed if fn returns nil. immediate asks
	// SQLite for the write lock at BEGIN, so that two writers cannot deadlock.
	inTx(ctx context.Context, immediate bool, fn func(q querier) error) error
	// listen LISTENs on channel on a connection of its own, calls ready once the
	// LISTEN is in place (or with the error that prevented it), then calls notify
	// for every notification until ctx ends or the connection fails. It returns
	// errNoListen when the driver cannot listen.
	listen(ctx context.Context, channel string, ready func(error), notify func()) error
}

// querier runs statements: a pool or a transaction.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
}

// rows is the part of *sql.Rows and pgx.Rows the package uses.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

var errNoListen = errors.New("outbox: the driver cannot LISTEN")

// sqlDB adapts *sql.DB.
type sqlDB struct{ db *sql.DB }

type sqlQuerier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

type sqlQ struct{ q sqlQuerier }

func (s sqlQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQ) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRows struct{ *sql.Rows }

// Close closes the rows, dropping the error that rows.Err reports anyway.
func (r sqlRows) Close() { r.Rows.Close() }

func (d sqlDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqlQ{d.db}.exec(ctx, q, args...)
}

func (d sqlDB) query(ctx context.Context, q string, args ...any) (rows, error) {
	return sqlQ{d.db}.query(ctx, q, args...)
}

func (d sqlDB) inTx(ctx context.Context, immediate bool, fn func(q querier) error) (err error) {
	if immediate {
		// database/sql cannot ask for BEGIN IMMEDIATE; run it by hand on one connection.
		c, err := d.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			}
		}()
		if err := fn(sqlQ{c}); err != nil {
			return err
		}
		_, err = c.ExecContext(ctx, "COMMIT")
		return err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlQ{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (d sqlDB) listen(ctx context.Context, channel string, ready func(error), notify func()) error {
	c, err := d.db.Conn(ctx)
	if err != nil {
		ready(err)
		return err
	}
	defer c.Close()
	called := false
	err = c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNoListen
		}
		called = true
		err := listenLoop(ctx, sc.Conn(), channel, ready, notify)
		// The connection has LISTENed, and may be broken by the cancellation:
		// never hand it back to the pool.
		return errors.Join(err, driver.ErrBadConn)
	})
	if !called {
		ready(err)
	}
	if errors.Is(err, errNoListen) {
		return errNoListen
	}
	return err
}

// pgxDB adapts *pgxpool.Pool.
type pgxDB struct{ pool *pgxpool.Pool }

type pgxQ struct {
	exec_  func(ctx context.Context, q string, args ...any) (int64, error)
	query_ func(ctx context.Context, q string, args ...any) (pgx.Rows, error)
}

func (p pgxQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return p.exec_(ctx, q, args...)
}

func (p pgxQ) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := p.query_(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// pgxRunner is what pgxpool.Pool and pgx.Tx have in common.
type pgxRunner interface {
	PgxTx
	Query(ctx context.Context, q string, args ...any) (pgx.Rows, error)
}

func pgxQuerierOf(r pgxRunner) pgxQ {
	return pgxQ{
		exec_: func(ctx context.Context, q string, args ...any) (int64, error) {
			tag, err := r.Exec(ctx, q, args...)
			return tag.RowsAffected(), err
		},
		query_: r.Query,
	}
}

func (d pgxDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgxQuerierOf(d.pool).exec(ctx, q, args...)
}

func (d pgxDB) query(ctx context.Context, q string, args ...any) (rows, error) {
	return pgxQuerierOf(d.pool).query(ctx, q, args...)
}

func (d pgxDB) inTx(ctx context.Context, _ bool, fn func(q querier) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(pgxQuerierOf(tx)) })
}

func (d pgxDB) listen(ctx context.Context, channel string, ready func(error), notify func()) error {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		ready(err)
		return err
	}
	// A connection that has LISTENed does not go back to the pool.
	conn := c.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	return listenLoop(ctx, conn, channel, ready, notify)
}

// listenLoop LISTENs on conn and waits for notifications until ctx ends or conn fails.
func listenLoop(ctx context.Context, conn *pgx.Conn, channel string, ready func(error), notify func()) error {
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		ready(err)
		return err
	}
	ready(nil)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		notify()
	}
}
