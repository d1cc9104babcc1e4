package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/store"
)

// CreateOrder creates an order with its OrderCreated event, then charges the
// payment provider for it (see the package documentation). The order returned
// is paid, declined, failed, or still pending when the provider could not be
// reached: the charge is then made later by [Service.ChargePending]. A customer
// that does not exist is an invalid customer_id.
func (s *Service) CreateOrder(ctx context.Context, in domain.NewOrderInput) (domain.Order, error) {
	o, err := domain.NewOrder(in, time.Now())
	if err != nil {
		return o, err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.CustomerExists(ctx, o.CustomerID)
		if err != nil {
			return err
		}
		if !ok {
			return domain.Invalid("customer_id", "no customer has this ID")
		}
		if err := tx.InsertOrder(ctx, o); err != nil {
			return err
		}
		return s.emit(ctx, tx, domain.OrderCreatedFrom(o), o.ID)
	})
	if err != nil {
		return domain.Order{}, err
	}
	s.log.InfoContext(ctx, "order created", "order_id", o.ID, "customer_id", o.CustomerID, "total_minor", o.TotalMinor, "currency", o.Currency)

	// The order is committed: charge it even if the client goes away, but do
	// not keep the client waiting on a provider that does not answer (its
	// retries included): after the request charge timeout the order is
	// answered pending, and ChargePending charges it, once, with the same
	// idempotency key.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.requestTO)
	defer cancel()
	return s.charge(cctx, o), nil
}

// charge asks the provider to charge o, records the answer and returns the
// order as recorded. An unreachable provider leaves it pending.
func (s *Service) charge(ctx context.Context, o domain.Order) domain.Order {
	pay, err := s.payments.ProcessPayment(ctx, providers.PaymentRequest{
		OrderID: o.ID, AmountMinor: o.TotalMinor, Currency: o.Currency, CustomerID: o.CustomerID})
	var apply func(o *domain.Order, now time.Time)
	switch {
	case err == nil:
		declined := pay.Status == providers.PaymentDeclined
		apply = func(o *domain.Order, now time.Time) { o.Charged(pay.ID, declined, now) }
	case refusedForGood(err):
		reason := err.Error()
		var pe *providers.Error
		if errors.As(err, &pe) && pe.Problem != nil {
			reason = pe.Problem.String()
		}
		apply = func(o *domain.Order, now time.Time) { o.ChargeFailed(reason, now) }
	default:
		s.log.WarnContext(ctx, "payment not made; the order stays pending and is charged later",
			"order_id", o.ID, "err", err)
		return o
	}
	// Record the answer even when the charge's deadline is about to pass.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var saved domain.Order
	err = s.store.InTx(rctx, func(tx *store.Tx) error {
		cur, err := tx.OrderForUpdate(rctx, o.ID)
		if err != nil {
			return err
		}
		if cur.Payment.Status == domain.PaymentPending { // else another charge recorded it first
			apply(&cur, time.Now())
			if err := tx.UpdateOrderPayment(rctx, cur); err != nil {
				return err
			}
		}
		saved = cur
		return nil
	})
	if err != nil {
		// The charge is made; recording it failed. ChargePending asks again,
		// and the provider answers the same payment.
		s.log.ErrorContext(ctx, "recording the payment failed; it is recorded later", "order_id", o.ID, "err", err)
		return o
	}
	s.log.InfoContext(ctx, "order charged", "order_id", o.ID, "payment_status", saved.Payment.Status, "payment_id", saved.Payment.ID)
	return saved
}

// refusedForGood reports whether the provider refused the charge request
// itself, so that asking again cannot help. Refused credentials are not the
// order's fault: the order stays pending until they are fixed.
func refusedForGood(err error) bool {
	return errors.Is(err, providers.ErrInvalidRequest) || errors.Is(err, providers.ErrIdempotencyKeyReused) ||
		errors.Is(err, providers.ErrRejected) || errors.Is(err, providers.ErrConflict)
}

// ChargePending charges up to limit orders whose payment has been pending since
// before olderThan ago, and returns how many it charged (paid, declined or
// failed). It stops at the first order the provider could not charge, and at
// ctx's end.
func (s *Service) ChargePending(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	list, err := s.store.PendingPayments(ctx, time.Now().Add(-olderThan), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range list {
		if ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, s.chargeTO)
		got := s.charge(cctx, o)
		cancel()
		if got.Payment.Status == domain.PaymentPending {
			break // the provider is down: try again at the next round
		}
		n++
	}
	return n, nil
}

// OrderView is an order with the reservations made for its items.
type OrderView struct {
	domain.Order
	Reservations []domain.Reservation
}

// Order returns an order, with its payment's status and its reservations.
func (s *Service) Order(ctx context.Context, id string) (OrderView, error) {
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return OrderView{}, err
	}
	res, err := s.store.ReservationsOf(ctx, id)
	return OrderView{Order: o, Reservations: res}, err
}

// RefundOrder refunds a paid order in full, once: the refund's idempotency key
// is "refund-" and the order ID, and refunding a refunded order returns it as
// it is. An order whose payment is pending, declined or failed is
// [domain.ErrConflict].
func (s *Service) RefundOrder(ctx context.Context, id string) (domain.Order, error) {
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return o, err
	}
	if err := o.CanRefund(); err != nil {
		return o, err
	}
	if o.Payment.Status == domain.PaymentRefunded {
		return o, nil
	}
	_, err = s.payments.RefundPayment(ctx, providers.RefundRequest{PaymentID: o.Payment.ID, AmountMinor: o.TotalMinor, Key: "refund-" + o.ID})
	switch {
	case err == nil:
	case errors.Is(err, providers.ErrConflict), errors.Is(err, providers.ErrPaymentNotFound), errors.Is(err, providers.ErrInvalidRequest):
		return o, fmt.Errorf("%w: the payment provider refused the refund: %w", domain.ErrConflict, err)
	case errors.Is(err, providers.ErrUnavailable):
		return o, fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return o, err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if o, err = tx.OrderForUpdate(ctx, id); err != nil {
			return err
		}
		if o.Payment.Status == domain.PaymentRefunded {
			return nil
		}
		o.Refunded(time.Now())
		return tx.UpdateOrderPayment(ctx, o)
	})
	if err != nil {
		return domain.Order{}, err
	}
	s.log.InfoContext(ctx, "order refunded", "order_id", o.ID, "refunded_minor", o.Payment.RefundedMinor)
	return o, nil
}
