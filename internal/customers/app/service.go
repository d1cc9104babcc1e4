package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/outbox"
)

// ErrUnavailable is matched by the errors of use cases that needed a provider
// which could not be reached (its breaker open, say): the request may succeed
// later.
var ErrUnavailable = errors.New("app: a provider is unavailable")

// Encoder builds the message of an event, as *bus.Bus does.
type Encoder = outbox.Encoder

// Payments is what the service asks of the payment provider: a
// *providers.PaymentClient.
type Payments interface {
	ProcessPayment(ctx context.Context, req providers.PaymentRequest) (providers.Payment, error)
	RefundPayment(ctx context.Context, req providers.RefundRequest) (providers.Refund, error)
}

// Config configures a [Service]. Store, Events and Payments are required.
type Config struct {
	Store *store.Store
	// Events encodes the events: the service's *bus.Bus, whose registry is
	// [Events]().
	Events Encoder
	// Outbox is where the events are written. Nil means the default outbox
	// (rampart_outbox). The outbox wakes its relay after each commit by itself.
	Outbox *outbox.Outbox
	// Payments charges and refunds orders.
	Payments Payments
	// RequestChargeTimeout bounds the charge made while the client of
	// [Service.CreateOrder] waits: when the provider has not answered by then,
	// the order is answered with its payment pending and [Service.ChargePending]
	// finishes the job (the charge is idempotent by order ID, so a late success
	// and the background charge make one payment). Zero means 2s.
	RequestChargeTimeout time.Duration
	// ChargeTimeout bounds each charge of [Service.ChargePending], made with no
	// client waiting. Zero means 15s.
	ChargeTimeout time.Duration
	// Logger receives one record per change. Nil logs nothing.
	Logger *slog.Logger
}

// Service runs the use cases. Build it with [New].
type Service struct {
	store     *store.Store
	events    Encoder
	outbox    *outbox.Outbox
	payments  Payments
	chargeTO  time.Duration // a background charge
	requestTO time.Duration // a charge while the client waits
	log       *slog.Logger
}

// New returns the service of cfg.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("app: Config.Store is required")
	case cfg.Events == nil:
		return nil, errors.New("app: Config.Events is required")
	case cfg.Payments == nil:
		return nil, errors.New("app: Config.Payments is required")
	case cfg.ChargeTimeout < 0:
		return nil, fmt.Errorf("app: Config.ChargeTimeout is %s; want ≥ 0", cfg.ChargeTimeout)
	case cfg.RequestChargeTimeout < 0:
		return nil, fmt.Errorf("app: Config.RequestChargeTimeout is %s; want ≥ 0", cfg.RequestChargeTimeout)
	}
	s := &Service{store: cfg.Store, events: cfg.Events, outbox: cfg.Outbox,
		payments: cfg.Payments, chargeTO: cfg.ChargeTimeout, requestTO: cfg.RequestChargeTimeout, log: cfg.Logger}
	if s.outbox == nil {
		var err error
		if s.outbox, err = outbox.New(outbox.Options{}); err != nil {
			return nil, err
		}
	}
	if s.chargeTO == 0 {
		s.chargeTO = 15 * time.Second
	}
	if s.requestTO == 0 {
		s.requestTO = 2 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// emit writes event into the outbox in tx, with subject as the envelope's
// subject (and ordering key): it is published if and only if tx commits, at
// once (the outbox wakes the relay).
func (s *Service) emit(ctx context.Context, tx *store.Tx, event any, subject string) error {
	if _, err := s.outbox.Write(ctx, tx.SQL(), s.events, event, bus.WithSubject(subject)); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}
