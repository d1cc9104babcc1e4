package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultDevIssuer is the "iss" of a [DevIssuer]'s tokens when
// [DevIssuerConfig.Issuer] is empty.
const DefaultDevIssuer = "rampart-dev"

// DevIssuerConfig configures a [DevIssuer]. The zero value is usable.
type DevIssuerConfig struct {
	// Issuer is the "iss" of every token. Empty means [DefaultDevIssuer].
	Issuer string
	// Audience is the "aud" of a token whose [DevToken.Audience] is empty.
	// Empty means none: such a token has no "aud", and a [JWTVerifier] rejects it.
	Audience string
	// TTL is the lifetime of a token whose [DevToken.TTL] is zero. Zero means 1h.
	TTL time.Duration
}

// DevToken describes a token minted by [DevIssuer.Mint]. The zero value is a
// token for "developer", with the issuer's audience and lifetime and no scope.
type DevToken struct {
	// Subject is the "sub". Empty means "developer".
	Subject string
	// Audience is the "aud". Empty means [DevIssuerConfig.Audience].
	Audience []string
	// Scopes are granted in the "scope" claim, space-separated. Empty grants none.
	Scopes []string
	// TTL is the token's lifetime: "exp" is IssuedAt + TTL. Zero means
	// [DevIssuerConfig.TTL]; a negative TTL mints an expired token, for tests.
	TTL time.Duration
	// IssuedAt is the "iat" and "nbf". Zero means now.
	IssuedAt time.Time
	// Claims are added to the token; they do not replace iss, sub, aud, scope, iat,
	// nbf and exp.
	Claims map[string]any
}

// DevIssuer issues JWTs for development and tests: it makes an ECDSA P-256 key
// when created, publishes its public half for a [JWTVerifier] ([DevIssuer.Keys],
// [DevIssuer.JWTConfig], or as a JWK Set with [DevIssuer.JWKS] and
// [DevIssuer.ServeHTTP], which a [JWKS] can fetch), and mints ES256 tokens with
// the issuer, audience, scopes and lifetime asked for ([DevIssuer.Mint]).
//
// The private key lives only in memory and is lost with the DevIssuer, so that
// the tokens it minted stop verifying at the next start. It is not an identity
// provider: use it where a service would otherwise make a key and sign tokens by
// hand (a quick start, a test), never to authenticate real users.
//
// A DevIssuer is safe for concurrent use.
type DevIssuer struct {
	key    *ecdsa.PrivateKey
	kid    string
	issuer string
	aud    string
	ttl    time.Duration
}

// NewDevIssuer returns a DevIssuer with a new key.
func NewDevIssuer(cfg DevIssuerConfig) (*DevIssuer, error) {
	if cfg.TTL < 0 {
		return nil, &ConfigError{Field: "DevIssuerConfig.TTL", Reason: "must not be negative"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: development issuer: %w", err)
	}
	d := &DevIssuer{key: key, kid: "dev-" + strings.ToLower(rand.Text()[:10]), issuer: cfg.Issuer, aud: cfg.Audience, ttl: cfg.TTL}
	if d.issuer == "" {
		d.issuer = DefaultDevIssuer
	}
	if d.ttl == 0 {
		d.ttl = time.Hour
	}
	return d, nil
}

// Issuer returns the "iss" of the tokens.
func (d *DevIssuer) Issuer() string { return d.issuer }

// KeyID returns the "kid" of the tokens.
func (d *DevIssuer) KeyID() string { return d.kid }

// Keys returns the public key as a [KeySet], for [JWTConfig.Keys].
func (d *DevIssuer) Keys() StaticKeys {
	return StaticKeys{d.kid: {Algorithm: "ES256", Key: &d.key.PublicKey}}
}

// JWTConfig returns the configuration of a [JWTVerifier] of the tokens: Keys,
// Issuer, Audience (the issuer's) and Algorithms (ES256). Set the rest
// (RequiredScopes, Leeway, Realm, Logger) before calling [NewJWTVerifier].
func (d *DevIssuer) JWTConfig() JWTConfig {
	return JWTConfig{Keys: d.Keys(), Issuer: d.issuer, Audience: d.aud, Algorithms: []string{"ES256"}}
}

// JWKS returns the public key as a JSON Web Key Set (RFC 7517), which
// [ParseJWKS] reads.
func (d *DevIssuer) JWKS() []byte {
	pub, err := d.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic("auth: development issuer: " + err.Error()) // a P-256 key made by NewDevIssuer
	}
	xy := pub[1:]
	b64 := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": d.kid, "use": "sig", "alg": "ES256",
		"x": b64(xy[:len(xy)/2]), "y": b64(xy[len(xy)/2:]),
	}}})
	return b
}

// ServeHTTP answers every GET or HEAD with the JWK Set ([DevIssuer.JWKS]) as
// application/jwk-set+json, so that a DevIssuer mounted on a URL (an
// [net/http/httptest.Server], say) is a key set for [NewJWKS]; other methods are
// answered 405.
func (d *DevIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(d.JWKS())
}

// Mint returns a signed token as t describes, with the "kid" of the issuer's
// key.
func (d *DevIssuer) Mint(t DevToken) (string, error) {
	iat := t.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	ttl := t.TTL
	if ttl == 0 {
		ttl = d.ttl
	}
	sub := t.Subject
	if sub == "" {
		sub = "developer"
	}
	claims := jwt.MapClaims{}
	maps.Copy(claims, t.Claims)
	claims["iss"] = d.issuer
	claims["sub"] = sub
	claims["iat"] = iat.Unix()
	claims["nbf"] = iat.Unix()
	claims["exp"] = iat.Add(ttl).Unix()
	delete(claims, "aud")
	switch {
	case len(t.Audience) == 1:
		claims["aud"] = t.Audience[0]
	case len(t.Audience) > 1:
		claims["aud"] = append([]string(nil), t.Audience...)
	case d.aud != "":
		claims["aud"] = d.aud
	}
	delete(claims, "scope")
	if len(t.Scopes) > 0 {
		claims["scope"] = strings.Join(t.Scopes, " ")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = d.kid
	s, err := tok.SignedString(d.key)
	if err != nil {
		return "", fmt.Errorf("auth: development issuer: signing: %w", err)
	}
	return s, nil
}
