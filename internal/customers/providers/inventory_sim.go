package providers

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/rampart-go/rampart/auth"
)

// DefaultStock is the stock of a product the inventory simulator was told
// nothing about, when InventorySimOptions.DefaultStock is zero: plenty.
const DefaultStock = 1_000_000

// InventorySimOptions configure an [InventorySimulator]. The zero value is a
// usable simulator with a random key and plenty of every product.
type InventorySimOptions struct {
	// KeyID and Key verify the HMAC signatures of requests. Empty KeyID means
	// "customers"; a zero Key means a random one; read both with
	// [InventorySimulator.ClientConfig]. A Key must be at least 32 bytes.
	KeyID string
	Key   auth.Secret
	// Stock is the initial stock of some products, by product ID.
	Stock map[string]int
	// DefaultStock is the stock of the other products. Zero means [DefaultStock];
	// negative means none.
	DefaultStock int
	// Faults are injected from the start; see [Faults].
	Faults Faults
	// Seed seeds the draws of the faults. Zero means a random seed.
	Seed uint64
	// Logger records changes of the faults, rejected signatures (at Info), and,
	// at Debug, each injected failure. Nil logs nothing.
	Logger *slog.Logger
}

// InventoryStats are what an [InventorySimulator] has done.
type InventoryStats struct {
	Stats
	// Reservations counts the reservations made.
	Reservations int `json:"reservations"`
	// Repeats counts the requests for a reservation already made, answered 200
	// with it.
	Repeats int `json:"repeats"`
	// OutOfStock counts the requests refused for lack of stock.
	OutOfStock int `json:"out_of_stock"`
	// IDReuses counts the requests refused because their reservation ID had been
	// used for another order, product or quantity.
	IDReuses int `json:"id_reuses"`
	// ReservationsByOrder counts the reservations made per order ID and product
	// ID: one per order item is what a correct client achieves.
	ReservationsByOrder map[string]map[string]int `json:"reservations_by_order"`
}

// InventorySimulator simulates an inventory provider whose requests must be
// signed with HMAC (an [auth.HMACVerifier]: 401 for a missing, wrong, stale or
// replayed signature).
//
//	POST /v1/reservations               {reservation_id, order_id, product_id,
//	                                    quantity} → 201 Reservation; 200 with the
//	                                    same reservation when its ID is known
//	GET  /v1/reservations?order_id=ID   → 200 {"reservations": [...]}, oldest first
//
// A reservation takes the quantity from the product's stock; when there is not
// enough, the answer is 409 [ProblemOutOfStock] with "product_id", "requested" and
// "available". A known reservation ID with another order, product or quantity is
// 422 [ProblemIdempotencyKeyReused]; missing fields or a quantity below 1, 422
// [ProblemValidation].
//
// Faults are injected into the /v1/ routes. Besides the common control routes
// (see [PaymentSimulator]), GET /_sim/stock returns the stock of the products
// known so far and PUT /_sim/stock {"product": quantity, ...} sets some.
//
// An InventorySimulator is an [http.Handler]; Start serves it on a port of its
// own. It is safe for concurrent use.
type InventorySimulator struct {
	simulator
	keyID        string
	key          auth.Secret
	verifier     *auth.HMACVerifier
	defaultStock int

	mu      sync.Mutex
	stock   map[string]int
	byID    map[string]*Reservation
	order   []*Reservation
	byOrder map[string]map[string]int

	// counters, under mu
	repeats, outOfStock, idReuses int
}

// NewInventorySimulator returns an inventory simulator for opts, or an error
// naming the option that is invalid. It does not listen until Start.
func NewInventorySimulator(opts InventorySimOptions) (*InventorySimulator, error) {
	s := &InventorySimulator{
		keyID:        cmpOr(opts.KeyID, "customers"),
		key:          opts.Key,
		defaultStock: cmpOr(opts.DefaultStock, DefaultStock),
		stock:        map[string]int{},
		byID:         map[string]*Reservation{},
		byOrder:      map[string]map[string]int{},
	}
	if s.defaultStock < 0 {
		s.defaultStock = 0
	}
	for p, n := range opts.Stock {
		if n < 0 {
			return nil, fmt.Errorf("providers: InventorySimOptions.Stock[%q]: must not be negative, got %d", p, n)
		}
		s.stock[p] = n
	}
	if s.key.IsZero() {
		s.key = auth.NewSecret(rand.Text() + rand.Text())
	}
	v, err := auth.NewHMACVerifier(auth.HMACVerifierConfig{Keys: map[string]auth.Secret{s.keyID: s.key}, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("providers: InventorySimOptions: %w", err)
	}
	s.verifier = v
	if err := s.init("inventory", opts.Faults, opts.Seed, opts.Logger, func() any { return s.Stats() }); err != nil {
		return nil, err
	}
	s.api.Handle("POST /v1/reservations", v.Middleware(http.HandlerFunc(s.reserve)))
	s.api.Handle("GET /v1/reservations", v.Middleware(http.HandlerFunc(s.list)))
	s.control.HandleFunc("GET /_sim/stock", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		stock := maps.Clone(s.stock)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"stock": stock, "default": s.defaultStock})
	})
	s.control.HandleFunc("PUT /_sim/stock", s.putStock)
	return s, nil
}

