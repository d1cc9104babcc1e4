package providers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/providers"
)

// configuredOptions returns the httpx.Options package config builds for the
// client name of src, whose secrets are read when used.
func configuredOptions(t *testing.T, src, name string) httpx.Options {
	t.Helper()
	cfg, err := config.LoadOptions{}.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	o, err := cfg.Clients[name].HTTPXOptions()
	if err != nil {
		t.Fatalf("HTTPXOptions(%s): %v", name, err)
	}
	fo := fast()
	o.Retry.Backoff, o.Retry.MaxRetryAfter, o.Breaker = fo.Retry.Backoff, fo.Retry.MaxRetryAfter, fo.Breaker
	return o
}

// TestClientsTakeTheirAuthFromConfig: each client works with the credentials
// config builds from its auth section, and reads their secrets when it uses
// them: a key rotated in the environment or a file is used from the next call.
func TestClientsTakeTheirAuthFromConfig(t *testing.T) {
	pay := startPayments(t, providers.PaymentSimOptions{})
	inv := startInventory(t, providers.InventorySimOptions{})
	mail := startEmail(t, providers.EmailSimOptions{})
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "payments-secret")
	if err := os.WriteFile(secretFile, []byte(pay.ClientConfig().ClientSecret.(auth.Secret).Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rightKey := inv.ClientConfig().Key.(auth.Secret).Reveal()
	t.Setenv("TEST_INVENTORY_KEY", "a-wrong-key-of-at-least-32-bytes-0815")
	t.Setenv("TEST_EMAIL_KEY", mail.ClientConfig().APIKey.(auth.Secret).Reveal())
	src := fmt.Sprintf(`clients:
  payments:
    base_url: %[1]s
    auth:
      oauth2: {token_url: %[1]s/oauth/token, client_id: customers, client_secret: {file: %[4]s}}
  inventory:
    base_url: %[2]s
    auth:
      hmac: {key_id: customers, key: {env: TEST_INVENTORY_KEY}}
  email:
    base_url: %[3]s
    auth:
      api_key: {env: TEST_EMAIL_KEY}
`, pay.URL(), inv.URL(), mail.URL(), secretFile)
	ctx := context.Background()

	pc := paymentClient(t, providers.PaymentClientConfig{HTTP: configuredOptions(t, src, "payments")})
	if p, err := pc.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "A-1", AmountMinor: 100, Currency: "EUR"}); err != nil || p.Status != providers.PaymentSucceeded {
		t.Errorf("ProcessPayment with config's OAuth2 = %+v, %v; want succeeded", p, err)
	}

	ic := inventoryClient(t, providers.InventoryClientConfig{HTTP: configuredOptions(t, src, "inventory")})
	r := providers.Reservation{ID: "A-1/sku", OrderID: "A-1", ProductID: "sku", Quantity: 1}
	_, err := ic.Reserve(ctx, r)
	wantKind(t, err, providers.ErrUnauthorized, true)
	t.Setenv("TEST_INVENTORY_KEY", rightKey) // the rotation, after the client was built
	if _, err := ic.Reserve(ctx, r); err != nil || inv.ReservationCount("A-1", "sku") != 1 {
		t.Errorf("Reserve after the key's rotation = %v, %d reservations; want nil, 1", err, inv.ReservationCount("A-1", "sku"))
	}

	ec := emailClient(t, providers.EmailClientConfig{HTTP: configuredOptions(t, src, "email")})
	if _, err := ec.Send(ctx, providers.Message{ID: "m-1", To: "ann@example.com", Template: "welcome"}); err != nil || mail.SendCount("m-1") != 1 {
		t.Errorf("Send with config's API key = %v, %d sent; want nil, 1", err, mail.SendCount("m-1"))
	}
}

// TestConfiguredOAuth2RefusalIsPermanent: a token endpoint that refuses the
// client configured by config is not asked again and again by the retries.
func TestConfiguredOAuth2RefusalIsPermanent(t *testing.T) {
	pay := startPayments(t, providers.PaymentSimOptions{})
	t.Setenv("TEST_PAYMENTS_SECRET", "a-wrong-secret-0815")
	src := fmt.Sprintf("clients:\n  payments:\n    base_url: %[1]s\n    auth:\n      oauth2: {token_url: %[1]s/oauth/token, client_id: customers, client_secret: {env: TEST_PAYMENTS_SECRET}}\n", pay.URL())
	pc := paymentClient(t, providers.PaymentClientConfig{HTTP: configuredOptions(t, src, "payments")})
	_, err := pc.ProcessPayment(context.Background(), providers.PaymentRequest{OrderID: "A-2", AmountMinor: 1, Currency: "EUR"})
	wantKind(t, err, providers.ErrUnauthorized, true)
	if st := pay.Stats(); st.Requests != 0 || st.TokensIssued != 0 || st.TokensRefused == 0 || st.TokensRefused > 2 {
		// x/oauth2 tries HTTP Basic, then form parameters: at most 2 refusals, no retry.
		t.Errorf("stats = %+v; want no API request, no token, 1 or 2 refusals", st)
	}
}
