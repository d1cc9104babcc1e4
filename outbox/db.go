package outbox

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/rampart-go/rampart/internal/sqldb"
)

// database is what the relay and the migrations need of a connection pool:
// *sql.DB (PostgreSQL or SQLite) or *pgxpool.Pool behind one face.
type database interface {
	sqldb.DB
	// listen LISTENs on channel on a connection of its own, calls ready once the
	// LISTEN is in place (or with the error that prevented it), then calls notify
	// for every notification until ctx ends or the connection fails. It returns
	// errNoListen when the driver cannot listen.
	listen(ctx context.Context, channel string, ready func(error), notify func()) error
}

// querier runs statements: a pool or a transaction.
type querier = sqldb.Querier

// rows is the part of *sql.Rows and pgx.Rows the package uses.
type rows = sqldb.Rows

var errNoListen = errors.New("outbox: the driver cannot LISTEN")

// sqlDB adapts *sql.DB.
type sqlDB struct{ sqldb.SQL }

func (d sqlDB) listen(ctx context.Context, channel string, ready func(error), notify func()) error {
	c, err := d.DB.Conn(ctx)
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
type pgxDB struct{ sqldb.Pgx }

func (d pgxDB) listen(ctx context.Context, channel string, ready func(error), notify func()) error {
	c, err := d.Pool.Acquire(ctx)
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
