package chaos

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-go/rampart/internal/customers/domain"
)

// ErrDisagreement is matched by the error of a run whose counts disagree.
var ErrDisagreement = errors.New("chaos: counts disagree")

// Facts are what the rehearsal counts once the service has settled: what the
// service's database holds, and what the simulators did.
type Facts struct {
	// Customers are the customers in the database.
	Customers []domain.Customer
	// Orders are the orders in the database, with their items.
	Orders []domain.Order
	// Charges counts the payments the payment simulator made, by order ID.
	Charges map[string]int
	// Reservations counts the reservations the inventory simulator made, by
	// order and product.
	Reservations map[ReservationKey]int
	// Emails are the distinct messages the e-mail simulator accepted.
	Emails []Email
	// DeadLetters are the events in the dead-letter queues.
	DeadLetters []DeadLetter
}

// ReservationKey identifies the reservation of one item of an order.
type ReservationKey struct{ OrderID, ProductID string }

// Email is a message the e-mail provider sent.
type Email struct{ ID, To, Template string }

// DeadLetter is a dead-lettered event, with why.
type DeadLetter struct {
	Subscription string
	EventID      string
	EventType    string
	Subject      string // the customer or order ID
	Reason       string
	Error        string
	Attempts     int
}

// Disagreement is one count that is not what it should be.
type Disagreement struct {
	Effect  string // "payment", "reservation", "welcome e-mail", "vip e-mail", "order"
	Subject string // the order, "order/product", or the customer
	Want    int
	Got     int
	Note    string // the order's payment status, the dead letter that explains it, ...
}

func (d Disagreement) String() string {
	kind := "duplicate"
	if d.Got < d.Want {
		kind = "missing"
	}
	s := fmt.Sprintf("%s %s of %s: got %d, want %d", kind, d.Effect, d.Subject, d.Got, d.Want)
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}

// Missing reports whether the effect is missing (it may still come), rather than
// duplicated.
func (d Disagreement) Missing() bool { return d.Got < d.Want }

// DisagreementError is the error of a run whose counts disagree; it matches
// [ErrDisagreement].
type DisagreementError struct{ Disagreements []Disagreement }

func (e *DisagreementError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: %d counts disagree", len(e.Disagreements))
	for i, d := range e.Disagreements {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Disagreements)-i)
			break
		}
		b.WriteString("; " + d.String())
	}
	return b.String()
}

func (e *DisagreementError) Is(target error) bool { return target == ErrDisagreement }

// Counts are the totals of a check.
type Counts struct {
	Customers, Promoted, Orders, PendingOrders int
	Payments, Reservations, ItemsOrdered       int
	Emails, WelcomeEmails, VIPEmails           int
	DeadLetters                                int
}

// Check compares the effects at the simulators with what the database says
// should have happened, and returns the totals and every disagreement, sorted.
// An order whose payment is still pending wants no charge yet and is reported
// as a missing "settled payment"; one the provider
// refused outright (payment failed) wants none.
func Check(f Facts) (Counts, []Disagreement) {
	var (
		c   Counts
		out []Disagreement
	)
	dead := map[string]DeadLetter{} // by subject
	for _, d := range f.DeadLetters {
		dead[d.Subject] = d
	}
	note := func(subject, base string) string {
		if d, ok := dead[subject]; ok {
			dl := fmt.Sprintf("dead-lettered by %s after %d attempts: %s: %s", d.Subscription, d.Attempts, d.Reason, d.Error)
			if base == "" {
				return dl
			}
			return base + "; " + dl
		}
		return base
	}
	add := func(effect, subject string, want, got int, n string) {
		if want != got {
			out = append(out, Disagreement{Effect: effect, Subject: subject, Want: want, Got: got, Note: n})
		}
	}

	// Payments and reservations, per order.
	orders := map[string]bool{}
	items := map[ReservationKey]bool{}
	for _, o := range f.Orders {
		orders[o.ID] = true
		want := 1
		switch o.Payment.Status {
		case domain.PaymentPending:
			c.PendingOrders++
			want = 0
			out = append(out, Disagreement{Effect: "settled payment", Subject: o.ID, Want: 1, Got: 0,
				Note: fmt.Sprintf("order still pending payment; %d charges at the provider", f.Charges[o.ID])})
		case domain.PaymentFailed:
			want = 0
		}
		if o.Payment.Status != domain.PaymentPending {
			add("payment", o.ID, want, f.Charges[o.ID], "payment "+o.Payment.Status)
		}
		for _, it := range o.Items {
			k := ReservationKey{o.ID, it.ProductID}
			if items[k] {
				continue // the same product twice in one order: one reservation per item is not countable per product
			}
			items[k] = true
			c.ItemsOrdered++
			add("reservation", o.ID+"/"+it.ProductID, 1, f.Reservations[k], note(o.ID, ""))
		}
	}
	c.Orders = len(f.Orders)
	for id, n := range f.Charges {
		c.Payments += n
		if !orders[id] {
			add("payment", id, 0, n, "no such order")
		}
	}
	for k, n := range f.Reservations {
		c.Reservations += n
		if !items[k] {
			add("reservation", k.OrderID+"/"+k.ProductID, 0, n, "no such order item")
		}
	}

	// E-mails, per customer and template, by distinct message ID.
	type mailKey struct{ to, template string }
	sent := map[mailKey]int{}
	seen := map[string]bool{}
	for _, e := range f.Emails {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		sent[mailKey{e.To, e.Template}]++
		c.Emails++
		switch e.Template {
		case domain.TemplateWelcome:
			c.WelcomeEmails++
		case domain.TemplateVIPWelcome:
			c.VIPEmails++
		}
	}
	known := map[mailKey]bool{}
	for _, cu := range f.Customers {
		vip := 0
		if cu.Type == domain.VIP {
			vip = 1
			c.Promoted++
		}
		w, v := mailKey{cu.Email, domain.TemplateWelcome}, mailKey{cu.Email, domain.TemplateVIPWelcome}
		known[w], known[v] = true, true
		add("welcome e-mail", cu.ID, 1, sent[w], note(cu.ID, ""))
		add("vip e-mail", cu.ID, vip, sent[v], note(cu.ID, ""))
	}
	c.Customers = len(f.Customers)
	for k, n := range sent {
		if !known[k] {
			add(k.template+" e-mail", k.to, 0, n, "no such customer")
		}
	}
	c.DeadLetters = len(f.DeadLetters)

	slices.SortFunc(out, func(a, b Disagreement) int {
		return cmp.Or(cmp.Compare(a.Effect, b.Effect), cmp.Compare(a.Subject, b.Subject))
	})
	return c, out
}
