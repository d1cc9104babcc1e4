package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://idp.example"
	testAudience = "payments"
)

// testKeys are generated once for all JWT tests.
var testKeys = sync.OnceValue(func() (k struct {
	rsa, rsaOther *rsa.PrivateKey
	ec            *ecdsa.PrivateKey
	ed            ed25519.PrivateKey
	hs            []byte
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	k.hs = []byte("an-hmac-key-of-at-least-32-bytes-for-HS256")
	return k
})

func staticTestKeys() StaticKeys {
	k := testKeys()
	return StaticKeys{
		"rsa-1": {Algorithm: "RS256", Key: &k.rsa.PublicKey},
		"ec-1":  {Algorithm: "ES256", Key: &k.ec.PublicKey},
		"ed-1":  {Algorithm: "EdDSA", Key: k.ed.Public()},
		"hs-1":  {Algorithm: "HS256", Key: NewSecret(string(k.hs))},
	}
}

// mint signs claims with method and key, with kid in the header unless empty.
func mint(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString() error = %v", err)
	}
	return s
}

// claims returns valid claims, changed by edits.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   []string{"other", testAudience},
		"sub":   "orders-service",
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": "payments:write payments:read",
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(name string, v any) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) {
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
	}
}

func newJWTVerifier(t *testing.T, cfg JWTConfig) *JWTVerifier {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = staticTestKeys()
	}
	cfg.Issuer, cfg.Audience = cmpOr(cfg.Issuer, testIssuer), cmpOr(cfg.Audience, testAudience)
	v, err := NewJWTVerifier(cfg)
	if err != nil {
		t.Fatalf("NewJWTVerifier() error = %v", err)
	}
	return v
}

// whoami answers with the subject and scopes of the verified claims.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClaimsFromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, c.Subject+" "+strings.Join(c.Scopes, ","))
})

