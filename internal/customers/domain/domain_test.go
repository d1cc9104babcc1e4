package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

var now = time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC)

// fieldsOf returns the names of the invalid fields of err.
func fieldsOf(err error) []string {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestNewCustomer(t *testing.T) {
	for _, tc := range []struct {
		in         domain.NewCustomerInput
		wantFields []string
		wantEmail  string
		wantType   domain.CustomerType
	}{
		{in: domain.NewCustomerInput{Name: " Ann ", Email: "ann@Example.COM"}, wantEmail: "ann@example.com", wantType: domain.Regular},
		{in: domain.NewCustomerInput{Name: "Bo", Email: "bo@example.com", Type: domain.VIP}, wantEmail: "bo@example.com", wantType: domain.VIP},
		{in: domain.NewCustomerInput{}, wantFields: []string{"name", "email"}},
		{in: domain.NewCustomerInput{Name: "Ann", Email: "Ann <ann@example.com>"}, wantFields: []string{"email"}},
		{in: domain.NewCustomerInput{Name: "Ann", Email: "ann@localhost"}, wantFields: []string{"email"}},
		{in: domain.NewCustomerInput{Name: strings.Repeat("a", 201), Email: "ann@example.com", Type: "gold"}, wantFields: []string{"name", "type"}},
		{in: domain.NewCustomerInput{Name: "A\x00nn", Email: "ann@example.com"}, wantFields: []string{"name"}},
	} {
		c, err := domain.NewCustomer(tc.in, now)
		if got := fieldsOf(err); !reflect.DeepEqual(got, tc.wantFields) {
			t.Errorf("NewCustomer(%+v) invalid fields = %v (%v); want %v", tc.in, got, err, tc.wantFields)
			continue
		}
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("NewCustomer(%+v) = %v; want an error matching ErrInvalid", tc.in, err)
			}
			continue
		}
		if c.Email != tc.wantEmail || c.Type != tc.wantType || !domain.ValidID(c.ID) || !c.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
			t.Errorf("NewCustomer(%+v) = %+v; want e-mail %q, type %q, an ID, created now to the µs", tc.in, c, tc.wantEmail, tc.wantType)
		}
	}
}

func TestPromote(t *testing.T) {
	c, _ := domain.NewCustomer(domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"}, now)
	if !c.Promote(now) || c.Type != domain.VIP {
		t.Fatalf("Promote() of a regular customer = false or type %q; want true, vip", c.Type)
	}
	if c.Promote(now) {
		t.Error("Promote() of a VIP = true; want false")
	}
}

func TestNewOrder(t *testing.T) {
	cid, _ := domain.NewID()
	item := func(p string, q int, price int64) domain.Item {
		return domain.Item{ProductID: p, Quantity: q, PriceMinor: price}
	}
	for _, tc := range []struct {
		name       string
		in         domain.NewOrderInput
		wantFields []string
		wantTotal  int64
	}{
		{"total", domain.NewOrderInput{CustomerID: cid, Currency: "EUR", Items: []domain.Item{item("a", 2, 1250), item("b", 1, 499)}}, nil, 2999},
		{"empty", domain.NewOrderInput{}, []string{"customer_id", "currency", "items"}, 0},
		{"bad customer", domain.NewOrderInput{CustomerID: "c-1", Currency: "EUR", Items: []domain.Item{item("a", 1, 1)}}, []string{"customer_id"}, 0},
		{"bad currency", domain.NewOrderInput{CustomerID: cid, Currency: "eur", Items: []domain.Item{item("a", 1, 1)}}, []string{"currency"}, 0},
		{"bad items", domain.NewOrderInput{CustomerID: cid, Currency: "EUR", Items: []domain.Item{item("", 0, -1), item("a b", 10001, 1)}},
			[]string{"items[0].product_id", "items[0].quantity", "items[0].price_minor", "items[1].product_id", "items[1].quantity"}, 0},
		{"zero total", domain.NewOrderInput{CustomerID: cid, Currency: "EUR", Items: []domain.Item{item("a", 1, 0)}}, []string{"items"}, 0},
		{"largest", domain.NewOrderInput{CustomerID: cid, Currency: "JPY", Items: []domain.Item{item("a", 10, domain.MaxPriceMinor)}}, nil, 10 * domain.MaxPriceMinor},
		{"over the limit", domain.NewOrderInput{CustomerID: cid, Currency: "JPY", Items: []domain.Item{item("a", 10, domain.MaxPriceMinor), item("b", 1, 1)}}, []string{"items"}, 0},
	} {
		o, err := domain.NewOrder(tc.in, now)
		if got := fieldsOf(err); !reflect.DeepEqual(got, tc.wantFields) {
			t.Errorf("%s: NewOrder() invalid fields = %v (%v); want %v", tc.name, got, err, tc.wantFields)
			continue
		}
		if err == nil && (o.TotalMinor != tc.wantTotal || o.Status != domain.OrderPendingPayment || o.Payment.Status != domain.PaymentPending) {
			t.Errorf("%s: NewOrder() = total %d, %s/%s; want total %d, pending", tc.name, o.TotalMinor, o.Status, o.Payment.Status, tc.wantTotal)
		}
	}
}

func TestRefund(t *testing.T) {
	cid, _ := domain.NewID()
	o, _ := domain.NewOrder(domain.NewOrderInput{CustomerID: cid, Currency: "EUR", Items: []domain.Item{{ProductID: "a", Quantity: 1, PriceMinor: 100}}}, now)
	if err := o.CanRefund(); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CanRefund() of a pending order = %v; want ErrConflict", err)
	}
	o.Charged("pay_1", true, now)
	if err := o.CanRefund(); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CanRefund() of a declined order = %v; want ErrConflict", err)
	}
	o.Charged("pay_1", false, now)
	if err := o.CanRefund(); err != nil {
		t.Errorf("CanRefund() of a paid order = %v; want nil", err)
	}
	o.Refunded(now)
	if o.Status != domain.OrderRefunded || o.Payment.RefundedMinor != 100 || o.CanRefund() != nil {
		t.Errorf("after Refunded: %s, refunded %d; want refunded 100, and refundable again (once)", o.Status, o.Payment.RefundedMinor)
	}
}
