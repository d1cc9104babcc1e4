package chaos

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

// agreeing is a small world in which every count agrees.
func agreeing() Facts {
	return Facts{
		Customers: []domain.Customer{
			{ID: "c1", Email: "a@example.com", Type: domain.Regular},
			{ID: "c2", Email: "b@example.com", Type: domain.VIP},
		},
		Orders: []domain.Order{
			{ID: "o1", CustomerID: "c1", Payment: domain.Payment{Status: domain.PaymentSucceeded},
				Items: []domain.Item{{ProductID: "sku-1"}, {ProductID: "sku-2"}}},
			{ID: "o2", CustomerID: "c2", Payment: domain.Payment{Status: domain.PaymentDeclined},
				Items: []domain.Item{{ProductID: "sku-3"}}},
		},
		Charges: map[string]int{"o1": 1, "o2": 1},
		Reservations: map[ReservationKey]int{
			{"o1", "sku-1"}: 1, {"o1", "sku-2"}: 1, {"o2", "sku-3"}: 1,
		},
		Emails: []Email{
			{ID: "welcome-e1", To: "a@example.com", Template: domain.TemplateWelcome},
			{ID: "welcome-e2", To: "b@example.com", Template: domain.TemplateWelcome},
			{ID: "vip-welcome-e3", To: "b@example.com", Template: domain.TemplateVIPWelcome},
		},
	}
}

func TestCheckAgrees(t *testing.T) {
	c, got := Check(agreeing())
	if len(got) != 0 {
		t.Fatalf("Check(agreeing) disagreements = %v, want none", got)
	}
	want := Counts{Customers: 2, Promoted: 1, Orders: 2, Payments: 2, Reservations: 3, ItemsOrdered: 3, Emails: 3, WelcomeEmails: 2, VIPEmails: 1}
	if c != want {
		t.Errorf("Check(agreeing) counts = %+v, want %+v", c, want)
	}
}

func TestCheckDisagreements(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(f *Facts)
		want   []string
	}{
		{"duplicate charge", func(f *Facts) { f.Charges["o1"] = 2 },
			[]string{"duplicate payment of o1: got 2, want 1 (payment succeeded)"}},
		{"missing charge", func(f *Facts) { delete(f.Charges, "o2") },
			[]string{"missing payment of o2: got 0, want 1 (payment declined)"}},
		{"charge of an unknown order", func(f *Facts) { f.Charges["o9"] = 1 },
			[]string{"duplicate payment of o9: got 1, want 0 (no such order)"}},
		{"still pending", func(f *Facts) { f.Orders[0].Payment.Status = domain.PaymentPending; f.Charges["o1"] = 0 },
			[]string{"missing settled payment of o1: got 0, want 1 (order still pending payment; 0 charges at the provider)"}},
		{"failed payment charged", func(f *Facts) { f.Orders[1].Payment.Status = domain.PaymentFailed },
			[]string{"duplicate payment of o2: got 1, want 0 (payment failed)"}},
		{"duplicate reservation", func(f *Facts) { f.Reservations[ReservationKey{"o1", "sku-2"}] = 2 },
			[]string{"duplicate reservation of o1/sku-2: got 2, want 1"}},
		{"missing reservation, dead-lettered", func(f *Facts) {
			delete(f.Reservations, ReservationKey{"o2", "sku-3"})
			f.DeadLetters = []DeadLetter{{Subscription: "reserve-inventory", Subject: "o2", Reason: "permanent", Error: "out of stock", Attempts: 1}}
		}, []string{"missing reservation of o2/sku-3: got 0, want 1 (dead-lettered by reserve-inventory after 1 attempts: permanent: out of stock)"}},
		{"welcome e-mail twice", func(f *Facts) {
			f.Emails = append(f.Emails, Email{ID: "welcome-e4", To: "a@example.com", Template: domain.TemplateWelcome})
		}, []string{"duplicate welcome e-mail of c1: got 2, want 1"}},
		{"a repeat of the same message is one e-mail", func(f *Facts) {
			f.Emails = append(f.Emails, f.Emails[0])
		}, nil},
		{"vip e-mail missing", func(f *Facts) { f.Emails = f.Emails[:2] },
			[]string{"missing vip e-mail of c2: got 0, want 1"}},
		{"vip e-mail to a regular customer", func(f *Facts) {
			f.Emails = append(f.Emails, Email{ID: "vip-welcome-e5", To: "a@example.com", Template: domain.TemplateVIPWelcome})
		}, []string{"duplicate vip e-mail of c1: got 1, want 0"}},
		{"e-mail to nobody", func(f *Facts) {
			f.Emails = append(f.Emails, Email{ID: "welcome-e6", To: "x@example.com", Template: domain.TemplateWelcome})
		}, []string{"duplicate welcome e-mail of x@example.com: got 1, want 0 (no such customer)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := agreeing()
			tc.change(&f)
			_, ds := Check(f)
			var got []string
			for _, d := range ds {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDisagreementError(t *testing.T) {
	err := fmt.Errorf("run: %w", &DisagreementError{Disagreements: []Disagreement{{Effect: "payment", Subject: "o1", Want: 1, Got: 2}}})
	if !errors.Is(err, ErrDisagreement) {
		t.Errorf("errors.Is(%v, ErrDisagreement) = false, want true", err)
	}
	var de *DisagreementError
	if !errors.As(err, &de) || len(de.Disagreements) != 1 {
		t.Errorf("errors.As(%v) = %v, want the one disagreement", err, de)
	}
	if want := "run: chaos: 1 counts disagree; duplicate payment of o1: got 2, want 1"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
