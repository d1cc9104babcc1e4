package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

const orderColumns = "id, customer_id, currency, total_minor, status, payment_status, payment_id, payment_error, refunded_minor, created_at, updated_at"

// InsertOrder adds o and its items.
func (t *Tx) InsertOrder(ctx context.Context, o domain.Order) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO orders ("+orderColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		o.ID, o.CustomerID, o.Currency, o.TotalMinor, o.Status, o.Payment.Status, o.Payment.ID, o.Payment.Error,
		o.Payment.RefundedMinor, timeArg(t.d, o.CreatedAt), timeArg(t.d, o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: insert order %s: %w", o.ID, err)
	}
	for i, it := range o.Items {
		_, err := t.tx.ExecContext(ctx, "INSERT INTO order_items (order_id, line, product_id, quantity, price_minor) VALUES ($1, $2, $3, $4, $5)",
			o.ID, i, it.ProductID, it.Quantity, it.PriceMinor)
		if err != nil {
			return fmt.Errorf("store: insert item %d of order %s: %w", i, o.ID, err)
		}
	}
	return nil
}

// OrderForUpdate returns the order with ID id, locked until the end of the
// transaction; an unknown one is [domain.ErrNotFound].
func (t *Tx) OrderForUpdate(ctx context.Context, id string) (domain.Order, error) {
	o, err := scanOrder(t.tx.QueryRowContext(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1"+forUpdate(t.d), id), id)
	if err != nil {
		return o, err
	}
	o.Items, err = items(ctx, t.tx, id)
	return o, err
}

// UpdateOrderPayment saves o's status, payment and update time.
func (t *Tx) UpdateOrderPayment(ctx context.Context, o domain.Order) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE orders SET status = $1, payment_status = $2, payment_id = $3, payment_error = $4,
	refunded_minor = $5, updated_at = $6 WHERE id = $7`,
		o.Status, o.Payment.Status, o.Payment.ID, o.Payment.Error, o.Payment.RefundedMinor, timeArg(t.d, o.UpdatedAt), o.ID)
	if err != nil {
		return fmt.Errorf("store: update order %s: %w", o.ID, err)
	}
	return nil
}

// Order returns the order with ID id and its items; an unknown one is
// [domain.ErrNotFound].
func (s *Store) Order(ctx context.Context, id string) (domain.Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", id), id)
	if err != nil {
		return o, err
	}
	o.Items, err = items(ctx, s.db, id)
	return o, err
}

// PendingPayments returns up to limit orders whose payment is pending and that
// have not changed since before, oldest first, with their items.
func (s *Store) PendingPayments(ctx context.Context, before time.Time, limit int) ([]domain.Order, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+orderColumns+" FROM orders WHERE payment_status = $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3",
		domain.PaymentPending, timeArg(s.dialect, before), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending payments: %w", err)
	}
	var out []domain.Order
	for rows.Next() {
		o, err := scanOrder(rows, "")
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending payments: %w", err)
	}
	for i := range out {
		if out[i].Items, err = items(ctx, s.db, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func items(ctx context.Context, q querier, orderID string) ([]domain.Item, error) {
	rows, err := q.QueryContext(ctx, "SELECT product_id, quantity, price_minor FROM order_items WHERE order_id = $1 ORDER BY line", orderID)
	if err != nil {
		return nil, fmt.Errorf("store: items of order %s: %w", orderID, err)
	}
	defer rows.Close()
	var out []domain.Item
	for rows.Next() {
		var it domain.Item
		if err := rows.Scan(&it.ProductID, &it.Quantity, &it.PriceMinor); err != nil {
			return nil, fmt.Errorf("store: items of order %s: %w", orderID, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: items of order %s: %w", orderID, err)
	}
	return out, nil
}

func scanOrder(row scanner, id string) (domain.Order, error) {
	var o domain.Order
	err := row.Scan(&o.ID, &o.CustomerID, &o.Currency, &o.TotalMinor, &o.Status, &o.Payment.Status, &o.Payment.ID,
		&o.Payment.Error, &o.Payment.RefundedMinor, dbTime{&o.CreatedAt}, dbTime{&o.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("%w: no order %s", domain.ErrNotFound, id)
	}
	if err != nil {
		return o, fmt.Errorf("store: read order: %w", err)
	}
	return o, nil
}

// OrderSummary is an order without its items, with how many of them have been
// reserved.
type OrderSummary struct {
	domain.Order
	ReservedItems int
}

// OrdersOf returns the latest limit orders of a customer, newest first, without
// their items.
func (s *Store) OrdersOf(ctx context.Context, customerID string, limit int) ([]OrderSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.id, o.customer_id, o.currency, o.total_minor, o.status, o.payment_status, o.payment_id,
	o.payment_error, o.refunded_minor, o.created_at, o.updated_at, (SELECT COUNT(*) FROM reservations r WHERE r.order_id = o.id)
FROM orders o WHERE o.customer_id = $1 ORDER BY o.id DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: orders of customer %s: %w", customerID, err)
	}
	defer rows.Close()
	out := []OrderSummary{}
	for rows.Next() {
		var o OrderSummary
		err := rows.Scan(&o.ID, &o.CustomerID, &o.Currency, &o.TotalMinor, &o.Status, &o.Payment.Status, &o.Payment.ID,
			&o.Payment.Error, &o.Payment.RefundedMinor, dbTime{&o.CreatedAt}, dbTime{&o.UpdatedAt}, &o.ReservedItems)
		if err != nil {
			return nil, fmt.Errorf("store: orders of customer %s: %w", customerID, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: orders of customer %s: %w", customerID, err)
	}
	return out, nil
}
