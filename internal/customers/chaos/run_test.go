package chaos_test

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/chaos"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/testenv"
)

// TestRun is a short rehearsal: a payments outage, a restart and a broker
// connection cut (the embedded JetStream server restarted) under load, after
// which every count agrees.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal takes seconds")
	}
	rehearse(t, chaos.Config{}, "note: broker connection cut: embedded JetStream server stopped", "reconnected")
}

// TestRunRabbitMQ is the same rehearsal on RabbitMQ, in a virtual host of its
// own (made and deleted with rabbitmqctl), whose connections the cut closes.
// It is skipped when RabbitMQ is absent (unless RAMPART_REQUIRE_SERVICES=1) or
// rabbitmqctl cannot reach it.
func TestRunRabbitMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal takes seconds")
	}
	amqpURL := testenv.URL(t, testenv.AMQP)
	if out, err := exec.CommandContext(t.Context(), "rabbitmqctl", "-q", "status").CombinedOutput(); err != nil {
		if testenv.Required() && !errors.Is(err, exec.ErrNotFound) {
			t.Fatalf("rabbitmqctl status: %v: %s", err, out)
		}
		t.Skipf("rabbitmqctl cannot manage the broker (it makes the rehearsal's virtual host and cuts its connections): %v", err)
	}
	rehearse(t, chaos.Config{Transport: "rabbitmq", BusURL: amqpURL},
		"note: broker connection cut: RabbitMQ closed the service's 2 connections")
	out, err := exec.CommandContext(t.Context(), "rabbitmqctl", "-q", "list_vhosts", "--no-table-headers").CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl list_vhosts: %v: %s", err, out)
	}
	if strings.Contains(string(out), "customers-chaos-") {
		t.Errorf("a rehearsal's virtual host is left on the broker:\n%s", out)
	}
}

// rehearse runs a short rehearsal on the transport of cfg and checks that
// every count agrees, and that the output has want.
func rehearse(t *testing.T, cfg chaos.Config, want ...string) {
	t.Helper()
	var out bytes.Buffer
	cfg.Duration, cfg.Rate, cfg.Concurrency, cfg.DataDir = 7*time.Second, 8, 4, t.TempDir()
	cfg.Schedule = []chaos.Injection{
		{At: 1 * time.Second, For: 2 * time.Second, Kind: chaos.PaymentFaults, Faults: providers.Faults{Outage: true}},
		{At: 4 * time.Second, Kind: chaos.Restart},
		{At: 5 * time.Second, For: 500 * time.Millisecond, Kind: chaos.BrokerCut},
	}
	cfg.SettleTimeout, cfg.Progress, cfg.ProgressEvery, cfg.Seed = 15*time.Second, &out, 2*time.Second, 1
	sum, err := chaos.Run(t.Context(), cfg)
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
	for _, want := range append([]string{"inject payments outage", "restarted in", "chaos: PASS"}, want...) {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "skipped") || strings.Contains(out.String(), "cut failed") {
		t.Errorf("the broker connection cut was not made")
	}
}
