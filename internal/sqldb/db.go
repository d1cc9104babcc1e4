package sqldb

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a connection pool, *sql.DB ([SQL]) or *pgxpool.Pool ([Pgx]), behind one face.
type DB interface {
	Querier
	// InTx runs fn in a transaction, committed if fn returns nil. immediate asks
	// SQLite for the write lock at BEGIN, so that two writers cannot deadlock.
	InTx(ctx context.Context, immediate bool, fn func(q Querier) error) error
}

// Querier runs statements: a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	// QueryRow scans the first row into dest; found is false when there is none.
	QueryRow(ctx context.Context, q string, args []any, dest ...any) (found bool, err error)
}

// Rows is the part of *sql.Rows and pgx.Rows the callers use.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// SQL adapts *sql.DB.
type SQL struct {
	sqlQ
	DB *sql.DB
}

// NewSQL returns db as a [DB].
func NewSQL(db *sql.DB) SQL { return SQL{sqlQ{db}, db} }

type sqlQuerier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// sqlQ runs statements on a *sql.DB, *sql.Conn or *sql.Tx.
type sqlQ struct{ q sqlQuerier }

func (s sqlQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQ) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (s sqlQ) QueryRow(ctx context.Context, q string, args []any, dest ...any) (bool, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	return scanFirst(sqlRows{r}, r.Close, dest)
}

// scanFirst scans the first row of r, if any, into dest; closeErr closes r and
// reports the error of the whole query.
func scanFirst(r Rows, closeErr func() error, dest []any) (bool, error) {
	defer r.Close()
	if !r.Next() {
		return false, r.Err()
	}
	if err := r.Scan(dest...); err != nil {
		return false, err
	}
	return true, closeErr()
}

type sqlRows struct{ *sql.Rows }

// Close closes the rows, dropping the error that rows.Err reports anyway.
func (r sqlRows) Close() { r.Rows.Close() }

// InTx runs fn in a transaction; see [DB].
func (d SQL) InTx(ctx context.Context, immediate bool, fn func(q Querier) error) (err error) {
	if immediate {
		// database/sql cannot ask for BEGIN IMMEDIATE; run it by hand on one connection.
		c, err := d.DB.Conn(ctx)
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
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlQ{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Pgx adapts *pgxpool.Pool.
type Pgx struct {
	pgxQ
	Pool *pgxpool.Pool
}

// NewPgx returns pool as a [DB].
func NewPgx(pool *pgxpool.Pool) Pgx { return Pgx{pgxQ{pool}, pool} }

// pgxRunner is what pgxpool.Pool and pgx.Tx have in common.
type pgxRunner interface {
	Exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, q string, args ...any) (pgx.Rows, error)
}

// pgxQ runs statements on a pool or a pgx transaction.
type pgxQ struct{ q pgxRunner }

func (p pgxQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (p pgxQ) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	r, err := p.q.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p pgxQ) QueryRow(ctx context.Context, q string, args []any, dest ...any) (bool, error) {
	r, err := p.q.Query(ctx, q, args...)
	if err != nil {
		return false, err
	}
	return scanFirst(r, func() error { r.Close(); return r.Err() }, dest)
}

// InTx runs fn in a transaction; immediate is ignored (PostgreSQL).
func (d Pgx) InTx(ctx context.Context, _ bool, fn func(q Querier) error) error {
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error { return fn(pgxQ{tx}) })
}
