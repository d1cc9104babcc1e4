package providers

import (
	"cmp"
	"context"
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
// empty), BaseURL (when given) and IdempotencyKeys are set, Logger and Observer
// when given.
func pipeline(provider, baseURL string, o httpx.Options, logger *slog.Logger, observer httpx.Observer) httpx.Options {
	if o.Name == "" {
		o.Name = provider
	}
	o.BaseURL = cmp.Or(baseURL, o.BaseURL)
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

// configuredAuth reports whether o carries credentials already, as package
// config sets them from a client's auth section ([config.ClientConfig.HTTPXOptions]:
// Auth, or AuthTransport for OAuth2), and if so wraps them so that a token
// endpoint's refusal of the client is permanent: httpx does not retry an
// attempt whose credentials are wrong.
func configuredAuth(o *httpx.Options) bool {
	switch {
	case o.AuthTransport != nil:
		wrap := o.AuthTransport
		o.AuthTransport = func(next http.RoundTripper) http.RoundTripper { return refusalIsPermanentRT{wrap(next)} }
		return true
	case o.Auth != nil:
		o.Auth = refusalIsPermanentAuth{o.Auth}
		return true
	}
	return false
}

// refusalIsPermanentRT marks a token endpoint's refusal of the client, met by
// the credentials of a RoundTripper, as permanent.
type refusalIsPermanentRT struct{ next http.RoundTripper }

func (r refusalIsPermanentRT) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if credentialsRefused(err) {
		return nil, resilience.Permanent(err)
	}
	return resp, err
}

// refusalIsPermanentAuth is refusalIsPermanentRT for an httpx.Authenticator.
type refusalIsPermanentAuth struct{ httpx.Authenticator }

func (r refusalIsPermanentAuth) Apply(ctx context.Context, req *http.Request) error {
	err := r.Authenticator.Apply(ctx, req)
	if credentialsRefused(err) {
		return resilience.Permanent(err)
	}
	return err
}

// newClient returns a client over a new httpx.Client configured by o.
func newClient(provider string, o httpx.Options) (client, error) {
	c, err := httpx.NewClient(o)
	if err != nil {
		return client{}, fmt.Errorf("providers: %s client: %w", provider, err)
	}
	return client{provider: provider, http: c}, nil
}

// requireBaseURL checks a config's BaseURL, which may come from its HTTP.BaseURL.
func requireBaseURL(config string, o httpx.Options) error {
	if o.BaseURL == "" {
		return errors.New("providers: " + config + ".BaseURL: required (or HTTP.BaseURL)")
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