// ClientConfig returns the configuration of an [InventoryClient] of this
// simulator: its URL (empty before Start) and the signing key it accepts.
func (s *InventorySimulator) ClientConfig() InventoryClientConfig {
	return InventoryClientConfig{BaseURL: s.URL(), KeyID: s.keyID, Key: s.key}
}

// Stats returns what the simulator has done so far.
func (s *InventorySimulator) Stats() InventoryStats {
	st := InventoryStats{Stats: s.stats()}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Reservations, st.Repeats, st.OutOfStock, st.IDReuses = len(s.order), s.repeats, s.outOfStock, s.idReuses
	st.ReservationsByOrder = make(map[string]map[string]int, len(s.byOrder))
	for o, m := range s.byOrder {
		st.ReservationsByOrder[o] = maps.Clone(m)
	}
	return st
}

// ReservationCount returns how many reservations were made for a product of an
// order.
func (s *InventorySimulator) ReservationCount(orderID, productID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byOrder[orderID][productID]
}

// Reservations returns the reservations made, oldest first.
func (s *InventorySimulator) Reservations() []Reservation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Reservation, len(s.order))
	for i, r := range s.order {
		out[i] = *r
	}
	return out
}

// Stock returns what is left of a product.
func (s *InventorySimulator) Stock(productID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stockOf(productID)
}

// SetStock sets what is left of a product; a negative n is taken as 0.
func (s *InventorySimulator) SetStock(productID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stock[productID] = max(n, 0)
}

func (s *InventorySimulator) stockOf(productID string) int {
	if n, ok := s.stock[productID]; ok {
		return n
	}
	return s.defaultStock
}

func (s *InventorySimulator) putStock(w http.ResponseWriter, r *http.Request) {
	var set map[string]int
	if !decodeBody(w, r, &set) {
		return
	}
	for p, n := range set {
		s.SetStock(p, n)
	}
	s.mu.Lock()
	stock := maps.Clone(s.stock)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"stock": stock, "default": s.defaultStock})
}

func (s *InventorySimulator) reserve(w http.ResponseWriter, r *http.Request) {
	var req Reservation
	if !decodeBody(w, r, &req) {
		return
	}
	var errs []FieldError
	for _, f := range []struct{ name, v string }{{"reservation_id", req.ID}, {"order_id", req.OrderID}, {"product_id", req.ProductID}} {
		switch {
		case f.v == "":
			errs = append(errs, FieldError{f.name, "required"})
		case len(f.v) > 128:
			errs = append(errs, FieldError{f.name, "at most 128 characters"})
		}
	}
	if req.Quantity < 1 {
		errs = append(errs, FieldError{"quantity", "must be at least 1"})
	}
	if len(errs) > 0 {
		writeValidation(w, r, errs)
		return
	}

	s.mu.Lock()
	if old, ok := s.byID[req.ID]; ok {
		if old.OrderID != req.OrderID || old.ProductID != req.ProductID || old.Quantity != req.Quantity {
			s.idReuses++
			s.mu.Unlock()
			writeProblem(w, r, http.StatusUnprocessableEntity, ProblemIdempotencyKeyReused,
				"this reservation_id was used for another reservation",
				map[string]any{"errors": []FieldError{{"reservation_id", "used for another order, product or quantity"}}})
			return
		}
		s.repeats++
		res := *old
		s.mu.Unlock()
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusOK, res)
		return
	}
	if left := s.stockOf(req.ProductID); req.Quantity > left {
		s.outOfStock++
		s.mu.Unlock()
		writeProblem(w, r, http.StatusConflict, ProblemOutOfStock,
			fmt.Sprintf("%d of %q asked for, %d left", req.Quantity, req.ProductID, left),
			map[string]any{"product_id": req.ProductID, "requested": req.Quantity, "available": left})
		return
	}
	s.stock[req.ProductID] = s.stockOf(req.ProductID) - req.Quantity
	res := &Reservation{ID: req.ID, OrderID: req.OrderID, ProductID: req.ProductID, Quantity: req.Quantity,
		Status: "reserved", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	s.byID[res.ID] = res
	s.order = append(s.order, res)
	if s.byOrder[res.OrderID] == nil {
		s.byOrder[res.OrderID] = map[string]int{}
	}
	s.byOrder[res.OrderID][res.ProductID]++
	out := *res
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *InventorySimulator) list(w http.ResponseWriter, r *http.Request) {
	orderID := r.URL.Query().Get("order_id")
	s.mu.Lock()
	list := make([]Reservation, 0)
	for _, res := range s.order {
		if orderID == "" || res.OrderID == orderID {
			list = append(list, *res)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"reservations": list})
}
