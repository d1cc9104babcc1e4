package domain

import (
	"strconv"
	"time"
)

// Templates of the e-mails the service sends.
const (
	TemplateWelcome    = "welcome"
	TemplateVIPWelcome = "vip-welcome"
)

// EmailSent records an e-mail the provider accepted for a customer.
type EmailSent struct {
	MessageID  string // the provider's idempotency key, derived from the event ID
	CustomerID string
	Template   string
	EventID    string // the event whose handler sent it
	SentAt     time.Time
}

// Reservation records stock the inventory provider holds for one item of an
// order.
type Reservation struct {
	ID         string // the provider's idempotency key: event ID and item index
	OrderID    string
	Line       int // the item's index in the order, from 0
	ProductID  string
	Quantity   int
	EventID    string
	ReservedAt time.Time
}

// EmailMessageID is the message ID of the e-mail with template sent for the
// event with ID eventID: the same for every delivery of the event, so that the
// provider sends it once.
func EmailMessageID(template, eventID string) string { return template + "-" + eventID }

// ReservationID is the ID of the reservation of item line of the order whose
// OrderCreated event has ID eventID.
func ReservationID(eventID string, line int) string { return eventID + "-" + strconv.Itoa(line) }
