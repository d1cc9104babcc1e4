package domain

import "time"

// The event type names, stable across versions of the service: consumers bind
// them. A change that breaks consumers gets a new name (".v2").
const (
	CustomerCreatedType       = "customers.customer-created.v1"
	CustomerPromotedToVipType = "customers.customer-promoted-to-vip.v1"
	OrderCreatedType          = "customers.order-created.v1"
)

// CustomerCreated: a customer was created. Its subject is the customer ID.
type CustomerCreated struct {
	CustomerID string       `json:"customer_id"`
	Name       string       `json:"name"`
	Email      string       `json:"email"`
	Type       CustomerType `json:"type"`
	CreatedAt  time.Time    `json:"created_at"`
}

// CustomerPromotedToVip: a regular customer became a VIP. Its subject is the
// customer ID.
type CustomerPromotedToVip struct {
	CustomerID string    `json:"customer_id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	PromotedAt time.Time `json:"promoted_at"`
}

// OrderCreated: an order was created (its payment may still be pending). Its
// subject is the order ID.
type OrderCreated struct {
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	Currency   string    `json:"currency"`
	Items      []Item    `json:"items"`
	TotalMinor int64     `json:"total_minor"`
	CreatedAt  time.Time `json:"created_at"`
}

// CustomerCreatedFrom returns the event of c's creation.
func CustomerCreatedFrom(c Customer) CustomerCreated {
	return CustomerCreated{CustomerID: c.ID, Name: c.Name, Email: c.Email, Type: c.Type, CreatedAt: c.CreatedAt}
}

// OrderCreatedFrom returns the event of o's creation.
func OrderCreatedFrom(o Order) OrderCreated {
	return OrderCreated{OrderID: o.ID, CustomerID: o.CustomerID, Currency: o.Currency,
		Items: append([]Item(nil), o.Items...), TotalMinor: o.TotalMinor, CreatedAt: o.CreatedAt}
}
