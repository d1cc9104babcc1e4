package httpx

import (
	"context"
	"net/http"
)

// Authenticator adds credentials to a request: a bearer token, an API key, a
// signature. Every auth.Credentials is an Authenticator.
//
// A [Transport] calls Apply once per attempt, on a copy of the request that the
// attempt owns (Apply may set its headers), and only for the authorities allowed by
// Options.BaseURL and Options.AuthHosts. Apply must be safe for concurrent use, and
// its errors must never contain a secret.
type Authenticator interface {
	Apply(ctx context.Context, req *http.Request) error
}

// AuthenticatorFunc adapts a function to an [Authenticator].
type AuthenticatorFunc func(ctx context.Context, req *http.Request) error

// Apply calls f(ctx, req).
func (f AuthenticatorFunc) Apply(ctx context.Context, req *http.Request) error { return f(ctx, req) }
