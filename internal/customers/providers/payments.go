package providers

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// Payment statuses.
const (
	PaymentSucceeded = "succeeded"
	PaymentDeclined  = "declined"
)

// PaymentRequest asks the payment provider to charge a customer for an order.
type PaymentRequest struct {
	OrderID     string `json:"order_id"`     // required; also the idempotency key
	AmountMinor int64  `json:"amount_minor"` // in the currency's minor unit (cents); above zero
	Currency    string `json:"currency"`     // ISO 4217, upper case: "EUR"
	CustomerID  string `json:"customer_id"`
}

// Payment is a payment as the provider reports it. A declined payment is a
// Payment with Status [PaymentDeclined], not an error.
type Payment struct {
	ID            string    `json:"payment_id"`
	OrderID       string    `json:"order_id"`
	CustomerID    string    `json:"customer_id"`
	Status        string    `json:"status"` // PaymentSucceeded or PaymentDeclined
	AmountMinor   int64     `json:"amount_minor"`
	Currency      string    `json:"currency"`
	RefundedMinor int64     `json:"refunded_minor"`
	CreatedAt     time.Time `json:"created_at"`
}

// RefundRequest asks for (part of) a payment back.
type RefundRequest struct {
	PaymentID   string `json:"-"`            // required
	AmountMinor int64  `json:"amount_minor"` // at most what is left to refund
	// Key is the refund's idempotency key ("refund-" and the order ID, say): a
	// refund asked for again with the same key, after a crash, is made once. Empty
	// means a key for this call only, which makes the client's own retries safe
	// but not a second call.
	Key string `json:"-"`
}

// Refund is a refund as the provider reports it.
type Refund struct {
	ID          string    `json:"refund_id"`
	PaymentID   string    `json:"payment_id"`
	AmountMinor int64     `json:"amount_minor"`
	Status      string    `json:"status"` // "succeeded"
	CreatedAt   time.Time `json:"created_at"`
}

// PaymentClientConfig configures a [PaymentClient]. BaseURL (or HTTP.BaseURL)
// is required, and credentials: ClientID and ClientSecret, or those HTTP
// carries already.
type PaymentClientConfig struct {
	// BaseURL is the provider's API ("https://api.payments.example"). Empty means
	// HTTP.BaseURL.
	BaseURL string
	// TokenURL is the OAuth2 token endpoint. Empty means BaseURL + "/oauth/token".
	TokenURL string
	// ClientID and ClientSecret identify the service to the token endpoint (OAuth2
	// client credentials). The secret is loaded for every token request, so that
	// a rotated one ([auth.EnvSecret], [*auth.FileSecret]) needs no restart. They
	// are ignored when HTTP.Auth or HTTP.AuthTransport is set.
	ClientID     string
	ClientSecret auth.SecretSource
	// Scopes are asked for with every token; empty asks for none (the provider's
	// default).
	Scopes []string
	// HTTP configures the pipeline (timeouts, retries, breaker, rate limit); its
	// zero value is httpx's standard one. Name defaults to "payments";
	// IdempotencyKeys is set by the constructor. Credentials in HTTP.Auth or
	// HTTP.AuthTransport, as [config.ClientConfig.HTTPXOptions] builds them from
	// the client's auth section, are used instead of ClientID and ClientSecret.
	HTTP httpx.Options
	// Logger, if set, replaces HTTP.Logger: one record per attempt, secrets
	// redacted. Token requests are logged too.
	Logger *slog.Logger
	// Observer, if set, replaces HTTP.Observer (metrics and traces of each
	// attempt), for the token requests too.
	Observer httpx.Observer
}

// PaymentClient is the typed client of the payment provider: OAuth2 client
// credentials (tokens cached, refreshed ahead of expiry, and renewed once on a
// 401), an Idempotency-Key on every POST, and httpx's pipeline (retries with
// backoff and Retry-After, a breaker, timeouts). Errors are [*Error]s. A
// PaymentClient is safe for concurrent use.
type PaymentClient struct {
	client
}

