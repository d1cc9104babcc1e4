package sqlinbox

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// database is what the store needs of *sql.DB or *pgxpool.Pool.
type database interface {
	querier
	// inTx runs fn in a transaction, committed if fn returns nil; immediate asks
	// SQLite for the write lock at BEGIN.
	inTx(ctx context.Context, immediate bool, fn func(q querier) error) error
}

type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// queryRow scans the first row into dest; found is false when there is none.
	queryRow(ctx context.Context, q string, args []any, dest ...any) (found bool, err error)
}

// sqlQ runs statements on a *sql.DB, *sql.Conn or *sql.Tx.
type sqlQ struct {
	q interface {
		ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	}
}

func (s sqlQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQ) queryRow(ctx context.Context, q string, args []any, dest ...any) (bool, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	defer r.Close()
	if !r.Next() {
		return false, r.Err()
	}
	if err := r.Scan(dest...); err != nil {
		return false, err
	}
	return true, r.Close()
}

type sqlDB struct {
	sqlQ
	db *sql.DB
}

func (d sqlDB) inTx(ctx context.Context, immediate bool, fn func(q querier) error) (err error) {
	if immediate {
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

// pgxQ runs statements on a pool or a pgx transaction.
type pgxQ struct {
	q interface {
		Exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, q string, args ...any) (pgx.Rows, error)
	}
}

func (p pgxQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (p pgxQ) queryRow(ctx context.Context, q string, args []any, dest ...any) (bool, error) {
	r, err := p.q.Query(ctx, q, args...)
	if err != nil {
		return false, err
	}
	defer r.Close()
	if !r.Next() {
		return false, r.Err()
	}
	if err := r.Scan(dest...); err != nil {
		return false, err
	}
	r.Close()
	return true, r.Err()
}

type pgxDB struct {
	pgxQ
	pool *pgxpool.Pool
}

func (d pgxDB) inTx(ctx context.Context, _ bool, fn func(q querier) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(pgxQ{tx}) })
}
