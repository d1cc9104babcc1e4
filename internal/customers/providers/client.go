package providers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// client is what the typed clients share: an httpx.Client over the standard
// pipeline.
type client struct {
	provider string
	http     *httpx.Client
	others   []*http.Client // besides http's: the token endpoint's client
}

// pipeline returns o completed for a client of provider at baseURL: Name (when
// empty), BaseURL and IdempotencyKeys are set, Logger and Observer when given.
func pipeline(provider, baseURL string, o httpx.Options, logger *slog.Logger, observer httpx.Observer) httpx.Options {
	if o.Name == "" {
		o.Name = provider
	}
	o.BaseURL = baseURL
	// Every POST carries an Idempotency-Key, from the call's business ID, so that
	// the pipeline may retry it.
	o.IdempotencyKeys = true
	if logger != nil {
		o.Logger = logger
	}
	if observer != nil {
		o.Observer = observer
	}
	return o
}

// newClient returns a client over a new httpx.Client configured by o.
func newClient(provider string, o httpx.Options) (client, error) {
	c, err := httpx.NewClient(o)
	if err != nil {
		return client{}, fmt.Errorf("providers: %s client: %w", provider, err)
	}
	return client{provider: provider, http: c}, nil
}

// requireBaseURL checks a config's BaseURL.
func requireBaseURL(config, baseURL string) error {
	if baseURL == "" {
		return errors.New("providers: " + config + ".BaseURL: required")
	}
	return nil
}

// Breakers returns the client's circuit breakers, one per provider host called
// so far, for health checks and dashboards.
func (c *client) Breakers() []*resilience.Breaker {
	if t, ok := c.http.HTTP.Transport.(*httpx.Transport); ok {
		return t.Breakers()
	}
	return nil
}

// Close releases the client's idle connections. The client remains usable.
func (c *client) Close() {
	c.http.CloseIdleConnections()
	for _, o := range c.others {
		o.CloseIdleConnections()
	}
}
