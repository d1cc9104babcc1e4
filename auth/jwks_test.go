package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// toJWK encodes a public key as a JWK.
func toJWK(t *testing.T, kid string, key any) map[string]string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := key.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		raw := e.Bytes()[1:]
		return map[string]string{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64(raw[:len(raw)/2]), "y": b64(raw[len(raw)/2:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k), "alg": "EdDSA"}
	}
	t.Fatalf("toJWK(%T)", key)
	return nil
}

func jwksJSON(t *testing.T, keys ...map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	k := testKeys()
	data := jwksJSON(t,
		toJWK(t, "rsa-1", &k.rsa.PublicKey),
		toJWK(t, "ec-1", &k.ec.PublicKey),
		toJWK(t, "ed-1", k.ed.Public()),
		map[string]string{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
		map[string]string{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
		map[string]string{"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
	)
	keys, err := ParseJWKS(data)
	if err != nil {
		t.Fatalf("ParseJWKS() error = %v", err)
	}
	want := map[string]string{"rsa-1": "RS256", "ec-1": "ES256", "ed-1": "EdDSA"}
	if len(keys) != len(want) {
		t.Errorf("ParseJWKS() kept %d keys, want %d", len(keys), len(want))
	}
	for kid, alg := range want {
		if keys[kid].Algorithm != alg {
			t.Errorf("ParseJWKS()[%s].Algorithm = %q, want %q", kid, keys[kid].Algorithm, alg)
		}
	}

	bad := map[string][]byte{
		"not JSON":      []byte("{"),
		"bad RSA":       jwksJSON(t, map[string]string{"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}),
		"small RSA":     jwksJSON(t, map[string]string{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}),
		"point off EC":  jwksJSON(t, map[string]string{"kty": "EC", "kid": "e", "crv": "P-256", "x": base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "y": base64.RawURLEncoding.EncodeToString(make([]byte, 32))}),
		"short Ed25519": jwksJSON(t, map[string]string{"kty": "OKP", "kid": "o", "crv": "Ed25519", "x": "AQAB"}),
		"alg mismatch":  jwksJSON(t, map[string]string{"kty": "OKP", "kid": "o", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(k.ed.Public().(ed25519.PublicKey)), "alg": "RS256"}),
		"duplicate kid": jwksJSON(t, toJWK(t, "x", &k.ec.PublicKey), toJWK(t, "x", k.ed.Public())),
	}
	for name, data := range bad {
		if _, err := ParseJWKS(data); err == nil {
			t.Errorf("%s: ParseJWKS() error = nil, want an error", name)
		}
	}
}

// jwksServer serves a key set that tests can change, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func TestJWKSFromURLWithRotation(t *testing.T) {
	checkLeaks(t)
	k := testKeys()
	keys := newJWKSServer(t, jwksJSON(t, toJWK(t, "rsa-1", &k.rsa.PublicKey)))
	jwks, err := NewJWKS(JWKSConfig{URL: keys.URL + "/.well-known/jwks.json", MinRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	v := newJWTVerifier(t, JWTConfig{Keys: jwks})
	srv := httptest.NewServer(v.Middleware(whoami))
	t.Cleanup(srv.Close)
	call := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		drainAndClose(resp.Body)
		return resp.StatusCode
	}

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if got := call(mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims())); got != http.StatusOK {
				t.Errorf("token with a published key: status %d, want 200", got)
			}
		})
	}
	wg.Wait()
	if got := keys.fetches.Load(); got != 1 {
		t.Errorf("JWKS fetches for 20 concurrent calls = %d, want 1", got)
	}

	// The issuer rotates to a new key: the unknown kid causes a fetch.
	keys.set(http.StatusOK, jwksJSON(t, toJWK(t, "rsa-1", &k.rsa.PublicKey), toJWK(t, "ec-2", &k.ec.PublicKey)))
	if got := call(mint(t, jwt.SigningMethodES256, k.ec, "ec-2", claims())); got != http.StatusOK {
		t.Errorf("token with a rotated-in key: status %d, want 200", got)
	}
	if got := keys.fetches.Load(); got != 2 {
		t.Errorf("JWKS fetches after rotation = %d, want 2", got)
	}
	if got := call(mint(t, jwt.SigningMethodES256, k.ec, "nope", claims())); got != http.StatusUnauthorized {
		t.Errorf("token with an unknown kid: status %d, want 401", got)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	checkLeaks(t)
	k := testKeys()
	keys := newJWKSServer(t, nil)
	keys.set(http.StatusInternalServerError, []byte("down"))
	jwks, _ := NewJWKS(JWKSConfig{URL: keys.URL})
	_, err := jwks.Lookup(context.Background(), "rsa-1")
	if !errors.Is(err, ErrKeySetUnavailable) {
		t.Errorf("Lookup() with the JWKS server down error = %v, want ErrKeySetUnavailable", err)
	}
	v := newJWTVerifier(t, JWTConfig{Keys: jwks})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims()))
	if resp := recorded(v.Middleware(whoami), req); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("middleware with keys unavailable: status %d, want 503", resp.StatusCode)
	}
}

