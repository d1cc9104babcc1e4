package handlers_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/idempotency/sqlinbox"
	"github.com/rampart-go/rampart/internal/customers/app"
	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/handlers"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/store"
)

// env is the handlers on the memory transport, with SQLite, the SQL inbox as
// the bus's inbox, and the e-mail and inventory simulators.
type env struct {
	bus       *bus.Bus
	tr        *memory.Transport
	store     *store.Store
	email     *providers.EmailSimulator
	inventory *providers.InventorySimulator
	settled   chan bus.Settlement
}

func newEnv(t *testing.T, inv providers.InventorySimOptions) *env {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "customers.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	inbox, err := sqlinbox.New(st.DB(), sqlinbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inbox.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{tr: memory.New(), store: st, settled: make(chan bus.Settlement, 100)}
	t.Cleanup(func() { e.tr.Close() })
	if e.email, err = providers.NewEmailSimulator(providers.EmailSimOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.inventory, err = providers.NewInventorySimulator(inv); err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Start(string) error
		Close() error
	}{e.email, e.inventory} {
		if err := s.Start(""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	emailClient, err := providers.NewEmailClient(e.email.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emailClient.Close)
	invClient, err := providers.NewInventoryClient(e.inventory.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(invClient.Close)

	reg, err := app.Events()
	if err != nil {
		t.Fatal(err)
	}
	fast := bus.SubscriptionOptions{RedeliveryDelays: []time.Duration{10 * time.Millisecond}, MaxAttempts: 3}
	e.bus, err = bus.New(e.tr, bus.Options{Source: "/customers-test", Registry: reg, Inbox: inbox,
		Subscriptions: map[string]bus.SubscriptionOptions{handlers.WelcomeEmail: fast, handlers.VIPEmail: fast, handlers.ReserveInventory: fast},
		OnSettle:      func(s bus.Settlement) { e.settled <- s }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handlers.Register(e.bus, handlers.Config{Store: st, Inbox: inbox, Email: emailClient, Inventory: invClient}); err != nil {
		t.Fatal(err)
	}
	if err := e.bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.bus.Close() })
	return e
}

// settle waits for the next settlement.
func (e *env) settle(t *testing.T) bus.Settlement {
	t.Helper()
	select {
	case s := <-e.settled:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery settled within 10s")
		return bus.Settlement{}
	}
}

// publishTwice publishes the message of event twice, with one event ID: what
// a relay that died before marking its row sent does.
func (e *env) publishTwice(t *testing.T, event any, subject string) bus.Message {
	t.Helper()
	msg, err := e.bus.Encode(t.Context(), event, bus.WithSubject(subject))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.tr.Publish(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	return msg
}

func TestWelcomeEmailOnceForADuplicate(t *testing.T) {
	e := newEnv(t, providers.InventorySimOptions{})
	ctx := t.Context()
	c, err := domain.NewCustomer(domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	msg := e.publishTwice(t, domain.CustomerCreatedFrom(c), c.ID)

	got := map[bus.Action]int{}
	for range 2 {
		got[e.settle(t).Action]++
	}
	if got[bus.ActionAck] != 1 || got[bus.ActionSkip] != 1 {
		t.Errorf("settlements of a duplicated event = %v; want one ack and one skip", got)
	}
	id := domain.EmailMessageID(domain.TemplateWelcome, msg.ID)
	if n := e.email.SendCount(id); n != 1 {
		t.Errorf("SendCount(%s) = %d; want 1", id, n)
	}
	emails, err := e.store.EmailsOf(ctx, c.ID)
	if err != nil || len(emails) != 1 || emails[0].MessageID != id || emails[0].EventID != msg.ID {
		t.Errorf("EmailsOf() = %+v, %v; want the welcome e-mail, once", emails, err)
	}
}

func TestReservationsOncePerItem(t *testing.T) {
	e := newEnv(t, providers.InventorySimOptions{})
	ctx := t.Context()
	c, _ := domain.NewCustomer(domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"}, time.Now())
	o, err := domain.NewOrder(domain.NewOrderInput{CustomerID: c.ID, Currency: "EUR", Items: []domain.Item{
		{ProductID: "sku-1", Quantity: 2, PriceMinor: 100}, {ProductID: "sku-2", Quantity: 1, PriceMinor: 50}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.publishTwice(t, domain.OrderCreatedFrom(o), o.ID)
	for range 2 {
		e.settle(t)
	}
	for _, sku := range []string{"sku-1", "sku-2"} {
		if n := e.inventory.ReservationCount(o.ID, sku); n != 1 {
			t.Errorf("ReservationCount(%s) = %d; want 1", sku, n)
		}
	}
	res, err := e.store.ReservationsOf(ctx, o.ID)
	if err != nil || len(res) != 2 {
		t.Errorf("ReservationsOf() = %+v, %v; want 2 reservations", res, err)
	}
}

func TestOutOfStockIsDeadLettered(t *testing.T) {
	e := newEnv(t, providers.InventorySimOptions{Stock: map[string]int{"rare": 1}})
	c, _ := domain.NewCustomer(domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"}, time.Now())
	o, err := domain.NewOrder(domain.NewOrderInput{CustomerID: c.ID, Currency: "EUR", Items: []domain.Item{
		{ProductID: "rare", Quantity: 5, PriceMinor: 100}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := e.bus.Encode(t.Context(), domain.OrderCreatedFrom(o), bus.WithSubject(o.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tr.Publish(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	s := e.settle(t)
	if s.Action != bus.ActionDeadLetter || s.Reason != bus.ReasonPermanent || !errors.Is(s.Err, providers.ErrOutOfStock) {
		t.Errorf("settlement = %v %q %v; want dead-lettered at once, permanent, out of stock", s.Action, s.Reason, s.Err)
	}
	dl, err := e.tr.DeadLetters(context.Background(), handlers.ReserveInventory, 0)
	if err != nil || len(dl) != 1 || dl[0].ID != msg.ID {
		t.Errorf("DeadLetters() = %d messages, %v; want the event", len(dl), err)
	}
}
