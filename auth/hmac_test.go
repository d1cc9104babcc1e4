package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	hmacKey1 = NewSecret("0123456789abcdef0123456789abcdef-key-one")
	hmacKey2 = NewSecret("fedcba9876543210fedcba9876543210-key-two")
)

func newSigner(t *testing.T, keyID string, key Secret) *HMACSigner {
	t.Helper()
	s, err := NewHMACSigner(HMACSignerConfig{KeyID: keyID, Key: key})
	if err != nil {
		t.Fatalf("NewHMACSigner() error = %v", err)
	}
	return s
}

func newHMACVerifier(t *testing.T, cfg HMACVerifierConfig) *HMACVerifier {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = map[string]Secret{"svc-1": hmacKey1, "svc-2": hmacKey2}
	}
	v, err := NewHMACVerifier(cfg)
	if err != nil {
		t.Fatalf("NewHMACVerifier() error = %v", err)
	}
	return v
}

// echoSigned is the handler behind the verifier: it answers with the key ID and
// the body it got.
var echoSigned = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, _ := HMACKeyIDFromContext(r.Context())
	b, _ := io.ReadAll(r.Body)
	io.WriteString(w, id+":"+string(b))
})

func TestHMACSignedRequestsThroughServer(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(newHMACVerifier(t, HMACVerifierConfig{}).Middleware(echoSigned))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: NewTransport(nil, newSigner(t, "svc-1", hmacKey1))}

	tests := []struct {
		name, method, path string
		body               io.Reader
		want               string
	}{
		{"GET", http.MethodGet, "/v1/orders?b=2&a=x+y&a=1", nil, "svc-1:"},
		{"POST with GetBody", http.MethodPost, "/v1/payments", strings.NewReader(`{"amount":100}`), `svc-1:{"amount":100}`},
		{"POST without GetBody", http.MethodPost, "/v1/payments", io.NopCloser(strings.NewReader("streamed")), "svc-1:streamed"},
		{"escaped path", http.MethodPut, "/v1/a%2Fb/c%20d", bytes.NewReader([]byte{0, 1, 2}), "svc-1:\x00\x01\x02"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, tt.body)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: Do() error = %v", tt.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != tt.want {
			t.Errorf("%s: response = %d %q, want 200 %q", tt.name, resp.StatusCode, b, tt.want)
		}
	}
}

// signed returns a request signed with key at ts.
func signed(t *testing.T, s *HMACSigner, method, target, body string, ts time.Time) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if err := s.Sign(req, ts); err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	return req
}

