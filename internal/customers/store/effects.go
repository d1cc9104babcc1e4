package store

import (
	"context"
	"fmt"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

// InsertEmail records an e-mail sent. A message ID recorded before is left as it
// is.
func (t *Tx) InsertEmail(ctx context.Context, e domain.EmailSent) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO emails_sent (message_id, customer_id, template, event_id, sent_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING`,
		e.MessageID, e.CustomerID, e.Template, e.EventID, timeArg(t.d, e.SentAt))
	if err != nil {
		return fmt.Errorf("store: record e-mail %s: %w", e.MessageID, err)
	}
	return nil
}

// InsertReservation records a reservation. A reservation ID recorded before is
// left as it is.
func (t *Tx) InsertReservation(ctx context.Context, r domain.Reservation) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO reservations (id, order_id, line, product_id, quantity, event_id, reserved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.OrderID, r.Line, r.ProductID, r.Quantity, r.EventID, timeArg(t.d, r.ReservedAt))
	if err != nil {
		return fmt.Errorf("store: record reservation %s: %w", r.ID, err)
	}
	return nil
}

// EmailsOf returns the e-mails sent to a customer, oldest first.
func (s *Store) EmailsOf(ctx context.Context, customerID string) ([]domain.EmailSent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT message_id, customer_id, template, event_id, sent_at FROM emails_sent
WHERE customer_id = $1 ORDER BY sent_at, message_id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("store: e-mails of customer %s: %w", customerID, err)
	}
	defer rows.Close()
	out := []domain.EmailSent{}
	for rows.Next() {
		var e domain.EmailSent
		if err := rows.Scan(&e.MessageID, &e.CustomerID, &e.Template, &e.EventID, dbTime{&e.SentAt}); err != nil {
			return nil, fmt.Errorf("store: e-mails of customer %s: %w", customerID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: e-mails of customer %s: %w", customerID, err)
	}
	return out, nil
}

// ReservationsOf returns the reservations made for an order, by line.
func (s *Store) ReservationsOf(ctx context.Context, orderID string) ([]domain.Reservation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, order_id, line, product_id, quantity, event_id, reserved_at FROM reservations
WHERE order_id = $1 ORDER BY line`, orderID)
	if err != nil {
		return nil, fmt.Errorf("store: reservations of order %s: %w", orderID, err)
	}
	defer rows.Close()
	out := []domain.Reservation{}
	for rows.Next() {
		var r domain.Reservation
		if err := rows.Scan(&r.ID, &r.OrderID, &r.Line, &r.ProductID, &r.Quantity, &r.EventID, dbTime{&r.ReservedAt}); err != nil {
			return nil, fmt.Errorf("store: reservations of order %s: %w", orderID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reservations of order %s: %w", orderID, err)
	}
	return out, nil
}
