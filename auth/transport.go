package auth

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Credentials add credentials to outgoing requests. [*Static], [*ClientCredentials]
// and [*HMACSigner] are Credentials; [Transport] applies them.
//
// Apply is given a request that the caller owns (Transport passes a clone) and may
// set headers on it. An implementation that needs the body, like a signer, reads it
// through GetBody when set, and otherwise may replace Body with a buffered copy.
// Apply must be safe for concurrent use and its errors must never contain a
// secret.
type Credentials interface {
	Apply(ctx context.Context, r *http.Request) error
}

// A Refresher is Credentials that can be renewed when a server rejects them.
// After a 401 response, [Transport] calls Invalidate with the request whose
// credentials were rejected, then applies the credentials again and retries the
// request once. Invalidate must forget the credentials applied to r unless they
// were already replaced, so that many requests rejected at once cause a single
// renewal. [*ClientCredentials] is a Refresher.
type Refresher interface {
	Credentials
	Invalidate(r *http.Request)
}

// Transport is an [http.RoundTripper] that applies Credentials to each request
// before passing it to Base.
//
// It keeps the net/http contract: the request is cloned before it is changed, its
// body is closed on every path, and it is replayed only through GetBody.
//
// Credentials are applied only to the origin (scheme, host and port) of the first
// request of a redirect chain: when an [http.Client] follows a redirect to another
// origin, the redirected request goes out without them.
//
// When the Credentials are a [Refresher] and the response is 401 Unauthorized, the
// response is drained and closed, the credentials are invalidated and applied
// again, and the request is sent once more, provided its body can be replayed
// (no body, or GetBody set); otherwise, or if the renewal fails, the 401 response
// is returned as is.
//
// A Transport is safe for concurrent use if its Credentials are.
type Transport struct {
	// Base sends the requests. Nil means [http.DefaultTransport].
	Base http.RoundTripper
	// Credentials are applied to every request; required.
	Credentials Credentials
}

// NewTransport returns a Transport that applies c to requests sent through base
// (nil means [http.DefaultTransport]).
func NewTransport(base http.RoundTripper, c Credentials) *Transport {
	return &Transport{Base: base, Credentials: c}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

// maxDrain bounds how much of a discarded response body is read so that its
// connection can be reused.
const maxDrain = 4 << 10

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Credentials == nil {
		closeBody(req)
		return nil, &ConfigError{Field: "Transport.Credentials", Reason: "is nil"}
	}
	if !sameOriginAsFirst(req) {
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	r := req.Clone(ctx)
	if err := t.Credentials.Apply(ctx, r); err != nil {
		closeBody(r)
		closeBody(req)
		return nil, err
	}
	resp, err := t.base().RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	refresher, ok := t.Credentials.(Refresher)
	if !ok {
		return resp, nil
	}
	retry, ok := replayRequest(req)
	if !ok {
		return resp, nil
	}
	refresher.Invalidate(r)
	if err := refresher.Apply(ctx, retry); err != nil {
		closeBody(retry)
		return resp, nil
	}
	drainAndClose(resp.Body)
	return t.base().RoundTrip(retry)
}

// replayRequest returns a fresh clone of req with its body from GetBody, or false
// if the body cannot be replayed.
func replayRequest(req *http.Request) (*http.Request, bool) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r.Body = body
	return r, true
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// sameOriginAsFirst reports whether req goes to the origin of the first request of
// its redirect chain (always true for a request that is not a redirect).
func sameOriginAsFirst(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first == req || origin(first.URL) == origin(req.URL)
}

// origin returns scheme://host:port with the default port made explicit.
func origin(u *url.URL) string {
	if u == nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
