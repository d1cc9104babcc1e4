package providers_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/testenv"
	"github.com/rampart-go/rampart/resilience"
)

// fast returns pipeline options for tests: quick retries, Retry-After capped at
// a few milliseconds, no breaker (failure mixes would open it).
func fast() httpx.Options {
	return httpx.Options{
		Retry: httpx.RetryOptions{
			Backoff:       resilience.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond},
			MaxRetryAfter: 5 * time.Millisecond,
		},
		Breaker: httpx.BreakerOptions{Disabled: true},
	}
}

type closer interface {
	Start(addr string) error
	Close() error
}

func start[S closer](t *testing.T, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func startPayments(t *testing.T, opts providers.PaymentSimOptions) *providers.PaymentSimulator {
	s, err := providers.NewPaymentSimulator(opts)
	return start(t, s, err)
}

func startInventory(t *testing.T, opts providers.InventorySimOptions) *providers.InventorySimulator {
	s, err := providers.NewInventorySimulator(opts)
	return start(t, s, err)
}

func startEmail(t *testing.T, opts providers.EmailSimOptions) *providers.EmailSimulator {
	s, err := providers.NewEmailSimulator(opts)
	return start(t, s, err)
}

func paymentClient(t *testing.T, cfg providers.PaymentClientConfig) *providers.PaymentClient {
	t.Helper()
	if reflect.ValueOf(cfg.HTTP).IsZero() {
		cfg.HTTP = fast()
	}
	c, err := providers.NewPaymentClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func inventoryClient(t *testing.T, cfg providers.InventoryClientConfig) *providers.InventoryClient {
	t.Helper()
	if reflect.ValueOf(cfg.HTTP).IsZero() {
		cfg.HTTP = fast()
	}
	c, err := providers.NewInventoryClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func emailClient(t *testing.T, cfg providers.EmailClientConfig) *providers.EmailClient {
	t.Helper()
	if reflect.ValueOf(cfg.HTTP).IsZero() {
		cfg.HTTP = fast()
	}
	c, err := providers.NewEmailClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// rawClient returns a plain HTTP client whose connections are closed at the end
// of the test.
func rawClient(t *testing.T) *http.Client {
	c := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

// asError returns the *providers.Error in err's chain, failing the test if none.
func asError(t *testing.T, err error) *providers.Error {
	t.Helper()
	var e *providers.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	return e
}

// wantKind checks that err is an *Error of kind, permanent or not as said.
func wantKind(t *testing.T, err, kind error, permanent bool) *providers.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("errors.Is(%v, %v) = false, want true", err, kind)
	}
	if got := resilience.IsPermanent(err); got != permanent {
		t.Fatalf("resilience.IsPermanent(%v) = %v, want %v", err, got, permanent)
	}
	return asError(t, err)
}

func hasField(fields []providers.FieldError, name string) bool {
	for _, f := range fields {
		if f.Field == name {
			return true
		}
	}
	return false
}

type logBuffer = testenv.LogBuffer

func debugLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eventually polls cond for up to 2s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func second[T any](_ T, err error) error { return err }

func secret(s string) auth.Secret { return auth.NewSecret(s) }
