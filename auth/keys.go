package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
)

// Algorithm families a [VerificationKey] may be bound to.
var (
	rsaAlgorithms   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecdsaAlgorithms = map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}
	hmacAlgorithms  = []string{"HS256", "HS384", "HS512"}
)

// DefaultAlgorithms are the JWT algorithms a [JWTVerifier] allows when
// [JWTConfig.Algorithms] is empty: the asymmetric ones. HMAC algorithms must be
// listed explicitly; "none" is never allowed.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// VerificationKey is a key that verifies JWT signatures, bound to one algorithm:
// a token is verified with it only if the token's "alg" is that algorithm, so that
// an HMAC key never verifies an RSA-signed token, nor an RSA public key an
// HMAC-signed one.
type VerificationKey struct {
	// Algorithm is the JWS algorithm: RS256, RS384, RS512, PS256, PS384, PS512,
	// ES256, ES384, ES512, EdDSA, HS256, HS384 or HS512.
	Algorithm string
	// Key is *rsa.PublicKey for RS* and PS*, *ecdsa.PublicKey on the matching
	// curve for ES*, ed25519.PublicKey for EdDSA, and a [Secret] or []byte of at
	// least [MinHMACKeyLen] bytes for HS*. The private keys (*rsa.PrivateKey,
	// *ecdsa.PrivateKey, ed25519.PrivateKey) are accepted and their public half
	// used.
	Key any
}

// material validates k and returns the key material golang-jwt expects.
func (k VerificationKey) material() (any, error) {
	switch {
	case slices.Contains(rsaAlgorithms, k.Algorithm):
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			if key.N == nil || key.N.BitLen() < 2048 {
				return nil, fmt.Errorf("RSA key is shorter than 2048 bits")
			}
			return key, nil
		case *rsa.PrivateKey:
			return VerificationKey{k.Algorithm, &key.PublicKey}.material()
		}
	case ecdsaAlgorithms[k.Algorithm] != nil:
		var pub *ecdsa.PublicKey
		switch key := k.Key.(type) {
		case *ecdsa.PublicKey:
			pub = key
		case *ecdsa.PrivateKey:
			pub = &key.PublicKey
		}
		if pub != nil {
			if pub.Curve != ecdsaAlgorithms[k.Algorithm] {
				return nil, fmt.Errorf("%s needs a key on %s", k.Algorithm, ecdsaAlgorithms[k.Algorithm].Params().Name)
			}
			return pub, nil
		}
	case k.Algorithm == "EdDSA":
		switch key := k.Key.(type) {
		case ed25519.PublicKey:
			if len(key) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("Ed25519 key has %d bytes", len(key))
			}
			return key, nil
		case ed25519.PrivateKey:
			return key.Public(), nil
		}
	case slices.Contains(hmacAlgorithms, k.Algorithm):
		var b []byte
		switch key := k.Key.(type) {
		case Secret:
			b = []byte(key.Reveal())
		case []byte:
			b = key
		default:
			return nil, fmt.Errorf("%s needs a Secret or []byte key, not %T", k.Algorithm, k.Key)
		}
		if len(b) < MinHMACKeyLen {
			return nil, fmt.Errorf("HMAC key is shorter than %d bytes", MinHMACKeyLen)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("algorithm %q is not supported", truncate(k.Algorithm))
	}
	return nil, fmt.Errorf("%s cannot use a key of type %T", k.Algorithm, k.Key)
}

// A KeySet finds JWT verification keys by key ID (the token header's "kid"; the
// empty string for a token without one). Lookup returns an error matching
// [ErrUnknownKey] for an unknown ID, and [ErrKeySetUnavailable] when the keys
// cannot be obtained. [StaticKeys] and [*JWKS] are KeySets. Lookup must be safe
// for concurrent use.
type KeySet interface {
	Lookup(ctx context.Context, kid string) (VerificationKey, error)
}

// StaticKeys is a fixed [KeySet]. The key under "" verifies tokens without a
// "kid". A StaticKeys must not be modified while in use.
type StaticKeys map[string]VerificationKey

// Lookup returns the key with ID kid.
func (s StaticKeys) Lookup(_ context.Context, kid string) (VerificationKey, error) {
	k, ok := s[kid]
	if !ok {
		return VerificationKey{}, unknownKey(kid)
	}
	return k, nil
}

func unknownKey(kid string) error {
	if kid == "" {
		return reason(ErrUnknownKey, nil, "token has no kid")
	}
	return reason(ErrUnknownKey, nil, "unknown kid %q", truncate(kid))
}

// supportedAlgorithm reports whether alg is one a VerificationKey can be bound to.
func supportedAlgorithm(alg string) bool {
	return slices.Contains(rsaAlgorithms, alg) || ecdsaAlgorithms[alg] != nil ||
		alg == "EdDSA" || slices.Contains(hmacAlgorithms, alg)
}
