package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// Defaults of [JWKSConfig].
const (
	// DefaultJWKSMaxAge is how long fetched keys are used before they are fetched
	// again.
	DefaultJWKSMaxAge = time.Hour
	// DefaultJWKSMinRefresh is the least time between two fetches caused by
	// unknown key IDs.
	DefaultJWKSMinRefresh = time.Minute
)

// maxJWKSSize bounds a JWKS document.
const maxJWKSSize = 1 << 20

// JWKSConfig configures a [JWKS]. Exactly one of URL and File is required; every
// other field has a usable zero value.
type JWKSConfig struct {
	// URL is where the JSON Web Key Set is fetched from, e.g. an issuer's
	// jwks_uri.
	URL string
	// File is a JSON Web Key Set on disk.
	File string
	// HTTPClient fetches URL. Nil means [http.DefaultClient]; the fetch is bound
	// to the context of the lookup that caused it.
	HTTPClient *http.Client
	// MaxAge is how long keys are used before being fetched again. Zero means
	// [DefaultJWKSMaxAge].
	MaxAge time.Duration
	// MinRefresh is the least time between fetches caused by a key ID that is not
	// in the set (a rotated key). Zero means [DefaultJWKSMinRefresh].
	MinRefresh time.Duration
}

// JWKS is a [KeySet] loaded from a JSON Web Key Set (RFC 7517) at a URL or in a
// file. Keys are fetched on the first lookup, again after MaxAge, and again when a
// token names an unknown key ID (at most once per MinRefresh). If a fetch fails,
// the keys fetched before keep being used; with none, lookups fail with
// [ErrKeySetUnavailable]. Only one fetch runs at a time; lookups waiting for it
// give up when their context ends. No goroutine is started.
//
// Supported keys: RSA (at least 2048 bits), EC on P-256, P-384 and P-521, and
// OKP Ed25519, with "use" absent or "sig". A key without "alg" is bound to RS256,
// ES256/ES384/ES512 by curve, or EdDSA. Other keys (symmetric, encryption) are
// ignored.
//
// JWKS is safe for concurrent use.
type JWKS struct {
	cfg    JWKSConfig
	source string
	client *http.Client

	sem chan struct{} // one fetch at a time

	mu        sync.Mutex
	keys      StaticKeys
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last fetch attempt
}

// NewJWKS returns a JWKS for cfg. Nothing is fetched until the first lookup.
func NewJWKS(cfg JWKSConfig) (*JWKS, error) {
	switch {
	case (cfg.URL == "") == (cfg.File == ""):
		return nil, &ConfigError{Field: "JWKSConfig.URL", Reason: "exactly one of URL and File is required"}
	case cfg.MaxAge < 0:
		return nil, &ConfigError{Field: "JWKSConfig.MaxAge", Reason: "must not be negative"}
	case cfg.MinRefresh < 0:
		return nil, &ConfigError{Field: "JWKSConfig.MinRefresh", Reason: "must not be negative"}
	}
	j := &JWKS{cfg: cfg, client: cfg.HTTPClient, sem: make(chan struct{}, 1)}
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &ConfigError{Field: "JWKSConfig.URL", Reason: "must be an absolute http or https URL"}
		}
		j.source = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	} else {
		j.source = cfg.File
	}
	j.cfg.MaxAge = cmpOr(cfg.MaxAge, DefaultJWKSMaxAge)
	j.cfg.MinRefresh = cmpOr(cfg.MinRefresh, DefaultJWKSMinRefresh)
	if j.client == nil {
		j.client = http.DefaultClient
	}
	return j, nil
}

