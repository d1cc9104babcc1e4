package config

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sync/atomic"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// Client is an HTTP client built from a [ClientConfig] by [Build], whose settings
// [Live.Apply] changes while it is in use. It is an [http.RoundTripper] that sends
// each request through the current [httpx.Transport]: a reload that changes more
// than the rate limiter builds a new transport (over the same connections) for
// the requests that start afterwards, while the requests in flight finish on the
// old one.
//
// A Client is safe for concurrent use.
type Client struct {
	name string
	base http.RoundTripper // the connections, shared by every version
	cur  atomic.Pointer[clientVersion]
}

// clientVersion is one configuration of a client and what was built from it.
type clientVersion struct {
	cfg   ClientConfig
	parts clientParts
	t     *httpx.Transport
}

func newClient(name string, cfg ClientConfig, opts BuildOptions) (*Client, error) {
	cfg.name = name
	var base http.RoundTripper // with TLS, newParts makes it
	if cfg.TLS == nil {
		base = httpx.NewBaseTransport()
	}
	parts, err := cfg.newParts(base)
	if err != nil {
		return nil, fmt.Errorf("config: clients.%s: %w", name, err)
	}
	c := &Client{name: name, base: parts.base}
	v, err := c.version(cfg, parts, opts)
	if err != nil {
		return nil, err
	}
	c.cur.Store(v)
	return c, nil
}

// version builds a transport for cfg over parts.
func (c *Client) version(cfg ClientConfig, parts clientParts, opts BuildOptions) (*clientVersion, error) {
	o := cfg.options(parts)
	o.Logger = opts.Logger
	o.Observer = opts.HTTPObserver
	o.PolicyObserver = opts.Observer
	t, err := httpx.NewTransport(o)
	if err != nil {
		return nil, fmt.Errorf("config: clients.%s: %w", c.name, err)
	}
	return &clientVersion{cfg: cfg, parts: parts, t: t}, nil
}

// Name returns the client's name.
func (c *Client) Name() string { return c.name }

// RoundTrip sends req through the current transport (see [httpx.Transport]).
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	return c.cur.Load().t.RoundTrip(req)
}

// CheckRedirect is the current transport's [httpx.Transport.CheckRedirect].
func (c *Client) CheckRedirect(req *http.Request, via []*http.Request) error {
	return c.cur.Load().t.CheckRedirect(req, via)
}

// HTTPClient returns an *http.Client that sends through c.
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: c, CheckRedirect: c.CheckRedirect}
}

// JSON returns an [httpx.Client] for typed calls relative to the base URL,
// sending through c.
func (c *Client) JSON() *httpx.Client {
	u, _ := url.Parse(string(c.cur.Load().cfg.BaseURL)) // validated by Load
	return &httpx.Client{HTTP: c.HTTPClient(), BaseURL: u}
}

// Breakers returns the circuit breakers of the current transport, one per host
// called, for health checks and dashboards.
func (c *Client) Breakers() []*resilience.Breaker { return c.cur.Load().t.Breakers() }

// CloseIdleConnections closes the idle connections of the client.
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// plan returns the steps that change c to next.
func (c *Client) plan(path string, next ClientConfig, opts BuildOptions) ([]step, error) {
	cur := c.cur.Load()
	next.name = c.name
	if reflect.DeepEqual(cur.cfg, next) {
		return nil, nil
	}
	var steps []step
	if next.BaseURL != cur.cfg.BaseURL {
		steps = append(steps, step{change: Change{Path: path + ".base_url", Action: RestartRequired, Detail: "the base URL is kept until the next start"}})
		next.BaseURL = cur.cfg.BaseURL
	}
	if !reflect.DeepEqual(next.TLS, cur.cfg.TLS) {
		steps = append(steps, step{change: Change{Path: path + ".tls", Action: RestartRequired, Detail: "the TLS files are read at start"}})
		next.TLS = cur.cfg.TLS
	}
	parts := cur.parts
	// The rate limiter is updated in place when there is one before and after.
	rest, restNext := cur.cfg, next
	if cur.cfg.RateLimiter != nil && next.RateLimiter != nil {
		rest.RateLimiter, restNext.RateLimiter = nil, nil
		if !reflect.DeepEqual(*cur.cfg.RateLimiter, *next.RateLimiter) {
			lim, o := parts.limiter, next.RateLimiter.Options("")
			steps = append(steps, step{change: Change{Path: path + ".rate_limiter", Action: Updated, Detail: "the tokens in the bucket are kept"},
				run: func() error { return lim.Update(o) }})
		}
	}
	if reflect.DeepEqual(rest, restNext) {
		if len(steps) > 0 {
			steps = append(steps, step{run: func() error {
				v := *c.cur.Load()
				v.cfg = next
				c.cur.Store(&v)
				return nil
			}})
		}
		return steps, nil
	}
	// Anything else: a new transport, keeping what did not change.
	fresh, err := next.newParts(parts.base) // the same connections
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if reflect.DeepEqual(cur.cfg.RateLimiter, next.RateLimiter) || cur.cfg.RateLimiter != nil && next.RateLimiter != nil {
		fresh.limiter = parts.limiter
	}
	if reflect.DeepEqual(cur.cfg.Retry.Budget, next.Retry.Budget) {
		fresh.budget = parts.budget
	}
	// The credentials keep their token unless they or its requests' bound change.
	if reflect.DeepEqual(cur.cfg.Auth, next.Auth) && cur.cfg.tokenTimeout() == next.tokenTimeout() {
		fresh.creds, fresh.refresh = parts.creds, parts.refresh
	}
	v, err := c.version(next, fresh, opts)
	if err != nil {
		return nil, err
	}
	steps = append(steps, step{
		change: Change{Path: path, Action: Replaced, Detail: "new transport; calls in flight finish with the old one; the breakers of its hosts start closed"},
		run:    func() error { c.cur.Store(v); return nil },
	})
	return steps, nil
}