// recorded sends req to h and returns the response.
func recorded(h http.Handler, req *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestHMACVerifierRejects(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	s1 := newSigner(t, "svc-1", hmacKey1)
	unknown := newSigner(t, "svc-9", hmacKey1)
	wrongKey := newSigner(t, "svc-1", hmacKey2)
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		want   error
	}{
		{"not signed", func() *http.Request {
			return httptest.NewRequest("GET", "/x", nil)
		}, 401, ErrMissingCredentials},
		{"malformed", func() *http.Request {
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header.Set(SignatureHeader, "keyId=svc-1")
			return r
		}, 401, ErrMalformedSignature},
		{"expired", func() *http.Request {
			return signed(t, s1, "GET", "/x", "", now.Add(-5*time.Minute-time.Second))
		}, 401, ErrExpired},
		{"from the future", func() *http.Request {
			return signed(t, s1, "GET", "/x", "", now.Add(5*time.Minute+time.Second))
		}, 401, ErrNotYetValid},
		{"unknown key", func() *http.Request {
			return signed(t, unknown, "GET", "/x", "", now)
		}, 401, ErrUnknownKey},
		{"wrong key", func() *http.Request {
			return signed(t, wrongKey, "GET", "/x", "", now)
		}, 401, ErrSignatureMismatch},
		{"tampered body", func() *http.Request {
			r := signed(t, s1, "POST", "/pay", `{"amount":1}`, now)
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
			return r
		}, 401, ErrDigestMismatch},
		{"tampered body and digest", func() *http.Request {
			r := signed(t, s1, "POST", "/pay", `{"amount":1}`, now)
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
			r.Header.Del(DigestHeader)
			return r
		}, 401, ErrSignatureMismatch},
		{"tampered path", func() *http.Request {
			r := signed(t, s1, "GET", "/accounts/1", "", now)
			r.URL.Path = "/accounts/2"
			return r
		}, 401, ErrSignatureMismatch},
		{"tampered query", func() *http.Request {
			r := signed(t, s1, "GET", "/x?amount=1", "", now)
			r.URL.RawQuery = "amount=100"
			return r
		}, 401, ErrSignatureMismatch},
		{"tampered method", func() *http.Request {
			r := signed(t, s1, "GET", "/x", "", now)
			r.Method = "DELETE"
			return r
		}, 401, ErrSignatureMismatch},
		{"tampered timestamp", func() *http.Request {
			r := signed(t, s1, "GET", "/x", "", now)
			sig, _ := ParseSignature(r.Header.Get(SignatureHeader))
			sig.Timestamp = sig.Timestamp.Add(time.Second)
			r.Header.Set(SignatureHeader, sig.String())
			r.Header.Del(DateHeader)
			return r
		}, 401, ErrSignatureMismatch},
		{"date header disagrees", func() *http.Request {
			r := signed(t, s1, "GET", "/x", "", now)
			r.Header.Set(DateHeader, now.Add(time.Hour).UTC().Format(http.TimeFormat))
			return r
		}, 401, ErrMalformedSignature},
		{"body too large", func() *http.Request {
			return signed(t, s1, "POST", "/x", strings.Repeat("x", 65), now)
		}, 413, ErrBodyTooLarge},
	}
	for _, tt := range tests {
		v := newHMACVerifier(t, HMACVerifierConfig{MaxBodyBytes: 64})
		_, err := v.Verify(tt.req(), now)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify() error = %v, want %v", tt.name, err, tt.want)
		}
		resp := recorded(v.Middleware(echoSigned), tt.req())
		if resp.StatusCode != tt.status {
			t.Errorf("%s: middleware status = %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		if ct := resp.Header.Get("Content-Type"); ct != ProblemContentType {
			t.Errorf("%s: Content-Type = %q, want %q", tt.name, ct, ProblemContentType)
		}
		var p problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Status != tt.status || p.Detail == "" {
			t.Errorf("%s: problem body = %+v, %v; want status %d and a detail", tt.name, p, err, tt.status)
		}
		if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), HMACScheme) {
			t.Errorf("%s: WWW-Authenticate = %q, want the %s scheme", tt.name, resp.Header.Get("WWW-Authenticate"), HMACScheme)
		}
	}
}

