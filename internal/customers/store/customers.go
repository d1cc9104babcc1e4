package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

const customerColumns = "id, name, email, type, created_at, updated_at"

// InsertCustomer adds c. An e-mail address already in use is
// [domain.ErrConflict].
func (t *Tx) InsertCustomer(ctx context.Context, c domain.Customer) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO customers ("+customerColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
		c.ID, c.Name, c.Email, string(c.Type), timeArg(t.d, c.CreatedAt), timeArg(t.d, c.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: the e-mail address %s is already in use", domain.ErrConflict, c.Email)
	}
	if err != nil {
		return fmt.Errorf("store: insert customer %s: %w", c.ID, err)
	}
	return nil
}

// CustomerForUpdate returns the customer with ID id, locked until the end of
// the transaction; an unknown one is [domain.ErrNotFound].
func (t *Tx) CustomerForUpdate(ctx context.Context, id string) (domain.Customer, error) {
	return scanCustomer(t.tx.QueryRowContext(ctx, "SELECT "+customerColumns+" FROM customers WHERE id = $1"+forUpdate(t.d), id), id)
}

// UpdateCustomerType saves c's type and update time.
func (t *Tx) UpdateCustomerType(ctx context.Context, c domain.Customer) error {
	_, err := t.tx.ExecContext(ctx, "UPDATE customers SET type = $1, updated_at = $2 WHERE id = $3",
		string(c.Type), timeArg(t.d, c.UpdatedAt), c.ID)
	if err != nil {
		return fmt.Errorf("store: update customer %s: %w", c.ID, err)
	}
	return nil
}

// CustomerExists reports whether a customer has ID id.
func (t *Tx) CustomerExists(ctx context.Context, id string) (bool, error) {
	var one int
	err := t.tx.QueryRowContext(ctx, "SELECT 1 FROM customers WHERE id = $1", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: customer %s: %w", id, err)
	}
	return true, nil
}

// Customer returns the customer with ID id; an unknown one is
// [domain.ErrNotFound].
func (s *Store) Customer(ctx context.Context, id string) (domain.Customer, error) {
	return scanCustomer(s.db.QueryRowContext(ctx, "SELECT "+customerColumns+" FROM customers WHERE id = $1", id), id)
}

// Customers returns up to limit customers whose ID is after after (all when
// after is empty), oldest first.
func (s *Store) Customers(ctx context.Context, after string, limit int) ([]domain.Customer, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+customerColumns+" FROM customers WHERE id > $1 ORDER BY id LIMIT $2", after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list customers: %w", err)
	}
	defer rows.Close()
	out := []domain.Customer{}
	for rows.Next() {
		c, err := scanCustomer(rows, "")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list customers: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanCustomer(row scanner, id string) (domain.Customer, error) {
	var c domain.Customer
	var typ string
	err := row.Scan(&c.ID, &c.Name, &c.Email, &typ, dbTime{&c.CreatedAt}, dbTime{&c.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%w: no customer %s", domain.ErrNotFound, id)
	}
	if err != nil {
		return c, fmt.Errorf("store: read customer: %w", err)
	}
	c.Type = domain.CustomerType(typ)
	return c, nil
}