// NewPaymentClient returns a client for cfg. It sends nothing: the first token is
// fetched by the first call.
func NewPaymentClient(cfg PaymentClientConfig) (*PaymentClient, error) {
	opts := pipeline("payments", cfg.BaseURL, cfg.HTTP, cfg.Logger, cfg.Observer)
	if err := requireBaseURL("PaymentClientConfig", opts); err != nil {
		return nil, err
	}
	if configuredAuth(&opts) {
		c, err := newClient("payments", opts)
		if err != nil {
			return nil, err
		}
		return &PaymentClient{c}, nil
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = strings.TrimSuffix(opts.BaseURL, "/") + "/oauth/token"
	}
	// Token requests get the same logging, telemetry and timeouts; a POST without
	// an Idempotency-Key, they are not retried by httpx (the client is, as a whole).
	tokenHTTP, err := httpx.NewHTTPClient(httpx.Options{
		Name:           opts.Name + "-token",
		Base:           opts.Base,
		TotalTimeout:   opts.TotalTimeout,
		AttemptTimeout: opts.AttemptTimeout,
		Logger:         opts.Logger,
		Observer:       opts.Observer,
	})
	if err != nil {
		return nil, fmt.Errorf("providers: payments client: %w", err)
	}
	creds, err := auth.NewClientCredentials(auth.ClientCredentialsConfig{
		TokenURL:     tokenURL,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Scopes:       cfg.Scopes,
		HTTPClient:   tokenHTTP,
	})
	if err != nil {
		return nil, fmt.Errorf("providers: payments client: %w", err)
	}
	opts.Auth = nil
	opts.AuthTransport = func(next http.RoundTripper) http.RoundTripper {
		return auth.NewTransport(next, refusalIsPermanent{creds})
	}
	c, err := newClient("payments", opts)
	if err != nil {
		return nil, err
	}
	c.others = []*http.Client{tokenHTTP}
	return &PaymentClient{c}, nil
}

// refusalIsPermanent marks a token endpoint's refusal of the client as permanent,
// so that httpx does not retry an attempt whose credentials are wrong.
type refusalIsPermanent struct{ *auth.ClientCredentials }

func (r refusalIsPermanent) Apply(ctx context.Context, req *http.Request) error {
	err := r.ClientCredentials.Apply(ctx, req)
	if credentialsRefused(err) {
		return resilience.Permanent(err)
	}
	return err
}

// ProcessPayment charges a customer for an order. The order ID is the
// idempotency key: if the answer is lost and the call is made again, by the
// pipeline's retries or by the caller after a crash, the provider charges once
// and answers the same payment. Asking again for the same order with a different
// amount, currency or customer is [ErrIdempotencyKeyReused].
func (p *PaymentClient) ProcessPayment(ctx context.Context, req PaymentRequest) (Payment, error) {
	ctx = httpx.WithIdempotencyKey(ctx, req.OrderID)
	pay, err := httpx.PostJSON[Payment](ctx, p.http, "/v1/payments", req)
	return pay, callError(p.provider, "ProcessPayment", req.OrderID, err, nil)
}

// GetPaymentStatus returns a payment; an unknown one is [ErrPaymentNotFound].
func (p *PaymentClient) GetPaymentStatus(ctx context.Context, id string) (Payment, error) {
	if id == "" {
		return Payment{}, argError(p.provider, "GetPaymentStatus", id, "the payment ID is empty")
	}
	pay, err := httpx.GetJSON[Payment](ctx, p.http, httpx.Path("/v1/payments/{id}", id), nil)
	return pay, callError(p.provider, "GetPaymentStatus", id, err, paymentNotFound)
}

// RefundPayment refunds (part of) a payment, once per [RefundRequest.Key]. An
// unknown payment is [ErrPaymentNotFound]; a declined one [ErrConflict]; an
// amount above what is left to refund [ErrInvalidRequest].
func (p *PaymentClient) RefundPayment(ctx context.Context, req RefundRequest) (Refund, error) {
	if req.PaymentID == "" {
		return Refund{}, argError(p.provider, "RefundPayment", "", "the payment ID is empty")
	}
	key := req.Key
	if key == "" {
		key = "refund-" + rand.Text() // never a key the caller's context carries for another call
	}
	ctx = httpx.WithIdempotencyKey(ctx, key)
	ref, err := httpx.PostJSON[Refund](ctx, p.http, httpx.Path("/v1/payments/{id}/refunds", req.PaymentID), req)
	return ref, callError(p.provider, "RefundPayment", req.PaymentID, err, paymentNotFound)
}

func paymentNotFound(status int, _ *httpx.Problem, _ []FieldError) error {
	if status == http.StatusNotFound {
		return ErrPaymentNotFound
	}
	return nil
}
