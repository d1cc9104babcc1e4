package wiring_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/domain"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/wiring"
	"github.com/rampart-go/rampart/internal/sim"
)

// wait bounds every wait for an event's effect.
const wait = 15 * time.Second

// TestEmbeddedDefaults runs the service as `go run ./cmd/customers` does on a
// fresh machine (SQLite and JetStream in the data directory, the providers'
// simulators, a development token) and goes through the API.
func TestEmbeddedDefaults(t *testing.T) {
	s := start(t, wiring.Settings{Simulators: testSimulators()})
	exercise(t, s)

	t.Run("health", func(t *testing.T) {
		r := s.call("GET", "/health/ready", nil, false).want(t, "GET /health/ready", http.StatusOK)
		for _, key := range []string{"database:responseTime", "broker:connection", "payments:responseTime",
			"inventory:responseTime", "email:responseTime", "outbox:backlog"} {
			if _, ok := r.body["checks"].(map[string]any)[key]; !ok {
				t.Errorf("readiness checks lack %s: %s", key, r.raw)
			}
		}
		if !strings.Contains(r.raw, "payments/127.0.0.1") || !strings.Contains(r.raw, "-breaker:state") {
			t.Errorf("readiness does not report the payments breaker: %s", r.raw)
		}
		s.call("GET", "/health/live", nil, false).want(t, "GET /health/live", http.StatusOK)
		m := s.call("GET", "/metrics", nil, false).want(t, "GET /metrics", http.StatusOK)
		for _, name := range []string{"http_client_request_duration_seconds", "messaging_process_duration_seconds", "resilience_breaker_state"} {
			if !strings.Contains(m.raw, name) {
				t.Errorf("/metrics lacks %s", name)
			}
		}
		st := s.call("GET", "/internal/stats", nil, false).want(t, "GET /internal/stats", http.StatusOK)
		if !strings.Contains(st.raw, `"customers.order-created.v1"`) || !strings.Contains(st.raw, `"reserve-inventory"`) {
			t.Errorf("/internal/stats lacks the published events or the subscriptions: %s", st.raw)
		}
	})

	t.Run("correlation", func(t *testing.T) {
		// One request's ID is in its access log, on its event's handler records,
		// and on the handler's calls to the provider.
		const rid = "test-correlation-1"
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/customers", strings.NewReader(`{"name": "Cy", "email": "cy@example.com"}`))
		req.Header.Set("Authorization", "Bearer "+s.DevToken())
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-ID", rid)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Request-Id") != rid {
			t.Fatalf("POST /customers with X-Request-ID: %d, echoed %q; want 201, %q", resp.StatusCode, resp.Header.Get("X-Request-Id"), rid)
		}
		eventually(t, wait, "the welcome e-mail's handler logs the request's correlation ID", func() bool {
			for _, rec := range s.logs.records("e-mail sent") {
				if rec["correlation_id"] == rid && rec["event_id"] != nil && rec["subscription"] == "welcome-email" {
					return true
				}
			}
			return false
		})
		found := false
		for _, rec := range s.logs.records("http attempt") {
			if rec["request_id"] == rid && strings.Contains(fmt.Sprint(rec["url"]), "/v1/messages") {
				found = true
			}
		}
		if !found {
			t.Errorf("no call to the e-mail provider carries X-Request-ID %s", rid)
		}
	})
}

