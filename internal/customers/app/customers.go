package app

import (
	"context"
	"time"

	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/store"
)

// CreateCustomer creates a customer and its CustomerCreated event. An e-mail
// address in use is [domain.ErrConflict].
func (s *Service) CreateCustomer(ctx context.Context, in domain.NewCustomerInput) (domain.Customer, error) {
	c, err := domain.NewCustomer(in, time.Now())
	if err != nil {
		return c, err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertCustomer(ctx, c); err != nil {
			return err
		}
		return s.emit(ctx, tx, domain.CustomerCreatedFrom(c), c.ID)
	})
	if err != nil {
		return domain.Customer{}, err
	}
	s.log.InfoContext(ctx, "customer created", "customer_id", c.ID, "type", c.Type)
	return c, nil
}

// PromoteToVIP makes a customer a VIP, with a CustomerPromotedToVip event. It
// reports whether the customer changed: promoting a VIP changes nothing and
// produces no event.
func (s *Service) PromoteToVIP(ctx context.Context, id string) (c domain.Customer, changed bool, err error) {
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if c, err = tx.CustomerForUpdate(ctx, id); err != nil {
			return err
		}
		now := time.Now()
		if changed = c.Promote(now); !changed {
			return nil
		}
		if err := tx.UpdateCustomerType(ctx, c); err != nil {
			return err
		}
		return s.emit(ctx, tx, domain.CustomerPromotedToVip{CustomerID: c.ID, Name: c.Name, Email: c.Email, PromotedAt: c.UpdatedAt}, c.ID)
	})
	if err != nil {
		return domain.Customer{}, false, err
	}
	if changed {
		s.log.InfoContext(ctx, "customer promoted to VIP", "customer_id", c.ID)
	}
	return c, changed, nil
}

// CustomerView is a customer with the e-mails sent to it and its latest
// orders: the effects of its events at a glance.
type CustomerView struct {
	domain.Customer
	Emails []domain.EmailSent
	Orders []store.OrderSummary // the latest RecentOrders, newest first
}

// RecentOrders is how many orders [Service.Customer] shows.
const RecentOrders = 20

// Customer returns a customer, the e-mails sent to it and its latest orders.
func (s *Service) Customer(ctx context.Context, id string) (CustomerView, error) {
	c, err := s.store.Customer(ctx, id)
	if err != nil {
		return CustomerView{}, err
	}
	v := CustomerView{Customer: c}
	if v.Emails, err = s.store.EmailsOf(ctx, id); err != nil {
		return CustomerView{}, err
	}
	if v.Orders, err = s.store.OrdersOf(ctx, id, RecentOrders); err != nil {
		return CustomerView{}, err
	}
	return v, nil
}

// Page sizes of [Service.Customers].
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Customers returns up to limit customers created after the one with ID after
// (from the first when empty), oldest first, and the cursor of the next page
// ("" on the last). A limit of zero means [DefaultPageSize]; it is at most
// [MaxPageSize].
func (s *Service) Customers(ctx context.Context, after string, limit int) ([]domain.Customer, string, error) {
	switch {
	case limit < 0 || limit > MaxPageSize:
		return nil, "", domain.Invalid("limit", "must be from 1 to 200")
	case limit == 0:
		limit = DefaultPageSize
	}
	list, err := s.store.Customers(ctx, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	return list, next, nil
}
