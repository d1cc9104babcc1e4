package domain

import (
	"fmt"
	"regexp"
	"time"
)

// Order statuses: an order waits for its payment, then is paid or declined; a
// paid order may be refunded.
const (
	OrderPendingPayment = "pending_payment" // created; the payment provider has not answered yet
	OrderPaid           = "paid"
	OrderDeclined       = "payment_declined"
	OrderPaymentFailed  = "payment_failed" // the provider refused the request itself
	OrderRefunded       = "refunded"
)

// Payment statuses, as the order records them.
const (
	PaymentPending   = "pending"
	PaymentSucceeded = "succeeded"
	PaymentDeclined  = "declined"
	PaymentFailed    = "failed"
	PaymentRefunded  = "refunded"
)

// Order is an order of a customer, with the state of its payment.
type Order struct {
	ID         string
	CustomerID string
	Currency   string // ISO 4217, upper case
	Items      []Item
	TotalMinor int64 // the sum of the items' line totals
	Status     string
	Payment    Payment
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Item is one line of an order.
type Item struct {
	ProductID  string `json:"product_id"`
	Quantity   int    `json:"quantity"`
	PriceMinor int64  `json:"price_minor"` // the price of one, in minor units
}

// LineTotal is the price of the line: Quantity × PriceMinor.
func (it Item) LineTotal() int64 { return int64(it.Quantity) * it.PriceMinor }

// Payment is what the order knows of its payment.
type Payment struct {
	Status        string // PaymentPending, ...
	ID            string // the provider's payment ID, once charged
	RefundedMinor int64
	Error         string // why the provider refused it, for PaymentFailed
}

// NewOrderInput is what a client sends to create an order.
type NewOrderInput struct {
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	Items      []Item `json:"items"`
}

// Limits of an order.
const (
	MaxItems        = 100
	MaxQuantity     = 10_000
	MaxPriceMinor   = 100_000_000_00 // 100 million in major units
	MaxTotalMinor   = 1_000_000_000_00
	MaxProductIDLen = 64
)

var (
	currencyRE  = regexp.MustCompile(`^[A-Z]{3}$`)
	productIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// NewOrder validates in and returns the order it describes, with a new ID, its
// total, and its payment pending. It does not check that the customer exists:
// that takes the store.
func NewOrder(in NewOrderInput, now time.Time) (Order, error) {
	var errs fields
	if in.CustomerID == "" {
		errs.add("customer_id", "is required")
	} else if !ValidID(in.CustomerID) {
		errs.add("customer_id", "is not a customer ID")
	}
	if !currencyRE.MatchString(in.Currency) {
		errs.add("currency", "must be an ISO 4217 code in upper case, such as EUR")
	}
	switch n := len(in.Items); {
	case n == 0:
		errs.add("items", "must list at least one item")
	case n > MaxItems:
		errs.add("items", fmt.Sprintf("must list at most %d items", MaxItems))
	}
	var total int64
	for i, it := range in.Items {
		at := func(f string) string { return fmt.Sprintf("items[%d].%s", i, f) }
		switch {
		case it.ProductID == "":
			errs.add(at("product_id"), "is required")
		case len(it.ProductID) > MaxProductIDLen || !productIDRE.MatchString(it.ProductID):
			errs.add(at("product_id"), fmt.Sprintf("must be 1 to %d letters, digits, '.', '-' and '_'", MaxProductIDLen))
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			errs.add(at("quantity"), fmt.Sprintf("must be from 1 to %d", MaxQuantity))
		}
		if it.PriceMinor < 0 || it.PriceMinor > MaxPriceMinor {
			errs.add(at("price_minor"), fmt.Sprintf("must be from 0 to %d minor units", int64(MaxPriceMinor)))
		}
		if it.Quantity >= 1 && it.Quantity <= MaxQuantity && it.PriceMinor >= 0 && it.PriceMinor <= MaxPriceMinor {
			total += it.LineTotal() // at most 100 × 10^4 × 10^10: no overflow
		}
	}
	if len(errs) == 0 {
		switch {
		case total <= 0:
			errs.add("items", "the total must be above zero")
		case total > MaxTotalMinor:
			errs.add("items", fmt.Sprintf("the total must be at most %d minor units", int64(MaxTotalMinor)))
		}
	}
	if err := errs.err(); err != nil {
		return Order{}, err
	}
	id, err := NewID()
	if err != nil {
		return Order{}, err
	}
	now = stamp(now)
	return Order{
		ID:         id,
		CustomerID: in.CustomerID,
		Currency:   in.Currency,
		Items:      append([]Item(nil), in.Items...),
		TotalMinor: total,
		Status:     OrderPendingPayment,
		Payment:    Payment{Status: PaymentPending},
		CreatedAt:  now,
		UpdatedAt:  now,
	}, nil
}

// Charged records the provider's answer to the charge: paid or declined.
func (o *Order) Charged(paymentID string, declined bool, now time.Time) {
	o.Payment.ID = paymentID
	if declined {
		o.Status, o.Payment.Status = OrderDeclined, PaymentDeclined
	} else {
		o.Status, o.Payment.Status = OrderPaid, PaymentSucceeded
	}
	o.UpdatedAt = stamp(now)
}

// ChargeFailed records that the provider refused the charge request itself
// (not a decline: an invalid request), which retrying cannot fix.
func (o *Order) ChargeFailed(reason string, now time.Time) {
	o.Status, o.Payment.Status, o.Payment.Error = OrderPaymentFailed, PaymentFailed, reason
	o.UpdatedAt = stamp(now)
}

// CanRefund returns nil if the order's payment can be refunded, or an error
// matching [ErrConflict] that says why not. A refunded order can be refunded
// again: the refund is made once.
func (o *Order) CanRefund() error {
	switch o.Payment.Status {
	case PaymentSucceeded, PaymentRefunded:
		return nil
	case PaymentPending:
		return fmt.Errorf("%w: the order's payment is still pending", ErrConflict)
	}
	return fmt.Errorf("%w: the order's payment %s; there is nothing to refund", ErrConflict, o.Payment.Status)
}

// Refunded records a full refund.
func (o *Order) Refunded(now time.Time) {
	o.Status, o.Payment.Status, o.Payment.RefundedMinor = OrderRefunded, PaymentRefunded, o.TotalMinor
	o.UpdatedAt = stamp(now)
}
