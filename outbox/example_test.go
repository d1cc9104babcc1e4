package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/outbox"
)

// OrderCreated is the event of the example.
type OrderCreated struct {
	OrderID string `json:"order_id"`
	Total   int    `json:"total"`
}

// An order and its OrderCreated event commit in one SQLite transaction; the relay
// publishes the event to the bus (here the in-process memory transport), whose
// handler runs.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// WAL, a busy timeout, and write transactions that lock at BEGIN.
	dsn := "file:" + filepath.Join(dir, "shop.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn) // import _ "modernc.org/sqlite"
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := outbox.Migrate(ctx, db, outbox.Options{}); err != nil { // the rampart_outbox table
		panic(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)`); err != nil {
		panic(err)
	}

	tr := memory.New()
	defer tr.Close()
	b, err := bus.New(tr, bus.Options{Source: "/shop"})
	if err != nil {
		panic(err)
	}
	handled := make(chan struct{})
	err = bus.Handle(b, "invoicing", func(ctx context.Context, e OrderCreated, m bus.Meta) error {
		fmt.Printf("invoicing: %s for order %s, total %d\n", m.Type, e.OrderID, e.Total)
		close(handled)
		return nil
	})
	if err != nil {
		panic(err)
	}
	if err := b.Start(ctx); err != nil {
		panic(err)
	}
	defer b.Close()

	// The relay publishes through the bus's transport.
	relay, err := outbox.NewRelay(db, tr, outbox.RelayOptions{})
	if err != nil {
		panic(err)
	}
	if err := relay.Start(ctx); err != nil {
		panic(err)
	}
	defer relay.Close()

	// The service's change and its event, in one transaction: Write encodes the
	// event with the bus and adds it. After the commit the relay publishes it at
	// once: Write has woken it, and it waited for the commit.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		panic(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, total) VALUES ($1, $2)`, "o-42", 1999); err != nil {
		panic(err)
	}
	if _, err := outbox.Write(ctx, tx, b, OrderCreated{OrderID: "o-42", Total: 1999}, bus.WithPartitionKey("o-42")); err != nil {
		panic(err)
	}
	if err := tx.Commit(); err != nil {
		panic(err)
	}

	<-handled
	// Output:
	// invoicing: outbox.order-created.v1 for order o-42, total 1999
}
