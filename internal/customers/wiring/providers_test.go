package wiring_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/wiring"
)

// TestConfiguredProviders: providers with a client in the configuration are
// called there, with the credentials the configuration names, and no simulator
// is started for them.
func TestConfiguredProviders(t *testing.T) {
	sims := wiring.StartSimulators(t)
	pay, inv, mail := sims.Payments, sims.Inventory, sims.Email
	t.Setenv("TEST_PAYMENTS_SECRET", pay.ClientConfig().ClientSecret.(auth.Secret).Reveal())
	t.Setenv("TEST_INVENTORY_KEY", inv.ClientConfig().Key.(auth.Secret).Reveal())
	t.Setenv("TEST_EMAIL_KEY", mail.ClientConfig().APIKey.(auth.Secret).Reveal())

	dir := t.TempDir()
	yaml := fmt.Sprintf(`clients:
  payments:
    base_url: %[1]s
    total_timeout: 5s
    auth:
      oauth2: {token_url: %[1]s/oauth/token, client_id: customers, client_secret: {env: TEST_PAYMENTS_SECRET}}
  inventory:
    base_url: %[2]s
    auth:
      hmac: {key_id: customers, key: {env: TEST_INVENTORY_KEY}}
  email:
    base_url: %[3]s
    auth:
      api_key: {env: TEST_EMAIL_KEY}
bus:
  transport: jetstream
  embedded: {data_dir: %[4]q}
`, pay.URL(), inv.URL(), mail.URL(), filepath.Join(dir, "jetstream"))
	cfg, err := config.LoadOptions{IgnoreEnv: true}.Parse("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, wiring.Settings{DataDir: dir, Config: cfg})
	if sims := s.Simulators(); sims.Payments != nil || sims.Inventory != nil || sims.Email != nil {
		t.Errorf("Simulators() = %+v; want none: every provider is configured", sims)
	}
	c := s.call("POST", "/customers", map[string]any{"name": "Flo", "email": "flo@example.com"}, true).want(t, "POST /customers", http.StatusCreated)
	o := s.call("POST", "/orders", map[string]any{"customer_id": c.str("id"), "currency": "EUR", "items": []any{
		map[string]any{"product_id": "sku-9", "quantity": 3, "price_minor": 700}}}, true).want(t, "POST /orders", http.StatusCreated)
	if o.str("payment.status") != "succeeded" || pay.Charges(o.str("id")) != 1 {
		t.Errorf("order %s, %d charges at the configured provider; want paid, 1", o.raw, pay.Charges(o.str("id")))
	}
	eventually(t, wait, "the configured e-mail provider sends the welcome e-mail", func() bool {
		return countTo(mail, "flo@example.com", domain.TemplateWelcome) == 1
	})
	eventually(t, wait, "the configured inventory provider reserves the item", func() bool {
		return inv.ReservationCount(o.str("id"), "sku-9") == 1
	})
}