func TestHMACVerifierRejectsReplay(t *testing.T) {
	checkLeaks(t)
	v := newHMACVerifier(t, HMACVerifierConfig{})
	srv := httptest.NewServer(v.Middleware(echoSigned))
	t.Cleanup(srv.Close)

	// Capture a signed request on its way out, then send it again as is.
	var captured *http.Request
	capture := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		captured = r.Clone(r.Context())
		if r.GetBody != nil {
			captured.Body, _ = r.GetBody()
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	client := &http.Client{Transport: NewTransport(capture, newSigner(t, "svc-1", hmacKey1))}
	if status, body := get(t, client, srv.URL+"/balance"); status != http.StatusOK || body != "svc-1:" {
		t.Fatalf("signed Get() = %d %q, want 200 %q", status, body, "svc-1:")
	}
	resp, err := http.DefaultTransport.RoundTrip(captured)
	if err != nil {
		t.Fatal(err)
	}
	drainAndClose(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_signature") {
		t.Errorf("replayed request = %d (%s), want 401 invalid_signature", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// Two identical requests in the same second are distinct thanks to the nonce.
	for range 2 {
		if status, _ := get(t, client, srv.URL+"/balance"); status != http.StatusOK {
			t.Errorf("identical signed request = %d, want 200", status)
		}
	}
}

func TestHMACVerifierLogsWithoutSecrets(t *testing.T) {
	var buf bytes.Buffer
	v := newHMACVerifier(t, HMACVerifierConfig{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	req := signed(t, newSigner(t, "svc-1", hmacKey2), "GET", "/x", "", time.Now())
	sig := req.Header.Get(SignatureHeader)
	recorded(v.Middleware(echoSigned), req)
	out := buf.String()
	if !strings.Contains(out, `"key_id":"svc-1"`) || !strings.Contains(out, "signature does not match") {
		t.Errorf("log = %s, want the key ID and the reason", out)
	}
	sigValue := sig[strings.Index(sig, "signature=")+len("signature="):]
	for _, secret := range []string{hmacKey1.Reveal(), hmacKey2.Reveal(), sigValue} {
		if strings.Contains(out, secret) {
			t.Errorf("log = %s, contains %q", out, secret)
		}
	}
}

func TestHMACSignerBodyTooLarge(t *testing.T) {
	s, _ := NewHMACSigner(HMACSignerConfig{KeyID: "k", Key: hmacKey1, MaxBodyBytes: 4})
	for _, body := range []io.Reader{strings.NewReader("12345"), io.NopCloser(strings.NewReader("12345"))} {
		req := httptest.NewRequest("POST", "/", body)
		if body, ok := body.(io.ReadCloser); ok {
			req.Body, req.GetBody = body, nil
		}
		if err := s.Sign(req, time.Now()); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("Sign(5-byte body, limit 4) error = %v, want ErrBodyTooLarge", err)
		}
	}
}

func TestHMACConfigErrors(t *testing.T) {
	signerTests := []struct {
		cfg   HMACSignerConfig
		field string
	}{
		{HMACSignerConfig{Key: hmacKey1}, "HMACSignerConfig.KeyID"},
		{HMACSignerConfig{KeyID: "a,b", Key: hmacKey1}, "HMACSignerConfig.KeyID"},
		{HMACSignerConfig{KeyID: "k"}, "HMACSignerConfig.Key"},
		{HMACSignerConfig{KeyID: "k", Key: NewSecret("short")}, "HMACSignerConfig.Key"},
	}
	for _, tt := range signerTests {
		_, err := NewHMACSigner(tt.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("NewHMACSigner(%+v) error = %v, want a ConfigError for %s", tt.cfg, err, tt.field)
		}
		if err != nil && strings.Contains(err.Error(), hmacKey1.Reveal()) {
			t.Errorf("error %q contains the key", err)
		}
	}
	verifierTests := []HMACVerifierConfig{
		{},
		{Keys: map[string]Secret{"k": NewSecret("short")}},
		{Keys: map[string]Secret{"bad id": hmacKey1}},
		{Keys: map[string]Secret{"k": hmacKey1}, MaxSkew: -1},
	}
	for _, cfg := range verifierTests {
		if _, err := NewHMACVerifier(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewHMACVerifier(%+v) error = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestDigestHeaderMatches(t *testing.T) {
	d := contentDigest(make([]byte, 32))
	tests := []struct {
		values []string
		want   bool
	}{
		{nil, true},
		{[]string{d}, true},
		{[]string{"sha-512=:abc:, " + d}, true},
		{[]string{"SHA-256=" + d[8:]}, true},
		{[]string{"sha-512=:abc:"}, true},
		{[]string{"sha-256=:AAAA:"}, false},
		{[]string{d, "sha-256=:AAAA:"}, false},
	}
	for _, tt := range tests {
		if got := digestHeaderMatches(tt.values, d); got != tt.want {
			t.Errorf("digestHeaderMatches(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

// TestTypedNilSecretSourceIsRefused: a nil pointer in a SecretSource (a
// (*FileSecret)(nil), say) is refused when the credentials are made, with the
// field's name, rather than panicking at the first request.
func TestTypedNilSecretSourceIsRefused(t *testing.T) {
	var file *FileSecret
	check := func(what, field string, err error) {
		t.Helper()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s with a nil *FileSecret = %v, want a ConfigError for %s", what, err, field)
		}
	}
	_, err := NewHMACSigner(HMACSignerConfig{KeyID: "k1", Key: file})
	check("NewHMACSigner", "HMACSignerConfig.Key", err)
	_, err = NewClientCredentials(ClientCredentialsConfig{TokenURL: "https://idp.example/token", ClientID: "c", ClientSecret: file})
	check("NewClientCredentials", "ClientCredentialsConfig.ClientSecret", err)
	_, err = NewStatic(StaticConfig{Secret: file})
	check("NewStatic", "StaticConfig.Secret", err)
}
