package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newDevIssuer(t *testing.T, cfg DevIssuerConfig) *DevIssuer {
	t.Helper()
	d, err := NewDevIssuer(cfg)
	if err != nil {
		t.Fatalf("NewDevIssuer(%+v) error = %v", cfg, err)
	}
	return d
}

// TestDevIssuerTokensVerify: tokens minted by a DevIssuer pass the JWT verifier
// configured from it, with the claims asked for, and fail it for every reason
// the verifier checks.
func TestDevIssuerTokensVerify(t *testing.T) {
	d := newDevIssuer(t, DevIssuerConfig{Issuer: "customers-dev", Audience: "customers", TTL: 10 * time.Minute})
	other := newDevIssuer(t, DevIssuerConfig{Issuer: "customers-dev", Audience: "customers"})
	cfg := d.JWTConfig()
	cfg.RequiredScopes = []string{"customers:write"}
	v, err := NewJWTVerifier(cfg)
	if err != nil {
		t.Fatalf("NewJWTVerifier(d.JWTConfig()) error = %v", err)
	}
	mintT := func(d *DevIssuer, tok DevToken) string {
		t.Helper()
		s, err := d.Mint(tok)
		if err != nil {
			t.Fatalf("Mint(%+v) error = %v", tok, err)
		}
		return s
	}

	good := mintT(d, DevToken{Subject: "ann", Scopes: []string{"customers:write", "customers:read"},
		Claims: map[string]any{"tenant": "eu", "iss": "forged"}})
	c, err := v.Verify(context.Background(), good)
	if err != nil {
		t.Fatalf("Verify(good token) error = %v", err)
	}
	if c.Issuer != "customers-dev" || c.Subject != "ann" || !slices.Equal(c.Audience, jwt.ClaimStrings{"customers"}) ||
		!slices.Equal(c.Scopes, []string{"customers:write", "customers:read"}) || c.Raw["tenant"] != "eu" {
		t.Errorf("Verify(good token) = iss %q sub %q aud %v scopes %v tenant %v; want customers-dev, ann, [customers], both scopes, eu",
			c.Issuer, c.Subject, c.Audience, c.Scopes, c.Raw["tenant"])
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != 10*time.Minute {
		t.Errorf("exp - iat = %s, want the issuer's TTL 10m", got)
	}
	if err := v.CheckScopes(c); err != nil {
		t.Errorf("CheckScopes(good token) = %v, want nil", err)
	}

	if c, err := v.Verify(context.Background(), mintT(d, DevToken{})); err != nil || c.Subject != "developer" {
		t.Errorf("Verify(zero DevToken) = %v, %v; want the subject developer", c, err)
	}
	noScope, err := v.Verify(context.Background(), mintT(d, DevToken{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckScopes(noScope); !errors.Is(err, ErrInsufficientScope) {
		t.Errorf("CheckScopes(token without scope) = %v, want ErrInsufficientScope", err)
	}

	for _, tt := range []struct {
		name  string
		token string
		want  error
	}{
		{"expired", mintT(d, DevToken{TTL: -time.Minute}), ErrExpired},
		{"issued in the future", mintT(d, DevToken{IssuedAt: time.Now().Add(time.Hour)}), ErrNotYetValid},
		{"other audience", mintT(d, DevToken{Audience: []string{"billing"}}), ErrInvalidAudience},
		{"other issuer's key", mintT(other, DevToken{}), ErrUnknownKey},
	} {
		if _, err := v.Verify(context.Background(), tt.token); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify() error = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestDevIssuerJWKS: the JWK Set a DevIssuer serves is read by ParseJWKS and by
// a JWKS from its URL, and verifies its tokens.
func TestDevIssuerJWKS(t *testing.T) {
	checkLeaks(t)
	d := newDevIssuer(t, DevIssuerConfig{Audience: "orders"})
	keys, err := ParseJWKS(d.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS(d.JWKS()) error = %v", err)
	}
	if k, ok := keys[d.KeyID()]; !ok || k.Algorithm != "ES256" || len(keys) != 1 {
		t.Errorf("ParseJWKS(d.JWKS()) = %v; want one ES256 key %q", keys, d.KeyID())
	}

	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the JWKS = %d, want 405", resp.StatusCode)
	}
	jwks, err := NewJWKS(JWKSConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewJWTVerifier(JWTConfig{Keys: jwks, Issuer: DefaultDevIssuer, Audience: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := d.Mint(DevToken{Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil || !c.HasScope("orders:read") || c.Issuer != DefaultDevIssuer {
		t.Errorf("Verify(token) through the served JWKS = %v, %v; want issuer %s with orders:read", c, err, DefaultDevIssuer)
	}
}

// TestDevIssuerConfig: the defaults, and a negative TTL refused.
func TestDevIssuerConfig(t *testing.T) {
	d := newDevIssuer(t, DevIssuerConfig{})
	if d.Issuer() != DefaultDevIssuer {
		t.Errorf("Issuer() = %q, want %q", d.Issuer(), DefaultDevIssuer)
	}
	now := time.Now().Truncate(time.Second)
	tok, err := d.Mint(DevToken{IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	c := new(Claims)
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	if c.ExpiresAt == nil || !c.ExpiresAt.Equal(now.Add(time.Hour)) || len(c.Audience) != 0 {
		t.Errorf("zero config token: exp %v aud %v; want %v (1h) and no audience", c.ExpiresAt, c.Audience, now.Add(time.Hour))
	}
	if _, err := NewDevIssuer(DevIssuerConfig{TTL: -time.Second}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewDevIssuer(TTL -1s) error = %v, want ErrInvalidConfig", err)
	}
}
