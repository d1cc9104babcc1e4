package sqlinbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/idempotency/sqlinbox"
)

// A handler whose writes and done mark commit together: the second delivery of
// the same message finds it done, and its effect is not repeated.
func ExampleStore_DoneTx() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlinbox-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "billing.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	inbox, err := sqlinbox.New(db, sqlinbox.Options{})
	if err != nil {
		panic(err)
	}
	if err := inbox.Migrate(ctx); err != nil {
		panic(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE invoices (order_id TEXT NOT NULL)`); err != nil {
		panic(err)
	}

	// handle is what a bus handler does: its writes and the mark, in one transaction.
	handle := func(k idempotency.Key, orderID string) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO invoices (order_id) VALUES ($1)`, orderID); err != nil {
			return err
		}
		if err := inbox.DoneTx(ctx, tx, k); errors.Is(err, sqlinbox.ErrAlreadyDone) {
			fmt.Println("duplicate: rolled back")
			return nil
		} else if err != nil {
			return err
		}
		return tx.Commit()
	}

	k := idempotency.Key{Consumer: "invoicing", MessageID: "0190f5c8-7d2e-7c4a-9b1e-2f3a4b5c6d7e"}
	for delivery := 1; delivery <= 2; delivery++ {
		st, tok, err := inbox.Claim(ctx, k, 30*time.Second)
		if err != nil {
			panic(err)
		}
		fmt.Printf("delivery %d: %v\n", delivery, st)
		if st != idempotency.Claimed {
			continue // acked without running the handler
		}
		if err := handle(k, "o-42"); err != nil {
			_ = inbox.Release(ctx, k, tok)
			panic(err)
		}
		if err := inbox.Done(ctx, k, tok); err != nil { // acknowledges the DoneTx
			panic(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM invoices`).Scan(&n); err != nil {
		panic(err)
	}
	fmt.Println("invoices:", n)
	// Output:
	// delivery 1: claimed
	// delivery 2: already-done
	// invoices: 1
}
