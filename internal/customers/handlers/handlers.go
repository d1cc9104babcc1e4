package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/idempotency/sqlinbox"
	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/store"
)

// The subscriptions. Each handles one event type, which every transport
// supports (a JetStream consumer that filters several subjects needs NATS 2.10).
const (
	WelcomeEmail     = "welcome-email"     // CustomerCreated: the "welcome" e-mail
	VIPEmail         = "vip-email"         // CustomerPromotedToVip: the "vip-welcome" e-mail
	ReserveInventory = "reserve-inventory" // OrderCreated: one reservation per item
)

// Subscriptions lists the subscription names, for configuration and
// dashboards.
var Subscriptions = []string{WelcomeEmail, VIPEmail, ReserveInventory}

// EventTypes maps each subscription to the event type it consumes, for
// dashboards that put a subscription's deliveries next to its publications.
var EventTypes = map[string]string{
	WelcomeEmail:     domain.CustomerCreatedType,
	VIPEmail:         domain.CustomerPromotedToVipType,
	ReserveInventory: domain.OrderCreatedType,
}

// Email sends e-mails: a *providers.EmailClient.
type Email interface {
	Send(ctx context.Context, m providers.Message) (providers.Receipt, error)
}

// Inventory reserves stock: a *providers.InventoryClient.
type Inventory interface {
	Reserve(ctx context.Context, r providers.Reservation) (providers.Reservation, error)
}

// Inbox marks events done in a transaction: a *sqlinbox.Store.
type Inbox interface {
	DoneTx(ctx context.Context, tx sqlinbox.SQLTx, k idempotency.Key) error
}

// Config is what the handlers need. Every field but Logger is required.
type Config struct {
	Store     *store.Store
	Inbox     Inbox
	Email     Email
	Inventory Inventory
	// Logger receives a record per event handled. Nil logs nothing.
	Logger *slog.Logger
}

// Handlers are the event handlers. Build them with [Register].
type Handlers struct {
	cfg Config
	log *slog.Logger
}

// Register registers every handler on b, under its subscription.
func Register(b *bus.Bus, cfg Config) (*Handlers, error) {
	if cfg.Store == nil || cfg.Inbox == nil || cfg.Email == nil || cfg.Inventory == nil {
		return nil, errors.New("handlers: Config.Store, Inbox, Email and Inventory are required")
	}
	h := &Handlers{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, err := range []error{
		bus.Handle(b, WelcomeEmail, h.Welcome),
		bus.Handle(b, VIPEmail, h.VIPWelcome),
		bus.Handle(b, ReserveInventory, h.Reserve),
	} {
		if err != nil {
			return nil, fmt.Errorf("handlers: %w", err)
		}
	}
	return h, nil
}

// Welcome sends a new customer the welcome e-mail.
func (h *Handlers) Welcome(ctx context.Context, e domain.CustomerCreated, m bus.Meta) error {
	return h.sendEmail(ctx, m, e.CustomerID, e.Email, domain.TemplateWelcome, map[string]any{"name": e.Name})
}

// VIPWelcome sends a customer promoted to VIP the VIP welcome e-mail.
func (h *Handlers) VIPWelcome(ctx context.Context, e domain.CustomerPromotedToVip, m bus.Meta) error {
	return h.sendEmail(ctx, m, e.CustomerID, e.Email, domain.TemplateVIPWelcome, map[string]any{"name": e.Name})
}

func (h *Handlers) sendEmail(ctx context.Context, m bus.Meta, customerID, to, template string, data map[string]any) error {
	ctx = httpx.WithRequestID(ctx, m.CorrelationID)
	id := domain.EmailMessageID(template, m.ID)
	if _, err := h.cfg.Email.Send(ctx, providers.Message{ID: id, To: to, Template: template, Data: data}); err != nil {
		return err
	}
	rec := domain.EmailSent{MessageID: id, CustomerID: customerID, Template: template, EventID: m.ID, SentAt: time.Now()}
	done, err := h.record(ctx, m, func(tx *store.Tx) error { return tx.InsertEmail(ctx, rec) })
	if done {
		h.log.InfoContext(ctx, "e-mail sent", "template", template, "customer_id", customerID, "message_id", id)
	}
	return err
}

// Reserve reserves the stock of each item of a new order.
func (h *Handlers) Reserve(ctx context.Context, e domain.OrderCreated, m bus.Meta) error {
	ctx = httpx.WithRequestID(ctx, m.CorrelationID)
	recs := make([]domain.Reservation, 0, len(e.Items))
	for i, it := range e.Items {
		r := providers.Reservation{ID: domain.ReservationID(m.ID, i), OrderID: e.OrderID, ProductID: it.ProductID, Quantity: it.Quantity}
		if _, err := h.cfg.Inventory.Reserve(ctx, r); err != nil {
			return err
		}
		recs = append(recs, domain.Reservation{ID: r.ID, OrderID: e.OrderID, Line: i, ProductID: it.ProductID,
			Quantity: it.Quantity, EventID: m.ID, ReservedAt: time.Now()})
	}
	done, err := h.record(ctx, m, func(tx *store.Tx) error {
		for _, r := range recs {
			if err := tx.InsertReservation(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if done {
		h.log.InfoContext(ctx, "stock reserved", "order_id", e.OrderID, "items", len(recs))
	}
	return err
}

// errDuplicate rolls back the transaction of a handler whose event another
// run marked done first.
var errDuplicate = errors.New("handlers: event handled by another run")

// record runs write and marks the event done in the inbox, in one transaction.
// It reports whether this run committed; a run that finds the event done
// already rolls its writes back and returns nil.
func (h *Handlers) record(ctx context.Context, m bus.Meta, write func(tx *store.Tx) error) (bool, error) {
	err := h.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		err := h.cfg.Inbox.DoneTx(ctx, tx.SQL(), idempotency.Key{Consumer: m.Subscription, MessageID: m.ID})
		if errors.Is(err, sqlinbox.ErrAlreadyDone) {
			return errDuplicate
		}
		return err
	})
	if errors.Is(err, errDuplicate) {
		h.log.InfoContext(ctx, "event handled before; nothing recorded")
		return false, nil
	}
	return err == nil, err
}