func TestJWTVerifierThroughServer(t *testing.T) {
	checkLeaks(t)
	k := testKeys()
	v := newJWTVerifier(t, JWTConfig{
		Algorithms: []string{"RS256", "ES256", "EdDSA", "HS256"},
		Leeway:     30 * time.Second,
		Realm:      "payments",
	})
	srv := httptest.NewServer(v.Middleware(whoami))
	t.Cleanup(srv.Close)

	hsWithRSAPublicKey := func() string {
		// The classic algorithm confusion: an HS256 token "signed" with the RSA
		// public key as the HMAC secret, naming the RSA key.
		der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		return mint(t, jwt.SigningMethodHS256, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "rsa-1", claims())
	}
	tampered := func() string {
		tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims())
		parts := strings.Split(tok, ".")
		payload, _ := jwt.NewParser().DecodeSegment(parts[1])
		payload = []byte(strings.Replace(string(payload), "orders-service", "admin-service!", 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		return strings.Join(parts, ".")
	}
	none := func() string {
		return mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claims())
	}

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"RS256", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims()), nil},
		{"ES256", mint(t, jwt.SigningMethodES256, k.ec, "ec-1", claims()), nil},
		{"EdDSA", mint(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", claims()), nil},
		{"HS256", mint(t, jwt.SigningMethodHS256, k.hs, "hs-1", claims()), nil},
		{"single audience", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("aud", testAudience))), nil},
		{"expired within leeway", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", time.Now().Add(-10*time.Second).Unix()))), nil},
		{"expired", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", time.Now().Add(-time.Minute).Unix()))), ErrExpired},
		{"no exp", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", nil))), ErrInvalidToken},
		{"not yet valid", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("nbf", time.Now().Add(time.Minute).Unix()))), ErrNotYetValid},
		{"issued in the future", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("iat", time.Now().Add(time.Minute).Unix()))), ErrNotYetValid},
		{"wrong audience", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("aud", "billing"))), ErrInvalidAudience},
		{"no audience", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("aud", nil))), ErrInvalidToken},
		{"wrong issuer", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("iss", "https://evil.example"))), ErrInvalidIssuer},
		{"unknown kid", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-9", claims()), ErrUnknownKey},
		{"no kid", mint(t, jwt.SigningMethodRS256, k.rsa, "", claims()), ErrUnknownKey},
		{"other RSA key", mint(t, jwt.SigningMethodRS256, k.rsaOther, "rsa-1", claims()), ErrSignatureMismatch},
		{"tampered payload", tampered(), ErrSignatureMismatch},
		{"alg none", none(), ErrAlgorithmNotAllowed},
		{"HS256 with the RSA public key", hsWithRSAPublicKey(), ErrAlgorithmNotAllowed},
		{"RS256 naming the HMAC key", mint(t, jwt.SigningMethodRS256, k.rsa, "hs-1", claims()), ErrAlgorithmNotAllowed},
		{"algorithm not allowed", mint(t, jwt.SigningMethodRS384, k.rsa, "rsa-1", claims()), ErrAlgorithmNotAllowed},
		{"ES256 naming the EdDSA key", mint(t, jwt.SigningMethodES256, k.ec, "ed-1", claims()), ErrAlgorithmNotAllowed},
		{"malformed", "not.a.jwt", ErrInvalidToken},
		{"garbage", "garbage", ErrInvalidToken},
	}
	for _, tt := range tests {
		c, err := v.Verify(context.Background(), tt.token)
		if tt.want == nil {
			if err != nil || c.Subject != "orders-service" {
				t.Errorf("%s: Verify() = %v, %v; want claims for orders-service", tt.name, c, err)
			}
		} else if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify() error = %v, want %v and ErrInvalidToken", tt.name, err, tt.want)
		}

		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tt.want == nil {
			if resp.StatusCode != http.StatusOK || string(body) != "orders-service payments:write,payments:read" {
				t.Errorf("%s: server answered %d %q, want 200 with the claims", tt.name, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status = %d, want 401", tt.name, resp.StatusCode)
		}
		www := resp.Header.Get("WWW-Authenticate")
		if !strings.HasPrefix(www, `Bearer realm="payments", error="invalid_token", error_description="`) {
			t.Errorf("%s: WWW-Authenticate = %q, want Bearer invalid_token with a description", tt.name, www)
		}
		if strings.Contains(www, tt.token) || strings.Contains(string(body), tt.token) {
			t.Errorf("%s: the answer echoes the token", tt.name)
		}
		var p problem
		if err := json.Unmarshal(body, &p); err != nil || p.Status != 401 || p.Error != "invalid_token" || p.Detail == "" ||
			resp.Header.Get("Content-Type") != ProblemContentType {
			t.Errorf("%s: body = %s (%s), want a problem+json with status 401", tt.name, body, resp.Header.Get("Content-Type"))
		}
	}
}

