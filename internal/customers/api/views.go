package api

import (
	"time"

	"github.com/rampart-go/rampart/internal/customers/app"
	"github.com/rampart-go/rampart/internal/customers/domain"
)

// The JSON the API answers. Amounts are integers in minor units.

type customerJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// customerDetailJSON is a customer with the effects of its events.
type customerDetailJSON struct {
	customerJSON
	Emails []emailJSON        `json:"emails"`
	Orders []orderSummaryJSON `json:"orders"`
}

type orderSummaryJSON struct {
	ID            string      `json:"id"`
	Currency      string      `json:"currency"`
	TotalMinor    int64       `json:"total_minor"`
	Status        string      `json:"status"`
	Payment       paymentJSON `json:"payment"`
	ReservedItems int         `json:"reserved_items"`
	CreatedAt     time.Time   `json:"created_at"`
}

type emailJSON struct {
	MessageID string    `json:"message_id"`
	Template  string    `json:"template"`
	EventID   string    `json:"event_id"`
	SentAt    time.Time `json:"sent_at"`
}

type customerListJSON struct {
	Customers []customerJSON `json:"customers"`
	Next      string         `json:"next,omitempty"` // the "after" of the next page
}

type orderJSON struct {
	ID           string            `json:"id"`
	CustomerID   string            `json:"customer_id"`
	Currency     string            `json:"currency"`
	Items        []itemJSON        `json:"items"`
	TotalMinor   int64             `json:"total_minor"`
	Status       string            `json:"status"`
	Payment      paymentJSON       `json:"payment"`
	Reservations []reservationJSON `json:"reservations,omitempty"` // in GET /orders/{id}
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

type itemJSON struct {
	ProductID      string `json:"product_id"`
	Quantity       int    `json:"quantity"`
	PriceMinor     int64  `json:"price_minor"`
	LineTotalMinor int64  `json:"line_total_minor"`
}

type paymentJSON struct {
	Status        string `json:"status"`
	PaymentID     string `json:"payment_id,omitempty"`
	RefundedMinor int64  `json:"refunded_minor"`
	Error         string `json:"error,omitempty"`
}

type reservationJSON struct {
	ReservationID string    `json:"reservation_id"`
	Line          int       `json:"line"`
	ProductID     string    `json:"product_id"`
	Quantity      int       `json:"quantity"`
	ReservedAt    time.Time `json:"reserved_at"`
}

func customerView(c domain.Customer) customerJSON {
	return customerJSON{ID: c.ID, Name: c.Name, Email: c.Email, Type: string(c.Type), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func customerDetailView(v app.CustomerView) customerDetailJSON {
	j := customerDetailJSON{customerJSON: customerView(v.Customer)}
	j.Emails = make([]emailJSON, 0, len(v.Emails))
	for _, e := range v.Emails {
		j.Emails = append(j.Emails, emailJSON{MessageID: e.MessageID, Template: e.Template, EventID: e.EventID, SentAt: e.SentAt})
	}
	j.Orders = make([]orderSummaryJSON, 0, len(v.Orders))
	for _, o := range v.Orders {
		j.Orders = append(j.Orders, orderSummaryJSON{ID: o.ID, Currency: o.Currency, TotalMinor: o.TotalMinor, Status: o.Status,
			Payment:       paymentJSON{Status: o.Payment.Status, PaymentID: o.Payment.ID, RefundedMinor: o.Payment.RefundedMinor, Error: o.Payment.Error},
			ReservedItems: o.ReservedItems, CreatedAt: o.CreatedAt})
	}
	return j
}

func orderView(o domain.Order) orderJSON {
	j := orderJSON{ID: o.ID, CustomerID: o.CustomerID, Currency: o.Currency, TotalMinor: o.TotalMinor, Status: o.Status,
		Payment:   paymentJSON{Status: o.Payment.Status, PaymentID: o.Payment.ID, RefundedMinor: o.Payment.RefundedMinor, Error: o.Payment.Error},
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Items: make([]itemJSON, 0, len(o.Items))}
	for _, it := range o.Items {
		j.Items = append(j.Items, itemJSON{ProductID: it.ProductID, Quantity: it.Quantity, PriceMinor: it.PriceMinor, LineTotalMinor: it.LineTotal()})
	}
	return j
}

func orderDetailView(v app.OrderView) orderJSON {
	j := orderView(v.Order)
	j.Reservations = make([]reservationJSON, 0, len(v.Reservations))
	for _, r := range v.Reservations {
		j.Reservations = append(j.Reservations, reservationJSON{ReservationID: r.ID, Line: r.Line, ProductID: r.ProductID, Quantity: r.Quantity, ReservedAt: r.ReservedAt})
	}
	return j
}
