package sqlinbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rampart-go/rampart/idempotency"
)

// ErrAlreadyDone is returned by [Store.DoneTx] and [Store.DonePgxTx] when the
// message was marked done by a transaction that committed first: this run of the
// handler is a duplicate, and its transaction must be rolled back.
var ErrAlreadyDone = errors.New("sqlinbox: message already handled")

// SQLTx is what [Store.DoneTx] needs of a database/sql transaction: *sql.Tx.
type SQLTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// PgxTx is what [Store.DonePgxTx] needs of a pgx transaction: pgx.Tx.
type PgxTx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// DoneTx marks k done inside tx, the transaction that holds the handler's own
// writes, so that the writes and the mark commit together or not at all: a crash
// before the commit leaves neither (the redelivery runs the handler again), and a
// crash after it leaves both (the redelivery finds the message done). The mark
// lasts for the store's retention from the commit.
//
// DoneTx returns [ErrAlreadyDone] when another transaction marked k done first:
// roll tx back and treat the message as handled. Two transactions that mark one
// key at once are serialised by the row lock: the second waits for the first to
// commit (ErrAlreadyDone) or roll back (it proceeds). Under REPEATABLE READ or
// SERIALIZABLE isolation, PostgreSQL may instead fail the second with a
// serialisation error, to be retried as a whole.
//
// DoneTx needs no token: it works with or without a claim (the bus's inbox stage
// claims before the handler runs). A claim of k ends with the mark, and the
// claim's own [Store.Done], as the bus calls after the handler returned nil,
// then succeeds once; the bus acks. If tx rolls back, the claim is as it was, and
// Release frees it.
func (s *Store) DoneTx(ctx context.Context, tx SQLTx, k idempotency.Key) error {
	if tx == nil {
		return errors.New("sqlinbox: DoneTx: tx is nil")
	}
	return s.doneTx(ctx, k, func(args []any) (int64, error) {
		res, err := tx.ExecContext(ctx, s.doneTxSQL, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// DonePgxTx is [Store.DoneTx] for a pgx transaction (PostgreSQL).
func (s *Store) DonePgxTx(ctx context.Context, tx PgxTx, k idempotency.Key) error {
	if tx == nil {
		return errors.New("sqlinbox: DonePgxTx: tx is nil")
	}
	if s.dialect != Postgres {
		return fmt.Errorf("sqlinbox: DonePgxTx on a %s store", s.dialect)
	}
	return s.doneTx(ctx, k, func(args []any) (int64, error) {
		tag, err := tx.Exec(ctx, s.doneTxSQL, args...)
		return tag.RowsAffected(), err
	})
}

func (s *Store) doneTx(ctx context.Context, k idempotency.Key, exec func(args []any) (int64, error)) error {
	if err := k.Validate(); err != nil {
		return err
	}
	n, err := exec(s.params(k, s.dur(s.retention)))
	if err != nil {
		return s.wrap("done in transaction", k, err)
	}
	if n == 0 {
		return ErrAlreadyDone
	}
	return nil
}