func TestJWTMiddlewareWithoutToken(t *testing.T) {
	v := newJWTVerifier(t, JWTConfig{})
	for _, auth := range []string{"", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"} {
		req := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp := recorded(v.Middleware(whoami), req)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("Authorization %q: %d, WWW-Authenticate %q; want 401 and a bare Bearer challenge",
				auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestJWTMiddlewareLogsWithoutToken(t *testing.T) {
	var buf bytes.Buffer
	v := newJWTVerifier(t, JWTConfig{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	token := mint(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(set("aud", "billing")))
	req := httptest.NewRequest("GET", "/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	recorded(v.Middleware(whoami), req)
	out := buf.String()
	if !strings.Contains(out, "invalid audience") || !strings.Contains(out, "path=/orders") {
		t.Errorf("log = %s, want the reason and the path", out)
	}
	for _, part := range strings.Split(token, ".") {
		if strings.Contains(out, part) {
			t.Errorf("log = %s, contains part of the token", out)
		}
	}
}

func TestJWTRequiredScopes(t *testing.T) {
	k := testKeys()
	v := newJWTVerifier(t, JWTConfig{RequiredScopes: []string{"payments:write", "payments:refund"}})
	tests := []struct {
		name   string
		claims jwt.MapClaims
		status int
	}{
		{"missing one", claims(), http.StatusForbidden},
		{"scope claim", claims(set("scope", "payments:refund payments:write")), http.StatusOK},
		{"scp array", claims(set("scope", nil), set("scp", []string{"payments:write", "payments:refund"})), http.StatusOK},
		{"none", claims(set("scope", nil)), http.StatusForbidden},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", tt.claims))
		resp := recorded(v.Middleware(whoami), req)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status = %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		if tt.status == http.StatusForbidden {
			want := `Bearer error="insufficient_scope", error_description="token lacks the required scope", scope="payments:write payments:refund"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("%s: WWW-Authenticate = %q, want %q", tt.name, got, want)
			}
		}
	}
	c, _ := v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims()))
	err := v.CheckScopes(c)
	var se *ScopeError
	if !errors.Is(err, ErrInsufficientScope) || !errors.As(err, &se) || len(se.Missing) != 1 || se.Missing[0] != "payments:refund" {
		t.Errorf("CheckScopes() = %v, want a ScopeError missing payments:refund", err)
	}
}

func TestJWTClaims(t *testing.T) {
	k := testKeys()
	v := newJWTVerifier(t, JWTConfig{})
	c, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-1",
		claims(set("tenant", "acme"), set("n", 12345678901234567))))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != testIssuer || c.Raw["tenant"] != "acme" || c.Raw["n"] != json.Number("12345678901234567") ||
		!c.HasScope("payments:read") || c.HasScope("payments") {
		t.Errorf("claims = %+v", c)
	}
}

func TestNewJWTVerifierConfigErrors(t *testing.T) {
	keys := staticTestKeys()
	tests := []struct {
		cfg   JWTConfig
		field string
	}{
		{JWTConfig{Issuer: "i", Audience: "a"}, "JWTConfig.Keys"},
		{JWTConfig{Keys: keys, Audience: "a"}, "JWTConfig.Issuer"},
		{JWTConfig{Keys: keys, Issuer: "i"}, "JWTConfig.Audience"},
		{JWTConfig{Keys: keys, Issuer: "i", Audience: "a", Algorithms: []string{"none"}}, "JWTConfig.Algorithms"},
		{JWTConfig{Keys: keys, Issuer: "i", Audience: "a", Algorithms: []string{"HS1"}}, "JWTConfig.Algorithms"},
		{JWTConfig{Keys: keys, Issuer: "i", Audience: "a", Leeway: -1}, "JWTConfig.Leeway"},
	}
	for _, tt := range tests {
		_, err := NewJWTVerifier(tt.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("NewJWTVerifier(%+v) error = %v, want a ConfigError for %s", tt.cfg, err, tt.field)
		}
	}
}

func TestVerificationKeyMaterial(t *testing.T) {
	k := testKeys()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name string
		key  VerificationKey
		ok   bool
	}{
		{"RSA public", VerificationKey{"RS256", &k.rsa.PublicKey}, true},
		{"RSA private", VerificationKey{"PS256", k.rsa}, true},
		{"RSA 1024", VerificationKey{"RS256", &small.PublicKey}, false},
		{"EC on its curve", VerificationKey{"ES256", k.ec}, true},
		{"EC on another curve", VerificationKey{"ES256", &p384.PublicKey}, false},
		{"Ed25519 private", VerificationKey{"EdDSA", k.ed}, true},
		{"HS []byte", VerificationKey{"HS256", k.hs}, true},
		{"HS short", VerificationKey{"HS256", []byte("short")}, false},
		{"HS with an RSA key", VerificationKey{"HS256", &k.rsa.PublicKey}, false},
		{"RS with bytes", VerificationKey{"RS256", k.hs}, false},
		{"none", VerificationKey{"none", jwt.UnsafeAllowNoneSignatureType}, false},
	}
	for _, tt := range tests {
		if _, err := tt.key.material(); (err == nil) != tt.ok {
			t.Errorf("%s: material() error = %v, want ok = %v", tt.name, err, tt.ok)
		}
	}
}