// exercise goes through the API of a service that runs the built-in simulators,
// checking the effects of the events at the simulators.
func exercise(t *testing.T, s *service) {
	sims := s.Simulators()
	var customerID, email string

	t.Run("unauthenticated writes", func(t *testing.T) {
		for _, path := range []string{"/customers", "/orders", "/customers/00000000-0000-7000-8000-000000000000/promote"} {
			r := s.call("POST", path, map[string]any{}, false).want(t, "POST "+path+" without a token", http.StatusUnauthorized)
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("POST %s without a token: Content-Type %q, WWW-Authenticate %q; want a problem and a Bearer challenge",
					path, ct, r.header.Get("WWW-Authenticate"))
			}
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/customers", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer not-a-token")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /customers with a bad token: %d; want 401", resp.StatusCode)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			body   any
			status int
			fields []string
		}{
			{"/customers", map[string]any{"name": "", "email": "nope", "type": "gold"}, 422, []string{"name", "email", "type"}},
			{"/customers", map[string]any{"name": "Ann", "email": "ann@example.com", "vip": true}, 422, []string{"vip"}},
			{"/customers", `{"name": "Ann",`, 400, nil},
			{"/orders", map[string]any{"customer_id": "x", "currency": "euro", "items": []any{}}, 422, []string{"customer_id", "currency", "items"}},
			{"/orders", `{"customer_id": "x", "currency": "EUR", "items": [{"product_id": "a", "quantity": 1, "price_minor": 19.99}]}`, 422, []string{"items.price_minor"}},
			{"/orders", map[string]any{"customer_id": "00000000-0000-7000-8000-000000000000", "currency": "EUR",
				"items": []any{map[string]any{"product_id": "a", "quantity": 1, "price_minor": 100}}}, 422, []string{"customer_id"}},
		} {
			r := s.call("POST", tc.path, tc.body, true).want(t, fmt.Sprintf("POST %s %v", tc.path, tc.body), tc.status)
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("POST %s %v: Content-Type %q; want application/problem+json", tc.path, tc.body, ct)
			}
			if r.body["status"] != float64(tc.status) || r.str("type") == "" || r.str("request_id") == "" || r.str("instance") != tc.path {
				t.Errorf("POST %s %v: problem %s; want type, status, instance and request_id", tc.path, tc.body, r.raw)
			}
			var got []string
			for _, e := range r.list("errors") {
				got = append(got, e.(map[string]any)["field"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("POST %s %v: field errors %v; want %v", tc.path, tc.body, got, tc.fields)
			}
		}
		s.call("GET", "/customers/nope", nil, false).want(t, "GET /customers/nope", http.StatusNotFound)
		s.call("GET", "/orders/00000000-0000-7000-8000-000000000000", nil, false).want(t, "GET an unknown order", http.StatusNotFound)
	})

	t.Run("create a customer: welcome e-mail sent once", func(t *testing.T) {
		email = "ann@example.com"
		r := s.call("POST", "/customers", map[string]any{"name": "Ann Lee", "email": email}, true).want(t, "POST /customers", http.StatusCreated)
		customerID = r.str("id")
		if r.str("type") != "regular" || r.header.Get("Location") != "/customers/"+customerID {
			t.Errorf("POST /customers = %s, Location %q; want a regular customer and its location", r.raw, r.header.Get("Location"))
		}
		s.call("POST", "/customers", map[string]any{"name": "Ann again", "email": email}, true).want(t, "POST /customers with an e-mail in use", http.StatusConflict)

		var c response
		eventually(t, wait, "the customer shows the welcome e-mail", func() bool {
			c = s.call("GET", "/customers/"+customerID, nil, false)
			return len(c.list("emails")) == 1
		})
		msgID := c.list("emails")[0].(map[string]any)["message_id"].(string)
		if !strings.HasPrefix(msgID, "welcome-") {
			t.Errorf("e-mail message ID %q; want welcome-<event ID>", msgID)
		}
		if n := sims.Email.SendCount(msgID); n != 1 {
			t.Errorf("e-mail simulator: %s accepted %d times; want 1", msgID, n)
		}
		if n := countTo(sims.Email, email, domain.TemplateWelcome); n != 1 {
			t.Errorf("e-mail simulator: %d welcome e-mails to %s; want 1", n, email)
		}
		list := s.call("GET", "/customers?limit=200", nil, false).want(t, "GET /customers", http.StatusOK)
		found := false
		for _, c := range list.list("customers") {
			found = found || c.(map[string]any)["id"] == customerID
		}
		if !found {
			t.Errorf("GET /customers does not list %s: %s", customerID, list.raw)
		}
	})

	t.Run("promote to VIP", func(t *testing.T) {
		if customerID == "" {
			t.Skip("no customer")
		}
		r := s.call("POST", "/customers/"+customerID+"/promote", nil, true).want(t, "POST promote", http.StatusOK)
		if r.str("type") != "vip" {
			t.Errorf("promote: %s; want type vip", r.raw)
		}
		s.call("POST", "/customers/"+customerID+"/promote", nil, true).want(t, "POST promote again", http.StatusOK)
		eventually(t, wait, "the VIP welcome e-mail is sent", func() bool { return countTo(sims.Email, email, domain.TemplateVIPWelcome) == 1 })
	})

	var orderID string
	t.Run("create an order: charged once, one reservation per item", func(t *testing.T) {
		if customerID == "" {
			t.Skip("no customer")
		}
		r := s.call("POST", "/orders", map[string]any{"customer_id": customerID, "currency": "EUR", "items": []any{
			map[string]any{"product_id": "sku-1", "quantity": 2, "price_minor": 1250},
			map[string]any{"product_id": "sku-2", "quantity": 1, "price_minor": 499},
		}}, true).want(t, "POST /orders", http.StatusCreated)
		orderID = r.str("id")
		if r.body["total_minor"] != float64(2999) || r.str("status") != "paid" || r.str("payment.status") != "succeeded" || r.str("payment.payment_id") == "" {
			t.Errorf("POST /orders = %s; want total 2999, paid", r.raw)
		}
		if n := sims.Payments.Charges(orderID); n != 1 {
			t.Errorf("payment simulator: %d charges for %s; want 1", n, orderID)
		}
		var o response
		eventually(t, wait, "the order shows a reservation per item", func() bool {
			o = s.call("GET", "/orders/"+orderID, nil, false)
			return len(o.list("reservations")) == 2
		})
		for _, sku := range []string{"sku-1", "sku-2"} {
			if n := sims.Inventory.ReservationCount(orderID, sku); n != 1 {
				t.Errorf("inventory simulator: %d reservations of %s for the order; want 1", n, sku)
			}
		}
		if o.str("payment.status") != "succeeded" {
			t.Errorf("GET /orders/%s: payment %s; want succeeded", orderID, o.raw)
		}
	})

	t.Run("refund", func(t *testing.T) {
		if orderID == "" {
			t.Skip("no order")
		}
		before := sims.Payments.Stats().Refunds
		r := s.call("POST", "/orders/"+orderID+"/refund", nil, true).want(t, "POST refund", http.StatusOK)
		if r.str("status") != "refunded" || r.body["payment"].(map[string]any)["refunded_minor"] != float64(2999) {
			t.Errorf("refund = %s; want refunded 2999", r.raw)
		}
		s.call("POST", "/orders/"+orderID+"/refund", nil, true).want(t, "POST refund again", http.StatusOK)
		if n := sims.Payments.Stats().Refunds - before; n != 1 {
			t.Errorf("payment simulator: %d refunds; want 1", n)
		}
		o := s.call("GET", "/orders/"+orderID, nil, false).want(t, "GET the refunded order", http.StatusOK)
		if o.str("payment.status") != "refunded" {
			t.Errorf("GET the refunded order: %s; want payment refunded", o.raw)
		}
	})

	t.Run("declined payment", func(t *testing.T) {
		if customerID == "" {
			t.Skip("no customer")
		}
		// The simulators of these tests decline above 1,000,000 minor units.
		r := s.call("POST", "/orders", map[string]any{"customer_id": customerID, "currency": "EUR", "items": []any{
			map[string]any{"product_id": "yacht", "quantity": 1, "price_minor": 5_000_000},
		}}, true).want(t, "POST an order above the decline limit", http.StatusCreated)
		if r.str("status") != "payment_declined" || r.str("payment.status") != "declined" {
			t.Errorf("order above the decline limit: %s; want declined", r.raw)
		}
		s.call("POST", "/orders/"+r.str("id")+"/refund", nil, true).want(t, "refund of a declined order", http.StatusConflict)
	})

	t.Run("out of stock: dead-lettered with the reason", func(t *testing.T) {
		if customerID == "" {
			t.Skip("no customer")
		}
		r := s.call("POST", "/orders", map[string]any{"customer_id": customerID, "currency": "EUR", "items": []any{
			map[string]any{"product_id": "sold-out", "quantity": 1, "price_minor": 100},
		}}, true).want(t, "POST an order of a product out of stock", http.StatusCreated)
		var dl map[string]any
		eventually(t, wait, "the order's event is dead-lettered by reserve-inventory", func() bool {
			for _, d := range deadLetters(t, s, "reserve-inventory") {
				if m := d.(map[string]any); strings.Contains(fmt.Sprint(m["body"]), r.str("id")) {
					dl = m
					return true
				}
			}
			return false
		})
		if dl["reason"] != "permanent-error" || !strings.Contains(fmt.Sprint(dl["error"]), "out of stock") || dl["event_type"] != domain.OrderCreatedType {
			t.Errorf("dead letter = %v; want reason permanent-error, out of stock, an OrderCreated event", dl)
		}
		if n := sims.Inventory.ReservationCount(r.str("id"), "sold-out"); n != 0 {
			t.Errorf("inventory simulator: %d reservations of a product out of stock; want 0", n)
		}
	})
}

