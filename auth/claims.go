package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a verified JWT: the registered ones, the scopes, and
// every claim as decoded JSON.
type Claims struct {
	jwt.RegisteredClaims
	// Scopes come from the "scope" claim (space-separated, RFC 8693 and RFC 9068)
	// or, if absent, the "scp" claim (an array or a space-separated string).
	Scopes []string `json:"-"`
	// Raw holds every claim; numbers are [json.Number].
	Raw map[string]any `json:"-"`
}

// UnmarshalJSON decodes a JWT claims set.
func (c *Claims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.RegisteredClaims); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	c.Raw = nil
	if err := d.Decode(&c.Raw); err != nil {
		return err
	}
	c.Scopes = nil
	switch s := c.Raw["scope"].(type) {
	case string:
		c.Scopes = strings.Fields(s)
	}
	if c.Scopes == nil {
		switch s := c.Raw["scp"].(type) {
		case string:
			c.Scopes = strings.Fields(s)
		case []any:
			for _, v := range s {
				if v, ok := v.(string); ok {
					c.Scopes = append(c.Scopes, v)
				}
			}
		}
	}
	return nil
}

// HasScope reports whether the claims grant scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

type claimsKey struct{}

// ClaimsFromContext returns the claims of the token verified by a [JWTVerifier]
// middleware.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// ContextWithClaims returns a copy of ctx carrying c, as the JWT middleware does;
// handlers' tests use it.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}
