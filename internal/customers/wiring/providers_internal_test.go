package wiring

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/customers/providers"
)

// TestShutdownAllReportsEveryError: every part is shut down even when one
// before it fails, and the error names each part that failed.
func TestShutdownAllReportsEveryError(t *testing.T) {
	errPay, errMail := errors.New("payments stuck"), errors.New("email stuck")
	var called []string
	part := func(name string, err error) namedShutdown {
		return namedShutdown{name, func(context.Context) error { called = append(called, name); return err }}
	}
	err := shutdownAll(context.Background(), []namedShutdown{
		part("payments simulator", errPay), part("inventory simulator", nil), part("email simulator", errMail)})
	if got := strings.Join(called, ","); got != "payments simulator,inventory simulator,email simulator" {
		t.Errorf("shut down %s; want all three in order", got)
	}
	if !errors.Is(err, errPay) || !errors.Is(err, errMail) {
		t.Fatalf("shutdownAll() = %v; want both errPay and errMail", err)
	}
	for _, want := range []string{"customers: payments simulator: payments stuck", "customers: email simulator: email stuck"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shutdownAll() = %q; want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "inventory") {
		t.Errorf("shutdownAll() = %q; names the inventory simulator, which stopped", err)
	}
	if err := shutdownAll(context.Background(), nil); err != nil {
		t.Errorf("shutdownAll(nothing) = %v, want nil", err)
	}
}

// StartSimulators starts the three provider simulators on loopback and closes
// them when t ends (Close may come after they were stopped). For this
// package's tests, inside it and outside.
func StartSimulators(t testing.TB) Simulators {
	t.Helper()
	pay, err := providers.NewPaymentSimulator(providers.PaymentSimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := providers.NewInventorySimulator(providers.InventorySimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mail, err := providers.NewEmailSimulator(providers.EmailSimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Start(string) error
		Close() error
	}{pay, inv, mail} {
		if err := s.Start(""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	return Simulators{pay, inv, mail}
}

// TestCloseProvidersStopsEverySimulator: closeProviders stops the three
// simulators it is given and leaves none running.
func TestCloseProvidersStopsEverySimulator(t *testing.T) {
	sims := StartSimulators(t)
	if err := closeProviders(context.Background(), Clients{}, sims); err != nil {
		t.Fatalf("closeProviders() = %v, want nil", err)
	}
	for _, s := range []interface{ Start(string) error }{sims.Payments, sims.Inventory, sims.Email} {
		if err := s.Start(""); !errors.Is(err, providers.ErrStarted) {
			t.Errorf("Start() after closeProviders = %v, want ErrStarted (stopped for good)", err)
		}
	}
}