// deadLetters returns the dead letters of a subscription, through the API.
func deadLetters(t *testing.T, s *service, subscription string) []any {
	t.Helper()
	s.call("GET", "/internal/deadletters/"+subscription, nil, false).want(t, "dead letters without a token", http.StatusUnauthorized)
	return s.call("GET", "/internal/deadletters/"+subscription, nil, true).want(t, "GET dead letters", http.StatusOK).list("dead_letters")
}

// countTo counts the e-mails with template the simulator accepted for to.
func countTo(s *providers.EmailSimulator, to, template string) int {
	n := 0
	for _, m := range s.Messages() {
		if m.To == to && m.Template == template {
			n++
		}
	}
	return n
}

// testSimulators are the simulators' options of these tests.
func testSimulators() wiring.SimulatorOptions {
	return wiring.SimulatorOptions{
		Payments:  providers.PaymentSimOptions{DeclineAbove: 1_000_000},
		Inventory: providers.InventorySimOptions{Stock: map[string]int{"sold-out": 0}},
	}
}

// TestPaymentProviderDown: an order created while the payment provider is down
// is answered pending within about 2s (the in-request charge is bounded; the
// payment client's retries, honouring Retry-After, would take longer), and
// charged once, in the background, when the provider is back.
func TestPaymentProviderDown(t *testing.T) {
	opts := testSimulators()
	// Retry-After 1s: the payment client retries, and would keep the client
	// waiting about 3s in all (a longer one makes it give up at once).
	opts.Payments.Faults = providers.Faults{Outage: true, RetryAfter: time.Second}
	s := start(t, wiring.Settings{Simulators: opts, ChargeInterval: 100 * time.Millisecond})
	sims := s.Simulators()
	c := s.call("POST", "/customers", map[string]any{"name": "Di", "email": "di@example.com"}, true).want(t, "POST /customers", http.StatusCreated)
	began := time.Now()
	r := s.call("POST", "/orders", map[string]any{"customer_id": c.str("id"), "currency": "EUR", "items": []any{
		map[string]any{"product_id": "sku-1", "quantity": 1, "price_minor": 100}}}, true).want(t, "POST /orders during an outage", http.StatusCreated)
	if d := time.Since(began); d > 2800*time.Millisecond {
		t.Errorf("POST /orders during a payments outage answered after %s; want within the 2s charge bound (2.8s)", d.Round(time.Millisecond))
	} else {
		t.Logf("POST /orders during a payments outage answered after %s", d.Round(time.Millisecond))
	}
	id := r.str("id")
	if r.str("status") != "pending_payment" || r.str("payment.status") != "pending" {
		t.Fatalf("order created during an outage: %s; want pending", r.raw)
	}
	s.call("POST", "/orders/"+id+"/refund", nil, true).want(t, "refund of a pending order", http.StatusConflict)
	sims.Payments.SetOutage(false)
	eventually(t, wait, "the pending order is charged once the provider is back", func() bool {
		return s.call("GET", "/orders/"+id, nil, false).str("payment.status") == "succeeded"
	})
	if n := sims.Payments.Charges(id); n != 1 {
		t.Errorf("payment simulator: %d charges for the order; want 1", n)
	}
}

