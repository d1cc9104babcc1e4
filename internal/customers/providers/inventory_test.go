package providers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/internal/customers/providers"
)

func TestInventoryReserve(t *testing.T) {
	sim := startInventory(t, providers.InventorySimOptions{Stock: map[string]int{"sku-1": 10}})
	c := inventoryClient(t, sim.ClientConfig())
	ctx := context.Background()
	r := providers.Reservation{ID: "A-1/1", OrderID: "A-1", ProductID: "sku-1", Quantity: 3}

	got, err := c.Reserve(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || got.OrderID != "A-1" || got.ProductID != "sku-1" || got.Quantity != 3 || got.Status != "reserved" || got.CreatedAt.IsZero() {
		t.Errorf("Reserve = %+v, want reserved 3 of sku-1 for A-1", got)
	}
	again, err := c.Reserve(ctx, r)
	if err != nil || again != got {
		t.Errorf("Reserve again = %+v, %v; want %+v", again, err, got)
	}
	if _, err := c.Reserve(ctx, providers.Reservation{ID: "A-1/2", OrderID: "A-1", ProductID: "sku-2", Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Reservations(ctx, "A-1")
	if err != nil || len(list) != 2 || list[0] != got {
		t.Errorf("Reservations(A-1) = %+v, %v; want 2, the first %+v", list, err, got)
	}
	if list, err := c.Reservations(ctx, "nope"); err != nil || len(list) != 0 {
		t.Errorf("Reservations(nope) = %+v, %v; want none", list, err)
	}
	st := sim.Stats()
	if st.Reservations != 2 || st.Repeats != 1 || sim.ReservationCount("A-1", "sku-1") != 1 || sim.Stock("sku-1") != 7 ||
		st.ReservationsByOrder["A-1"]["sku-2"] != 1 || sim.Stock("sku-2") != providers.DefaultStock-1 {
		t.Errorf("stats = %+v, stock %d; want 2 reservations, 1 repeat, 7 of sku-1 left", st, sim.Stock("sku-1"))
	}
	if st.ByStatus[201] != 2 || st.ByStatus[200] != 3 {
		t.Errorf("ByStatus = %v, want 2×201 and 3×200", st.ByStatus)
	}
}

func TestInventoryOutOfStock(t *testing.T) {
	sim := startInventory(t, providers.InventorySimOptions{Stock: map[string]int{"rare": 3}, DefaultStock: -1})
	c := inventoryClient(t, sim.ClientConfig())
	hc := rawClient(t)
	ctx := context.Background()

	if _, err := c.Reserve(ctx, providers.Reservation{ID: "r1", OrderID: "O-1", ProductID: "rare", Quantity: 2}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Reserve(ctx, providers.Reservation{ID: "r2", OrderID: "O-2", ProductID: "rare", Quantity: 2})
	e := wantKind(t, err, providers.ErrOutOfStock, true)
	if e.StatusCode != http.StatusConflict || e.Problem == nil || e.Problem.Extensions["available"] != 1.0 || e.Problem.Extensions["requested"] != 2.0 {
		t.Errorf("out of stock: %d %+v; want 409 with available 1, requested 2", e.StatusCode, e.Problem)
	}
	_, err = c.Reserve(ctx, providers.Reservation{ID: "r3", OrderID: "O-3", ProductID: "unknown", Quantity: 1})
	wantKind(t, err, providers.ErrOutOfStock, true)

	// Stock set at run time, from code and over HTTP.
	sim.SetStock("rare", 5)
	if _, err := c.Reserve(ctx, providers.Reservation{ID: "r2", OrderID: "O-2", ProductID: "rare", Quantity: 2}); err != nil {
		t.Errorf("after SetStock: %v", err)
	}
	resp, body := do(t, hc, "PUT", sim.URL()+"/_sim/stock", nil, `{"unknown": 4}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"unknown":4`) {
		t.Errorf("PUT /_sim/stock: %d %s", resp.StatusCode, body)
	}
	if _, err := c.Reserve(ctx, providers.Reservation{ID: "r3", OrderID: "O-3", ProductID: "unknown", Quantity: 1}); err != nil {
		t.Errorf("after PUT /_sim/stock: %v", err)
	}
	if st := sim.Stats(); st.OutOfStock != 2 || st.Reservations != 3 || sim.Stock("rare") != 3 || sim.Stock("unknown") != 3 {
		t.Errorf("stats = %+v, stock %d/%d; want 2 refusals, 3 reservations, 3/3 left", st, sim.Stock("rare"), sim.Stock("unknown"))
	}
}

// A reservation asked for again and again, by retries after lost answers and by
// concurrent redeliveries, is made once.
func TestInventoryIdempotentUnderRetries(t *testing.T) {
	sim := startInventory(t, providers.InventorySimOptions{Seed: 11, Stock: map[string]int{"sku": 100}})
	c := inventoryClient(t, sim.ClientConfig())
	ctx := context.Background()
	r := providers.Reservation{ID: "B-1/1", OrderID: "B-1", ProductID: "sku", Quantity: 5}

	if err := sim.SetFaults(providers.Faults{LoseNext: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reserve(ctx, r); err != nil {
		t.Fatal(err)
	}
	if st := sim.Stats(); st.Lost != 2 || st.Repeats != 2 || st.Reservations != 1 || sim.Stock("sku") != 95 {
		t.Errorf("after 2 lost answers: %+v, stock %d; want 2 lost, 2 repeats, 1 reservation, 95 left", st, sim.Stock("sku"))
	}

	if err := sim.SetFaults(providers.Faults{ErrorRate: 0.3, LostRate: 0.3}); err != nil {
		t.Fatal(err)
	}
	cfg := sim.ClientConfig()
	cfg.HTTP = fast()
	cfg.HTTP.Retry.MaxRetries = 15
	many := inventoryClient(t, cfg)
	r2 := providers.Reservation{ID: "B-1/2", OrderID: "B-1", ProductID: "sku", Quantity: 1}
	var wg sync.WaitGroup
	results := make([]providers.Reservation, 8)
	for i := range results {
		wg.Go(func() {
			res, err := many.Reserve(ctx, r2)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	for i, res := range results {
		if res != results[0] {
			t.Errorf("result %d = %+v, want %+v like the first", i, res, results[0])
		}
	}
	if n := sim.ReservationCount("B-1", "sku"); n != 2 || sim.Stock("sku") != 94 {
		t.Errorf("reservations of sku for B-1 = %d, stock %d; want 2 (one per item), 94", n, sim.Stock("sku"))
	}
}

func TestInventoryRejects(t *testing.T) {
	var logs logBuffer
	sim := startInventory(t, providers.InventorySimOptions{})
	ctx := context.Background()

	cfg := sim.ClientConfig()
	cfg.Key = auth.NewSecret(strings.Repeat("wrong-key-", 4))
	cfg.Logger = debugLogger(&logs)
	wrong := inventoryClient(t, cfg)
	_, err := wrong.Reserve(ctx, providers.Reservation{ID: "x", OrderID: "o", ProductID: "p", Quantity: 1})
	if e := wantKind(t, err, providers.ErrUnauthorized, true); e.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: status %d, want 401", e.StatusCode)
	}
	for _, secret := range []string{"wrong-key-", sim.ClientConfig().Key.(auth.Secret).Reveal()} {
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("key %q in the error or the logs:\n%v\n%s", secret, err, logs.String())
		}
	}

	c := inventoryClient(t, sim.ClientConfig())
	if _, err := c.Reserve(ctx, providers.Reservation{ID: "x", OrderID: "o", ProductID: "p", Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Reserve(ctx, providers.Reservation{ID: "x", OrderID: "o", ProductID: "p", Quantity: 2})
	wantKind(t, err, providers.ErrIdempotencyKeyReused, true)
	_, err = c.Reserve(ctx, providers.Reservation{ID: "y", OrderID: "o", ProductID: "p"})
	if e := wantKind(t, err, providers.ErrInvalidRequest, true); !hasField(e.Fields, "quantity") {
		t.Errorf("quantity 0: fields %v, want quantity", e.Fields)
	}
	requests := sim.Stats().Requests
	_, err = c.Reserve(ctx, providers.Reservation{OrderID: "o", ProductID: "p", Quantity: 1})
	wantKind(t, err, providers.ErrInvalidRequest, true)
	if n := sim.Stats().Requests; n != requests {
		t.Errorf("a reservation without ID was sent (%d requests, want %d)", n, requests)
	}

	// Unsigned requests are refused.
	resp, body := do(t, rawClient(t), "POST", sim.URL()+"/v1/reservations", nil, `{"reservation_id":"z","order_id":"o","product_id":"p","quantity":1}`)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), auth.HMACScheme) {
		t.Errorf("unsigned POST: %d %s %q; want 401 %s", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"), auth.HMACScheme)
	}
	var st providers.InventoryStats
	_, body = do(t, rawClient(t), "GET", sim.URL()+"/_sim/stats", nil, "")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.ByStatus[401] != 2 || st.IDReuses != 1 || st.Reservations != 1 {
		t.Errorf("GET /_sim/stats = %+v; want two 401, 1 ID reuse, 1 reservation", st)
	}
}
