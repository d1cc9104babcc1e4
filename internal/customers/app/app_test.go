package app_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/internal/customers/app"
	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/outbox"
	"github.com/rampart-go/rampart/resilience"
)

// payments answers charges with what err and declined say, and counts them.
type payments struct {
	mu       sync.Mutex
	err      error
	declined bool
	charges  map[string]int
}

func (p *payments) ProcessPayment(_ context.Context, req providers.PaymentRequest) (providers.Payment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return providers.Payment{}, p.err
	}
	p.charges[req.OrderID]++
	st := providers.PaymentSucceeded
	if p.declined {
		st = providers.PaymentDeclined
	}
	return providers.Payment{ID: "pay_" + req.OrderID, OrderID: req.OrderID, Status: st}, nil
}

func (p *payments) RefundPayment(context.Context, providers.RefundRequest) (providers.Refund, error) {
	return providers.Refund{}, nil
}

func (p *payments) set(err error, declined bool) {
	p.mu.Lock()
	p.err, p.declined = err, declined
	p.mu.Unlock()
}

func newService(t *testing.T) (*app.Service, *store.Store, *payments) {
	t.Helper()
	w := newWorld(t)
	return w.svc, w.st, w.pay
}

// world is a service on a SQLite store, with its bus on the memory transport
// (not started).
type world struct {
	svc *app.Service
	st  *store.Store
	pay *payments
	tr  *memory.Transport
	bus *bus.Bus
}