// TestGracefulShutdown: readiness fails first, and a request under way when
// the shutdown starts is answered.
func TestGracefulShutdown(t *testing.T) {
	opts := testSimulators()
	lat, err := sim.ParseLatency("400ms")
	if err != nil {
		t.Fatal(err)
	}
	opts.Payments.Faults = providers.Faults{Latency: lat}
	load := wiring.ConfigOptions(t.TempDir()) // the built-in defaults under the file
	load.IgnoreEnv = true
	cfg, err := load.Parse("test", []byte("health:\n  drain_delay: 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, wiring.Settings{Simulators: opts, Config: cfg})
	c := s.call("POST", "/customers", map[string]any{"name": "Ed", "email": "ed@example.com"}, true).want(t, "POST /customers", http.StatusCreated)

	type result struct {
		r   response
		err error
	}
	answered := make(chan result, 1)
	go func() {
		r, err := s.request("POST", "/orders", map[string]any{"customer_id": c.str("id"), "currency": "EUR", "items": []any{
			map[string]any{"product_id": "sku-1", "quantity": 1, "price_minor": 100}}}, true)
		answered <- result{r, err}
	}()
	eventually(t, wait, "the order's payment is under way", func() bool { return s.Simulators().Payments.Stats().InFlight > 0 })

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	eventually(t, wait, "readiness fails while draining (before the server stops accepting)", func() bool {
		r := s.call("GET", "/health/ready", nil, false)
		return r.status == http.StatusServiceUnavailable && strings.Contains(r.raw, "draining")
	})
	res := <-answered
	if res.err != nil {
		t.Fatalf("the order under way at shutdown: %v", res.err)
	}
	r := res.r.want(t, "the order under way at shutdown", http.StatusCreated)
	if r.str("payment.status") != "succeeded" {
		t.Errorf("the order under way at shutdown: %s; want paid", r.raw)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}
