package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rampart-go/rampart/bus"
)

// SQLTx is what [Outbox.Add] needs of a database/sql transaction: *sql.Tx has it
// (so do *sql.Conn and *sql.DB, but then the events are not written atomically with
// anything).
type SQLTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// PgxTx is what [Outbox.AddPgx] needs of a pgx transaction: pgx.Tx has it (so do
// *pgx.Conn, *pgxpool.Conn and *pgxpool.Pool, but then the events are not written
// atomically with anything).
type PgxTx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Options say where an outbox lives. The zero value is the default outbox: tables
// named rampart_outbox (and rampart_outbox_relay, rampart_schema_version) in a
// database whose dialect is told from its driver.
type Options struct {
	// TablePrefix starts the name of every table, index, function and
	// notification channel of the outbox: 1 to 40 lower-case ASCII letters, digits
	// and '_', not starting with a digit. Empty means [DefaultTablePrefix]. The SQL
	// inbox (idempotency/sqlinbox) may share it.
	TablePrefix string
	// Dialect is the database's SQL dialect, for [Migrate] and the relay. Zero
	// tells it from the database/sql driver. [Outbox.Write] and [Outbox.Add] need
	// none: they write with SQL that both dialects accept.
	Dialect Dialect
}

// Outbox writes events into one outbox table inside the caller's transactions. It
// holds no connection and starts nothing; it is safe for concurrent use.
type Outbox struct {
	table string
}

// New returns the outbox described by opts, or an error naming the invalid option.
func New(opts Options) (*Outbox, error) {
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return nil, err
	}
	if opts.Dialect > SQLite {
		return nil, fmt.Errorf("outbox: Options.Dialect: unknown dialect %d", uint8(opts.Dialect))
	}
	return &Outbox{table: prefix + "outbox"}, nil
}

var defaultOutbox = &Outbox{table: DefaultTablePrefix + "outbox"}

// Add writes msgs into the default outbox (rampart_outbox) through tx. See
// [Outbox.Add].
func Add(ctx context.Context, tx SQLTx, msgs ...bus.Message) error {
	return defaultOutbox.Add(ctx, tx, msgs...)
}

// AddPgx writes msgs into the default outbox (rampart_outbox) through tx. See
// [Outbox.AddPgx].
func AddPgx(ctx context.Context, tx PgxTx, msgs ...bus.Message) error {
	return defaultOutbox.AddPgx(ctx, tx, msgs...)
}

// Add writes msgs into the outbox through tx, the transaction that also holds the
// service's own changes: the events are published if and only if tx commits. Build
// each message with [bus.Bus.Encode], which gives it what [bus.Bus.Publish] would
// send: the envelope in headers, the encoded body, the event ID, the type and the
// ordering key (partition key, or else subject). The relay publishes exactly that
// message, in the order of Add per ordering key.
//
// [Outbox.Write] encodes and adds one event in one step; Add is for messages
// encoded beforehand.
//
// Add checks every message's envelope first and writes nothing if one is invalid;
// the error then names the message. An event ID may be added once (a unique
// index). Add runs one INSERT per 100 messages and works on PostgreSQL and SQLite
// alike. Like Write, it wakes the relays of the outbox: see [Outbox.Write].
func (o *Outbox) Add(ctx context.Context, tx SQLTx, msgs ...bus.Message) error {
	if tx == nil {
		return fmt.Errorf("outbox: Add: tx is nil")
	}
	err := o.add(ctx, msgs, func(q string, args []any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err == nil && len(msgs) > 0 {
		local.rowsAdded(o.table) // SQLite relays of this process wait for tx's end
	}
	return err
}

// AddPgx is [Outbox.Add] for a pgx transaction (PostgreSQL, whose NOTIFY wakes
// the relays at the commit).
func (o *Outbox) AddPgx(ctx context.Context, tx PgxTx, msgs ...bus.Message) error {
	if tx == nil {
		return fmt.Errorf("outbox: AddPgx: tx is nil")
	}
	return o.add(ctx, msgs, func(q string, args []any) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
}

// addChunk is the number of rows of one INSERT.
const addChunk = 100

// columns of a row written by Add, in the order of its placeholders.
const addColumns = 5

func (o *Outbox) add(ctx context.Context, msgs []bus.Message, exec func(q string, args []any) error) error {
	if len(msgs) == 0 {
		return nil
	}
	args := make([]any, 0, min(len(msgs), addChunk)*addColumns)
	for i, m := range msgs {
		row, err := rowArgs(m)
		if err != nil {
			return fmt.Errorf("outbox: add message %d (%s %s): %w", i, m.Type, m.ID, err)
		}
		args = append(args, row...)
	}
	for start := 0; start < len(msgs); start += addChunk {
		n := min(addChunk, len(msgs)-start)
		chunk := args[start*addColumns : (start+n)*addColumns]
		if err := exec(o.insertSQL(n), chunk); err != nil {
			return fmt.Errorf("outbox: add %d messages to %s: %w", n, o.table, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// rowArgs checks m and returns the values of its row.
func rowArgs(m bus.Message) ([]any, error) {
	if _, err := bus.DecodeEnvelope(m, bus.DecodeOptions{MaxBodySize: -1}); err != nil {
		return nil, err
	}
	switch {
	case m.ID != m.Headers[bus.HeaderID]:
		return nil, fmt.Errorf("ID %q differs from header %s %q", m.ID, bus.HeaderID, m.Headers[bus.HeaderID])
	case m.Type != m.Headers[bus.HeaderType]:
		return nil, fmt.Errorf("Type %q differs from header %s %q", m.Type, bus.HeaderType, m.Headers[bus.HeaderType])
	}
	h, err := json.Marshal(m.Headers)
	if err != nil {
		return nil, err
	}
	body := m.Body
	if body == nil {
		body = []byte{} // NOT NULL
	}
	return []any{m.ID, m.Type, m.Key, string(h), body}, nil
}

// insertSQL returns the INSERT of n rows. $n placeholders work on PostgreSQL and
// on SQLite, where "$1" is a parameter numbered in order of appearance.
func (o *Outbox) insertSQL(n int) string {
	var b strings.Builder
	b.Grow(96 + n*24)
	b.WriteString("INSERT INTO ")
	b.WriteString(o.table)
	b.WriteString(" (event_id, event_type, ordering_key, headers, body) VALUES ")
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range addColumns {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}
