package outbox_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/outbox"
)

// write runs Write (WritePgx on the pgx backend) of event with opts in a
// transaction of the env's backend, committed or rolled back.
func (e *env) write(commit bool, enc outbox.Encoder, event any, opts ...bus.PublishOption) (bus.Message, error) {
	var msg bus.Message
	err := e.txn(commit, func(sqlTx outbox.SQLTx, pgxTx outbox.PgxTx) error {
		var err error
		if pgxTx != nil {
			msg, err = e.ob.WritePgx(ctx, pgxTx, enc, event, opts...)
		} else {
			msg, err = e.ob.Write(ctx, sqlTx, enc, event, opts...)
		}
		return err
	})
	return msg, err
}

// txn runs fn in a transaction of the env's backend, committed if commit is true
// and fn succeeds.
func (e *env) txn(commit bool, fn func(sqlTx outbox.SQLTx, pgxTx outbox.PgxTx) error) error {
	if e.pool != nil {
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := fn(nil, tx); err != nil || !commit {
			return err
		}
		return tx.Commit(ctx)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx, nil); err != nil || !commit {
		return err
	}
	return tx.Commit()
}

// Write encodes and adds in one step: the relay publishes exactly the message
// Write returned, with the options given; a rolled-back Write publishes nothing.
func TestWriteInOneStep(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})

			if _, err := e.write(false, e.bus, OrderPlaced{Order: "o-0"}, bus.WithPartitionKey("o-0")); err != nil {
				t.Fatalf("Write, rolled back: %v", err)
			}
			want, err := e.write(true, e.bus, OrderPlaced{Order: "o-1", N: 0}, bus.WithPartitionKey("o-1"), bus.WithCorrelationID("req-7"))
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if want.ID == "" || want.Type != orderPlaced || want.Key != "o-1" || want.Headers[bus.HeaderCorrelationID] != "req-7" {
				t.Errorf("Write returned %+v, want a message of type %s keyed o-1 with correlation ID req-7", want, orderPlaced)
			}
			rec.waitFor(t, 1, 5*time.Second)
			got, count, _ := rec.snapshot()
			if len(count) != 1 || count[want.ID] != 1 {
				t.Fatalf("published %v, want only the committed event %s, once", count, want.ID)
			}
			if g := got[0]; g.ID != want.ID || g.Type != want.Type || g.Key != want.Key ||
				!reflect.DeepEqual(g.Headers, want.Headers) || string(g.Body) != string(want.Body) {
				t.Errorf("published %+v, want what Write returned, %+v", g, want)
			}
			if n := e.count(""); n != 1 {
				t.Errorf("outbox rows = %d, want 1 (the rolled-back Write leaves none)", n)
			}
		})
	}
}

// encoderFunc is an Encoder made of a function.
type encoderFunc func(ctx context.Context, event any, opts ...bus.PublishOption) (bus.Message, error)

func (f encoderFunc) Encode(ctx context.Context, event any, opts ...bus.PublishOption) (bus.Message, error) {
	return f(ctx, event, opts...)
}

// failingEncoder fails every Encode.
type failingEncoder struct{ err error }

func (f failingEncoder) Encode(context.Context, any, ...bus.PublishOption) (bus.Message, error) {
	return bus.Message{}, f.err
}

// Write's errors name the event's type and wrap the cause; nothing is written.
func TestWriteErrors(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			errCodec := errors.New("codec exploded")
			_, err := e.write(true, failingEncoder{errCodec}, OrderPlaced{Order: "o-1"})
			if !errors.Is(err, errCodec) || !strings.Contains(err.Error(), "outbox_test.OrderPlaced") {
				t.Errorf("Write with a failing encoder = %v, want the encoder's error, naming outbox_test.OrderPlaced", err)
			}
			if _, err := e.write(true, nil, OrderPlaced{Order: "o-1"}); err == nil || !strings.Contains(err.Error(), "encoder is nil") {
				t.Errorf("Write with a nil encoder = %v, want an error saying so", err)
			}
			// A message whose envelope is invalid is refused by Add, inside Write.
			_, err = e.write(true, encoderFunc(func(ctx context.Context, ev any, opts ...bus.PublishOption) (bus.Message, error) {
				m, err := e.bus.Encode(ctx, ev, opts...)
				m.ID = "other"
				return m, err
			}), OrderPlaced{Order: "o-1"})
			if err == nil || !strings.Contains(err.Error(), "outbox_test.OrderPlaced") {
				t.Errorf("Write of an inconsistent message = %v, want an error naming outbox_test.OrderPlaced", err)
			}
			if n := e.count(""); n != 0 {
				t.Errorf("outbox rows = %d after failed Writes, want 0", n)
			}
		})
	}
	if _, err := outbox.Write(ctx, nil, encoder(t), OrderPlaced{}); err == nil || !strings.Contains(err.Error(), "tx is nil") {
		t.Errorf("Write(nil tx) = %v, want an error saying so", err)
	}
	if _, err := outbox.WritePgx(ctx, nil, encoder(t), OrderPlaced{}); err == nil || !strings.Contains(err.Error(), "tx is nil") {
		t.Errorf("WritePgx(nil tx) = %v, want an error saying so", err)
	}
}

// The package's Write writes into the default outbox, rampart_outbox.
func TestWriteDefaultOutbox(t *testing.T) {
	db := openSQL(t, "sqlite", sqliteDSN(filepath.Join(t.TempDir(), "app.db")))
	if err := outbox.Migrate(ctx, db, outbox.Options{}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	msg, err := outbox.Write(ctx, tx, encoder(t), OrderPlaced{Order: "o-1"}, bus.WithSubject("o-1"))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var id, key string
	if err := db.QueryRowContext(ctx, "SELECT event_id, ordering_key FROM rampart_outbox").Scan(&id, &key); err != nil {
		t.Fatal(err)
	}
	if id != msg.ID || key != "o-1" {
		t.Errorf("rampart_outbox holds event %s keyed %q, want %s keyed by its subject o-1", id, key, msg.ID)
	}
}
