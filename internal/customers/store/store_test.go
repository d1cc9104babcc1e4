package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/internal/pgschema"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/internal/testenv"
)

// backends opens a fresh database of each dialect: SQLite in a temporary
// directory, and PostgreSQL in a schema of its own when the local server is
// there (testenv's skip rule).
func backends(t *testing.T) map[string]func(t *testing.T) *store.Store {
	return map[string]func(t *testing.T) *store.Store{
		"sqlite": func(t *testing.T) *store.Store {
			s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "customers.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) *store.Store {
			return openPostgres(t)
		},
	}
}

// openPostgres opens PostgreSQL with a schema of the test's own, dropped at the
// end.
func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	url := pgschema.New(t, testenv.URL(t, testenv.Postgres), fmt.Sprintf("customers_test_%d", time.Now().UnixNano()))
	s, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) == 0 {
				t.Fatalf("Migrate() = %v, %v; want the migrations applied", applied, err)
			}
			if again, err := s.Migrate(ctx); err != nil || len(again) != 0 {
				t.Fatalf("Migrate() again = %v, %v; want nothing applied", again, err)
			}

			now := time.Date(2026, 1, 2, 15, 4, 5, 123456000, time.UTC)
			c, err := domain.NewCustomer(domain.NewCustomerInput{Name: "Ann", Email: "ann@Example.COM"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.InsertCustomer(ctx, c) }); err != nil {
				t.Fatal(err)
			}
			dup := c
			dup.ID, _ = domain.NewID()
			err = s.InTx(ctx, func(tx *store.Tx) error { return tx.InsertCustomer(ctx, dup) })
			if !errors.Is(err, domain.ErrConflict) {
				t.Errorf("InsertCustomer(same e-mail) = %v; want ErrConflict", err)
			}
			got, err := s.Customer(ctx, c.ID)
			if err != nil || got != c {
				t.Errorf("Customer() = %+v, %v; want %+v", got, err, c)
			}
			if _, err := s.Customer(ctx, dup.ID); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("Customer(unknown) = %v; want ErrNotFound", err)
			}

			o, err := domain.NewOrder(domain.NewOrderInput{CustomerID: c.ID, Currency: "EUR",
				Items: []domain.Item{{ProductID: "sku-1", Quantity: 2, PriceMinor: 1250}, {ProductID: "sku-2", Quantity: 1, PriceMinor: 99}}}, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.InsertOrder(ctx, o) }); err != nil {
				t.Fatal(err)
			}
			pending, err := s.PendingPayments(ctx, now.Add(time.Second), 10)
			if err != nil || len(pending) != 1 || pending[0].ID != o.ID || len(pending[0].Items) != 2 {
				t.Errorf("PendingPayments() = %+v, %v; want the order", pending, err)
			}
			err = s.InTx(ctx, func(tx *store.Tx) error {
				o, err := tx.OrderForUpdate(ctx, o.ID)
				if err != nil {
					return err
				}
				o.Charged("pay_1", false, now.Add(time.Minute))
				return tx.UpdateOrderPayment(ctx, o)
			})
			if err != nil {
				t.Fatal(err)
			}
			got2, err := s.Order(ctx, o.ID)
			if err != nil || got2.TotalMinor != 2599 || got2.Payment.Status != domain.PaymentSucceeded || !got2.UpdatedAt.Equal(now.Add(time.Minute)) {
				t.Errorf("Order() = %+v, %v; want paid, total 2599", got2, err)
			}
			if pending, _ := s.PendingPayments(ctx, now.Add(time.Hour), 10); len(pending) != 0 {
				t.Errorf("PendingPayments() after the charge = %d orders; want none", len(pending))
			}
		})
	}
}
