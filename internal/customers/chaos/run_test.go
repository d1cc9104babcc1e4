package chaos_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/chaos"
	"github.com/rampart-go/rampart/internal/customers/providers"
)

// TestRun is a short rehearsal: a payments outage, a restart and a broker
// connection cut (the embedded JetStream server restarted) under load, after
// which every count agrees.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal takes seconds")
	}
	var out bytes.Buffer
	sum, err := chaos.Run(t.Context(), chaos.Config{
		Duration:    7 * time.Second,
		Rate:        8,
		Concurrency: 4,
		DataDir:     t.TempDir(),
		Schedule: []chaos.Injection{
			{At: 1 * time.Second, For: 2 * time.Second, Kind: chaos.PaymentFaults, Faults: providers.Faults{Outage: true}},
			{At: 4 * time.Second, Kind: chaos.Restart},
			{At: 5 * time.Second, For: 500 * time.Millisecond, Kind: chaos.BrokerCut},
		},
		SettleTimeout: 15 * time.Second,
		Progress:      &out,
		ProgressEvery: 2 * time.Second,
		Seed:          1,
	})
	t.Logf("output:\n%s", &out)
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	c := sum.Counts
	if c.Customers == 0 || c.Orders == 0 {
		t.Fatalf("Run() counted %d customers and %d orders; want some of each", c.Customers, c.Orders)
	}
	if c.Payments != c.Orders || c.Reservations != c.ItemsOrdered || c.WelcomeEmails != c.Customers || c.VIPEmails != c.Promoted {
		t.Errorf("Run() counts = %+v; want one payment per order, one reservation per item, one e-mail per event", c)
	}
	if c.PendingOrders != 0 || len(sum.Disagreements) != 0 {
		t.Errorf("Run() left %d orders pending and %d disagreements", c.PendingOrders, len(sum.Disagreements))
	}
	for _, want := range []string{"inject payments outage", "restarted in",
		"note: broker connection cut: embedded JetStream server stopped", "reconnected", "chaos: PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "skipped") || strings.Contains(out.String(), "cut failed") {
		t.Errorf("the broker connection cut was not made")
	}
}