func newWorld(t *testing.T) world {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Migrate(t.Context(), st.DB(), outbox.Options{}); err != nil {
		t.Fatal(err)
	}
	reg, err := app.Events()
	if err != nil {
		t.Fatal(err)
	}
	tr := memory.New()
	t.Cleanup(func() { tr.Close() })
	b, err := bus.New(tr, bus.Options{Source: "/test", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	p := &payments{charges: map[string]int{}}
	svc, err := app.New(app.Config{Store: st, Events: b, Payments: p})
	if err != nil {
		t.Fatal(err)
	}
	return world{svc: svc, st: st, pay: p, tr: tr, bus: b}
}

func unsentTypes(t *testing.T, st *store.Store) []string {
	t.Helper()
	rows, err := st.DB().QueryContext(t.Context(), "SELECT event_type FROM rampart_outbox WHERE sent_at IS NULL ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestOrderPayments(t *testing.T) {
	svc, st, pay := newService(t)
	ctx := t.Context()
	c, err := svc.CreateCustomer(ctx, domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	in := domain.NewOrderInput{CustomerID: c.ID, Currency: "EUR", Items: []domain.Item{{ProductID: "a", Quantity: 1, PriceMinor: 100}}}

	for _, tc := range []struct {
		name       string
		err        error
		declined   bool
		wantStatus string
	}{
		{"paid", nil, false, domain.PaymentSucceeded},
		{"declined", nil, true, domain.PaymentDeclined},
		{"refused", resilience.Permanent(&providers.Error{Kind: providers.ErrInvalidRequest}), false, domain.PaymentFailed},
		{"provider down", &providers.Error{Kind: providers.ErrUnavailable}, false, domain.PaymentPending},
		{"credentials refused", resilience.Permanent(&providers.Error{Kind: providers.ErrUnauthorized}), false, domain.PaymentPending},
	} {
		pay.set(tc.err, tc.declined)
		o, err := svc.CreateOrder(ctx, in)
		if err != nil {
			t.Fatalf("%s: CreateOrder() = %v", tc.name, err)
		}
		if o.Payment.Status != tc.wantStatus {
			t.Errorf("%s: payment %s; want %s", tc.name, o.Payment.Status, tc.wantStatus)
		}
		got, err := st.Order(ctx, o.ID)
		if err != nil || got.Payment.Status != tc.wantStatus {
			t.Errorf("%s: stored payment %s, %v; want %s", tc.name, got.Payment.Status, err, tc.wantStatus)
		}
	}

	// The two pending orders are charged once the provider answers.
	pay.set(nil, false)
	n, err := svc.ChargePending(ctx, -time.Second, 10)
	if err != nil || n != 2 {
		t.Errorf("ChargePending() = %d, %v; want 2 orders charged", n, err)
	}
	if n, _ := svc.ChargePending(ctx, -time.Second, 10); n != 0 {
		t.Errorf("ChargePending() again = %d; want 0", n)
	}

	want := []string{domain.CustomerCreatedType}
	for range 5 {
		want = append(want, domain.OrderCreatedType)
	}
	if got := unsentTypes(t, st); len(got) != len(want) || got[0] != want[0] || got[5] != want[5] {
		t.Errorf("outbox = %v; want %v", got, want)
	}
}

func TestNoEventWithoutChange(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := t.Context()
	c, err := svc.CreateCustomer(ctx, domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCustomer(ctx, domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CreateCustomer(e-mail in use) = %v; want ErrConflict", err)
	}
	for i, wantChanged := range []bool{true, false} {
		_, changed, err := svc.PromoteToVIP(ctx, c.ID)
		if err != nil || changed != wantChanged {
			t.Errorf("PromoteToVIP() #%d = %v, %v; want %v", i+1, changed, err, wantChanged)
		}
	}
	got := unsentTypes(t, st)
	if len(got) != 2 || got[0] != domain.CustomerCreatedType || got[1] != domain.CustomerPromotedToVipType {
		t.Errorf("outbox = %v; want one CustomerCreated and one CustomerPromotedToVip (the conflict and the second promotion add none)", got)
	}
}

// The events reach their handlers as soon as their transaction commits, with
// nothing called after the commit (the relay polls once an hour); an event that
// nobody subscribes to (CustomerPromotedToVip here) is parked, as unroutable,
// and holds back nothing.
func TestEventsFlowThroughTheOutbox(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	got := make(chan string, 10)
	handled := func(m bus.Meta) error {
		select {
		case got <- m.Type:
		default: // never block the consumer's Close
		}
		return nil
	}
	for _, err := range []error{
		bus.Handle(w.bus, "welcome", func(_ context.Context, _ domain.CustomerCreated, m bus.Meta) error { return handled(m) }),
		bus.Handle(w.bus, "billing", func(_ context.Context, _ domain.OrderCreated, m bus.Meta) error { return handled(m) }),
		w.bus.Start(ctx),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { w.bus.Close() })
	var (
		mu     sync.Mutex
		parked []outbox.Parked
	)
	relay, err := outbox.NewRelay(w.st.DB(), w.tr, outbox.RelayOptions{PollInterval: time.Hour, UnroutableGrace: -1, OnPark: func(p outbox.Parked) {
		mu.Lock()
		parked = append(parked, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	expect := func(typ string) {
		t.Helper()
		select {
		case g := <-got:
			if g != typ {
				t.Errorf("handled %s, want %s", g, typ)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not handled within 5s", typ)
		}
	}

	c, err := w.svc.CreateCustomer(ctx, domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	expect(domain.CustomerCreatedType)
	if _, changed, err := w.svc.PromoteToVIP(ctx, c.ID); err != nil || !changed {
		t.Fatalf("PromoteToVIP() = %v, %v; want a change", changed, err)
	}
	in := domain.NewOrderInput{CustomerID: c.ID, Currency: "EUR", Items: []domain.Item{{ProductID: "a", Quantity: 1, PriceMinor: 100}}}
	if _, err := w.svc.CreateOrder(ctx, in); err != nil {
		t.Fatal(err)
	}
	expect(domain.OrderCreatedType)

	var b outbox.Backlog
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err = outbox.ReadBacklog(ctx, w.st.DB(), outbox.Options{}); err != nil {
			t.Fatal(err)
		}
		if b == (outbox.Backlog{Parked: 1}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog %+v; want the promotion parked and nothing else waiting", b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(parked) != 1 || parked[0].Type != domain.CustomerPromotedToVipType || parked[0].Reason != outbox.ParkUnroutable || parked[0].Key != c.ID {
		t.Errorf("parked %+v; want the CustomerPromotedToVip of %s, unroutable", parked, c.ID)
	}
}
