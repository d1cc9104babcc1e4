package providers

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
)

// Reservation is stock held for one item of an order. Its ID, chosen by the
// caller, makes the reservation idempotent: the provider makes it once, however
// many times it is asked.
type Reservation struct {
	ID        string `json:"reservation_id"` // required: one per order item
	OrderID   string `json:"order_id"`       // required
	ProductID string `json:"product_id"`     // required
	Quantity  int    `json:"quantity"`       // above zero
	// Status and CreatedAt are set by the provider ("reserved").
	Status    string    `json:"status,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// InventoryClientConfig configures an [InventoryClient]. BaseURL (or
// HTTP.BaseURL) is required, and credentials: KeyID and Key, or those HTTP
// carries already.
type InventoryClientConfig struct {
	// BaseURL is the provider's API. Empty means HTTP.BaseURL.
	BaseURL string
	// KeyID and Key sign every request (HMAC-SHA256, see [auth.HMACSigner]); the
	// key is shared with the provider and at least 32 bytes long. It is loaded for
	// every request, so that a rotated one ([auth.EnvSecret], [*auth.FileSecret])
	// needs no restart. They are ignored when HTTP.Auth or HTTP.AuthTransport is
	// set.
	KeyID string
	Key   auth.SecretSource
	// HTTP configures the pipeline; see PaymentClientConfig.HTTP. Name defaults
	// to "inventory"; IdempotencyKeys is set by the constructor.
	HTTP httpx.Options
	// Logger and Observer, if set, replace HTTP.Logger and HTTP.Observer.
	Logger   *slog.Logger
	Observer httpx.Observer
}

// InventoryClient is the typed client of the inventory provider: every request
// signed with HMAC (each attempt signed anew), and httpx's pipeline. Errors are
// [*Error]s. An InventoryClient is safe for concurrent use.
type InventoryClient struct {
	client
}

// NewInventoryClient returns a client for cfg.
func NewInventoryClient(cfg InventoryClientConfig) (*InventoryClient, error) {
	opts := pipeline("inventory", cfg.BaseURL, cfg.HTTP, cfg.Logger, cfg.Observer)
	if err := requireBaseURL("InventoryClientConfig", opts); err != nil {
		return nil, err
	}
	if !configuredAuth(&opts) {
		signer, err := auth.NewHMACSigner(auth.HMACSignerConfig{KeyID: cfg.KeyID, Key: cfg.Key})
		if err != nil {
			return nil, err
		}
		opts.Auth = signer
	}
	c, err := newClient("inventory", opts)
	if err != nil {
		return nil, err
	}
	return &InventoryClient{c}, nil
}

// Reserve reserves stock for one order item, once per reservation ID: a repeated
// call (by the pipeline's retries, or by a redelivered event) answers the same
// reservation. Not enough stock is [ErrOutOfStock], whose [Error.Problem] carries
// "available" and "requested"; the same ID with another order, product or
// quantity is [ErrIdempotencyKeyReused].
func (c *InventoryClient) Reserve(ctx context.Context, r Reservation) (Reservation, error) {
	if r.ID == "" {
		return Reservation{}, argError(c.provider, "Reserve", "", "the reservation ID is empty")
	}
	r.Status, r.CreatedAt = "", time.Time{}
	ctx = httpx.WithIdempotencyKey(ctx, r.ID) // makes the POST retryable
	res, err := httpx.PostJSON[Reservation](ctx, c.http, "/v1/reservations", r)
	return res, callError(c.provider, "Reserve", r.ID, err, outOfStock)
}

// Reservations returns the reservations of an order, oldest first.
func (c *InventoryClient) Reservations(ctx context.Context, orderID string) ([]Reservation, error) {
	list, err := httpx.GetJSON[struct {
		Reservations []Reservation `json:"reservations"`
	}](ctx, c.http, "/v1/reservations", url.Values{"order_id": {orderID}})
	return list.Reservations, callError(c.provider, "Reservations", orderID, err, nil)
}

func outOfStock(status int, p *httpx.Problem, _ []FieldError) error {
	if status == http.StatusConflict && (p == nil || p.Type == ProblemOutOfStock || p.Type == "about:blank") {
		return ErrOutOfStock
	}
	return nil
}
