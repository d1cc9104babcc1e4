package outbox

import (
	"context"
	"fmt"
	"sync"

	"github.com/rampart-go/rampart/bus"
)

// Encoder builds the message of an event, the one [bus.Bus.Publish] would send:
// *bus.Bus has it.
type Encoder interface {
	Encode(ctx context.Context, event any, opts ...bus.PublishOption) (bus.Message, error)
}

// Write writes event into the default outbox (rampart_outbox) through tx. See
// [Outbox.Write].
func Write(ctx context.Context, tx SQLTx, enc Encoder, event any, opts ...bus.PublishOption) (bus.Message, error) {
	return defaultOutbox.Write(ctx, tx, enc, event, opts...)
}

// WritePgx writes event into the default outbox (rampart_outbox) through tx. See
// [Outbox.WritePgx].
func WritePgx(ctx context.Context, tx PgxTx, enc Encoder, event any, opts ...bus.PublishOption) (bus.Message, error) {
	return defaultOutbox.WritePgx(ctx, tx, enc, event, opts...)
}

// Write encodes event with enc (the service's *bus.Bus) and opts, exactly as
// [bus.Bus.Publish] would, and writes the message into the outbox through tx, the
// transaction that also holds the service's own changes: the event is published
// if and only if tx commits. It returns the message written (its ID is the
// event's).
//
// Nothing is to be done after the commit: on PostgreSQL the commit wakes the
// relays (NOTIFY), and on SQLite Write wakes the relays of this outbox that run in
// the same process, which wait for tx to end and publish at once. A relay in
// another process finds the row at its next poll.
//
// Errors name the event's Go type: an event enc cannot encode (unregistered
// type, invalid option), or the database's error.
func (o *Outbox) Write(ctx context.Context, tx SQLTx, enc Encoder, event any, opts ...bus.PublishOption) (bus.Message, error) {
	if tx == nil {
		return bus.Message{}, fmt.Errorf("outbox: Write %T: tx is nil", event)
	}
	msg, err := encode(ctx, enc, event, opts)
	if err != nil {
		return bus.Message{}, err
	}
	if err := o.Add(ctx, tx, msg); err != nil {
		return bus.Message{}, fmt.Errorf("outbox: Write %T: %w", event, err)
	}
	return msg, nil
}

// WritePgx is [Outbox.Write] for a pgx transaction (PostgreSQL).
func (o *Outbox) WritePgx(ctx context.Context, tx PgxTx, enc Encoder, event any, opts ...bus.PublishOption) (bus.Message, error) {
	if tx == nil {
		return bus.Message{}, fmt.Errorf("outbox: WritePgx %T: tx is nil", event)
	}
	msg, err := encode(ctx, enc, event, opts)
	if err != nil {
		return bus.Message{}, err
	}
	if err := o.AddPgx(ctx, tx, msg); err != nil {
		return bus.Message{}, fmt.Errorf("outbox: WritePgx %T: %w", event, err)
	}
	return msg, nil
}

func encode(ctx context.Context, enc Encoder, event any, opts []bus.PublishOption) (bus.Message, error) {
	if enc == nil {
		return bus.Message{}, fmt.Errorf("outbox: Write %T: encoder is nil", event)
	}
	msg, err := enc.Encode(ctx, event, opts...)
	if err != nil {
		return bus.Message{}, fmt.Errorf("outbox: encode %T: %w", event, err)
	}
	return msg, nil
}

// local holds the running SQLite relays of this process by outbox table, for
// Add to wake them.
var local localRelays

type localRelays struct {
	mu     sync.Mutex
	relays map[string][]*Relay
}

func (l *localRelays) add(table string, r *Relay) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.relays == nil {
		l.relays = map[string][]*Relay{}
	}
	l.relays[table] = append(l.relays[table], r)
}

func (l *localRelays) remove(table string, r *Relay) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.relays[table]
	for i, x := range rs {
		if x == r {
			rs = append(rs[:i:i], rs[i+1:]...)
			break
		}
	}
	if len(rs) == 0 {
		delete(l.relays, table)
	} else {
		l.relays[table] = rs
	}
}

// rowsAdded wakes the relays of table: a transaction has added rows to it. A
// relay of the same table name in another SQLite file looks in vain, once.
func (l *localRelays) rowsAdded(table string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.relays[table] {
		r.rowsAdded() // never blocks
	}
}