// TestJWKSFileRefresh runs in a synctest bubble: a file source needs no network,
// so MaxAge and MinRefresh run on the bubble's clock.
func TestJWKSFileRefresh(t *testing.T) {
	k := testKeys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, path, string(jwksJSON(t, toJWK(t, "ec-1", &k.ec.PublicKey))))
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		jwks, err := NewJWKS(JWKSConfig{File: path, MaxAge: time.Hour, MinRefresh: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(kid string) error {
			_, err := jwks.Lookup(ctx, kid)
			return err
		}
		if err := lookup("ec-1"); err != nil {
			t.Fatalf("Lookup(ec-1) error = %v", err)
		}
		writeFile(t, path, string(jwksJSON(t, toJWK(t, "ed-1", k.ed.Public()), toJWK(t, "ec-1", &k.ec.PublicKey))))
		if err := lookup("ed-1"); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("Lookup(new kid) within MinRefresh of the last fetch error = %v, want ErrUnknownKey (no refetch)", err)
		}
		time.Sleep(time.Minute)
		if err := lookup("ed-1"); err != nil {
			t.Errorf("Lookup(new kid) after MinRefresh = %v, want it found by a refetch", err)
		}
		if err := lookup("ec-1"); err != nil {
			t.Errorf("Lookup(ec-1) = %v, want it found", err)
		}
		// After MaxAge the set is reloaded even for known keys; a failing source
		// keeps the last keys.
		writeFile(t, path, "{broken")
		time.Sleep(time.Hour)
		if err := lookup("ed-1"); err != nil {
			t.Errorf("Lookup() with a broken file after MaxAge = %v, want the cached key", err)
		}
	})
}

func TestNewJWKSConfigErrors(t *testing.T) {
	for _, cfg := range []JWKSConfig{{}, {URL: "https://a", File: "b"}, {URL: "ftp://x"}, {File: "f", MaxAge: -1}} {
		if _, err := NewJWKS(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewJWKS(%+v) error = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"e","x":"AA","y":"AA"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if _, err := k.material(); err != nil {
				t.Fatalf("ParseJWKS kept key %q that is not usable: %v", kid, err)
			}
		}
	})
}

// TestJWKSFetchErrorRedactsURL: a transport error from the JWKS fetch is a
// *url.Error holding the URL, whose query or user information may be a secret.
func TestJWKSFetchErrorRedactsURL(t *testing.T) {
	client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused")
	})}
	jwks, err := NewJWKS(JWKSConfig{URL: "https://user:pa55word@keys.example/jwks?token=s3cret-token", HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	_, err = jwks.Lookup(context.Background(), "rsa-1")
	if !errors.Is(err, ErrKeySetUnavailable) {
		t.Fatalf("Lookup() error = %v, want ErrKeySetUnavailable", err)
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret-token") || strings.Contains(msg, "pa55word") {
		t.Errorf("Lookup() error %q holds a secret of the URL", msg)
	}
}
