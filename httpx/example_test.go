package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// PaymentClient is a typed client of a payment provider's API, which the service
// does not control. Each method is a few lines: httpx does the rest.
type PaymentClient struct {
	c *httpx.Client
}

// ErrPaymentNotFound is returned by GetPaymentStatus for an unknown payment.
var ErrPaymentNotFound = errors.New("payments: payment not found")

// PaymentRequest asks for a payment.
type PaymentRequest struct {
	OrderID  string `json:"order_id"`
	Amount   int64  `json:"amount"` // in cents
	Currency string `json:"currency"`
}

// Payment is a payment as the provider reports it.
type Payment struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Refund is a refund of (part of) a payment.
type Refund struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

// NewPaymentClient returns a client of the provider at baseURL: 3 retries with
// backoff, Retry-After honoured, a breaker for the provider's host, timeouts, and
// an Idempotency-Key on every POST so that a payment is never made twice.
func NewPaymentClient(baseURL, apiKey string) (*PaymentClient, error) {
	c, err := httpx.NewClient(httpx.Options{
		Name:            "payments",
		BaseURL:         baseURL,
		IdempotencyKeys: true,
		Auth: httpx.AuthenticatorFunc(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+apiKey) // only ever sent to baseURL's host
			return nil
		}),
		Retry: httpx.RetryOptions{Backoff: resilience.Backoff{Base: 10 * time.Millisecond}},
	})
	if err != nil {
		return nil, err
	}
	return &PaymentClient{c: c}, nil
}

// ProcessPayment asks the provider for a payment. The order's ID is the
// idempotency key: if the answer is lost and the call is made again, by the retry
// or by the caller, the provider makes the payment once.
func (p *PaymentClient) ProcessPayment(ctx context.Context, req PaymentRequest) (Payment, error) {
	ctx = httpx.WithIdempotencyKey(ctx, "order-"+req.OrderID)
	return httpx.PostJSON[Payment](ctx, p.c, "/v1/payments", req)
}

// GetPaymentStatus returns a payment; an unknown one is ErrPaymentNotFound.
func (p *PaymentClient) GetPaymentStatus(ctx context.Context, id string) (Payment, error) {
	pay, err := httpx.GetJSON[Payment](ctx, p.c, httpx.Path("/v1/payments/{id}", id), nil)
	if httpx.StatusCode(err) == http.StatusNotFound {
		return Payment{}, fmt.Errorf("%w: %s", ErrPaymentNotFound, id)
	}
	return pay, err
}

// RefundPayment refunds amount cents of a payment.
func (p *PaymentClient) RefundPayment(ctx context.Context, id string, amount int64) (Refund, error) {
	return httpx.PostJSON[Refund](ctx, p.c, httpx.Path("/v1/payments/{id}/refunds", id), map[string]int64{"amount": amount})
}

// Close releases the client's idle connections.
func (p *PaymentClient) Close() { p.c.CloseIdleConnections() }

// fakeProvider is a payment provider that fails the first attempt of every
// payment with a 503, and makes each payment once per idempotency key.
type fakeProvider struct {
	mu       sync.Mutex
	attempts int
	keys     map[string]Payment
}

func (f *fakeProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer sk_test_123" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payments":
		f.attempts++
		if f.attempts == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // lost, from the client's point of view
			return
		}
		key := r.Header.Get("Idempotency-Key")
		pay, seen := f.keys[key]
		if !seen {
			var req PaymentRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			pay = Payment{ID: fmt.Sprintf("pay_%d", len(f.keys)+1), Status: "succeeded", Amount: req.Amount, Currency: req.Currency}
			f.keys[key] = pay
		}
		_ = json.NewEncoder(w).Encode(pay)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/payments/pay_1":
		_ = json.NewEncoder(w).Encode(f.keys["order-A-17"])
	case r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, `{"title":"No such payment","status":404,"instance":%q}`, r.URL.Path)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/refunds"):
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprint(w, `{"id":"re_1","amount":500}`)
	}
}

// The pattern of a typed client over an API the service does not control.
func Example_paymentClient() {
	provider := &fakeProvider{keys: map[string]Payment{}}
	srv := httptest.NewServer(provider)
	defer srv.Close()

	payments, err := NewPaymentClient(srv.URL, "sk_test_123")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer payments.Close()
	ctx := context.Background()

	pay, err := payments.ProcessPayment(ctx, PaymentRequest{OrderID: "A-17", Amount: 1999, Currency: "EUR"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("payment %s: %s, %d %s (after %d attempts, made once)\n", pay.ID, pay.Status, pay.Amount, pay.Currency, provider.attempts)

	pay, err = payments.GetPaymentStatus(ctx, "pay_1")
	fmt.Println("status of pay_1:", pay.Status, err)

	_, err = payments.GetPaymentStatus(ctx, "pay_404")
	fmt.Println(errors.Is(err, ErrPaymentNotFound), err)

	refund, err := payments.RefundPayment(ctx, "pay_1", 500)
	fmt.Println("refund:", refund.ID, refund.Amount, err)

	// Output:
	// payment pay_1: succeeded, 1999 EUR (after 2 attempts, made once)
	// status of pay_1: succeeded <nil>
	// true payments: payment not found: pay_404
	// refund: re_1 500 <nil>
}

func ExamplePath() {
	fmt.Println(httpx.Path("/v1/customers/{id}/orders/{n}", "ann/bob", 7))
	// Output: /v1/customers/ann%2Fbob/orders/7
}

func ExampleNewHTTPClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "pong")
	}))
	defer srv.Close()

	// The standard pipeline with its defaults: 30s total, 3 retries, a breaker per
	// host, 10s per attempt.
	client, err := httpx.NewHTTPClient(httpx.Options{Name: "ping"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	if err := httpx.CheckResponse(resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	// Output: 200 OK
}

func ExampleStatusError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"type":"https://example.com/probs/out-of-credit","title":"Out of credit","detail":"Balance is 30, the call costs 50.","balance":30}`)
	}))
	defer srv.Close()

	c, _ := httpx.NewClient(httpx.Options{BaseURL: srv.URL})
	defer c.CloseIdleConnections()
	_, err := httpx.PostJSON[struct{}](context.Background(), c, "/messages", map[string]string{"to": "ann"})

	var se *httpx.StatusError
	if errors.As(err, &se) {
		fmt.Println(se.StatusCode, se.Problem.Type, se.Problem.Extensions["balance"])
	}
	// Output: 422 https://example.com/probs/out-of-credit 30
}