// Lookup returns the key with ID kid, fetching the set when needed.
func (j *JWKS) Lookup(ctx context.Context, kid string) (VerificationKey, error) {
	if k, ok, done := j.cached(kid, time.Now()); done {
		if !ok {
			return VerificationKey{}, unknownKey(kid)
		}
		return k, nil
	}
	select {
	case j.sem <- struct{}{}:
	case <-ctx.Done():
		return VerificationKey{}, context.Cause(ctx)
	}
	defer func() { <-j.sem }()
	now := time.Now()
	// Another lookup may have fetched while this one waited.
	if k, ok, done := j.cached(kid, now); done {
		if !ok {
			return VerificationKey{}, unknownKey(kid)
		}
		return k, nil
	}
	keys, err := j.fetch(ctx)
	j.mu.Lock()
	j.triedAt = now
	if err == nil {
		j.keys, j.fetchedAt = keys, now
	}
	keys = j.keys
	j.mu.Unlock()
	if keys == nil {
		return VerificationKey{}, reason(ErrKeySetUnavailable, err, "auth: key set %s unavailable: %v", j.source, err)
	}
	return keys.Lookup(ctx, kid)
}

// cached looks kid up in the cached keys at now. done is false when a fetch is
// due: no keys yet, keys older than MaxAge, or kid unknown and the last attempt
// older than MinRefresh.
func (j *JWKS) cached(kid string, now time.Time) (k VerificationKey, ok, done bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.keys == nil || now.Sub(j.fetchedAt) >= j.cfg.MaxAge {
		// Past MaxAge, still avoid hammering a failing source.
		if j.keys != nil && now.Sub(j.triedAt) < j.cfg.MinRefresh {
			k, ok = j.keys[kid]
			return k, ok, true
		}
		return VerificationKey{}, false, false
	}
	if k, ok = j.keys[kid]; ok {
		return k, true, true
	}
	return VerificationKey{}, false, now.Sub(j.triedAt) < j.cfg.MinRefresh
}

func (j *JWKS) fetch(ctx context.Context) (StaticKeys, error) {
	var data []byte
	if j.cfg.File != "" {
		f, err := os.Open(j.cfg.File)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if data, err = io.ReadAll(io.LimitReader(f, maxJWKSSize+1)); err != nil {
			return nil, err
		}
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.cfg.URL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := j.client.Do(req)
		if err != nil {
			return nil, redactURLError(err, j.source)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			drainAndClose(resp.Body)
			return nil, fmt.Errorf("status %s", resp.Status)
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1)); err != nil {
			return nil, err
		}
	}
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("key set is larger than %d bytes", maxJWKSSize)
	}
	return ParseJWKS(data)
}

// jwk is one JSON Web Key; only public members are read.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS parses a JSON Web Key Set into StaticKeys, keeping the signature keys
// it supports (see [JWKS]). A malformed supported key or a repeated key ID is an
// error.
func ParseJWKS(data []byte) (StaticKeys, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	keys := make(StaticKeys, len(set.Keys))
	for i, k := range set.Keys {
		if (k.Use != "" && k.Use != "sig") || (k.Alg != "" && !supportedAlgorithm(k.Alg)) {
			continue
		}
		vk, ok, err := k.verificationKey()
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS key %d (kid %q): %w", i, truncate(k.Kid), err)
		}
		if !ok {
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("auth: JWKS: kid %q appears twice", truncate(k.Kid))
		}
		keys[k.Kid] = vk
	}
	return keys, nil
}

// verificationKey converts k; ok is false for a key type that is not supported.
func (k jwk) verificationKey() (vk VerificationKey, ok bool, err error) {
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return vk, false, fmt.Errorf("invalid RSA n or e")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		vk = VerificationKey{Algorithm: cmpOr(k.Alg, "RS256"), Key: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}}
	case "EC":
		algByCurve := map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
		alg, known := algByCurve[k.Crv]
		if !known {
			return vk, false, nil
		}
		curve := ecdsaAlgorithms[alg]
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return vk, false, fmt.Errorf("invalid EC x or y")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return vk, false, fmt.Errorf("invalid EC point: %w", err)
		}
		vk = VerificationKey{Algorithm: cmpOr(k.Alg, alg), Key: pub}
	case "OKP":
		if k.Crv != "Ed25519" {
			return vk, false, nil
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return vk, false, fmt.Errorf("invalid Ed25519 x")
		}
		vk = VerificationKey{Algorithm: cmpOr(k.Alg, "EdDSA"), Key: ed25519.PublicKey(x)}
	default:
		return vk, false, nil
	}
	if _, err := vk.material(); err != nil {
		return vk, false, err
	}
	return vk, true, nil
}
