package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/auth"
)

const tokenTestSecret = "cl1ent-s3cret"

// secretFile writes the client secret to a file and returns its path.
func secretFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(p, []byte(tokenTestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokenTimeout(t *testing.T) {
	for _, tc := range []struct {
		attempt Duration
		want    time.Duration
	}{
		{Duration(300 * time.Millisecond), 300 * time.Millisecond},
		{Duration(4 * time.Second), 4 * time.Second},
		{Duration(-1), defaultTokenTimeout}, // "off"
	} {
		if got := (ClientConfig{AttemptTimeout: tc.attempt}).tokenTimeout(); got != tc.want {
			t.Errorf("tokenTimeout() with attempt_timeout %v = %v, want %v", tc.attempt, got, tc.want)
		}
	}
}

// A token endpoint that never answers makes the token request fail within the
// client's attempt timeout, even when the call that needs the token has no
// deadline, with an error that names the token endpoint and no secret.
func TestOAuth2TokenRequestBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up, or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	const attempt = 300 * time.Millisecond
	cfg := mustParse(t, `
clients:
  api:
    base_url: https://api.example
    attempt_timeout: 300ms
    auth:
      oauth2: {token_url: "`+srv.URL+`/token?tenant=qu3ry-s3cret", client_id: svc, client_secret: {file: `+secretFile(t)+`}}
`)
	o, err := cfg.Clients["api"].HTTPXOptions()
	if err != nil {
		t.Fatal(err)
	}
	rt := o.AuthTransport(roundTripperFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("the request was sent without a token")
	}))
	// No deadline of the caller's: only the token client bounds the request.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.example/orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- result{err, time.Since(start)}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * attempt): // a guard, not a synchronisation: the request should end by itself
		t.Fatalf("token request still running after %v; want it to fail within attempt_timeout %v", 10*attempt, attempt)
	}

	if res.err == nil {
		t.Fatal("RoundTrip with a hanging token endpoint = nil error; want a token request error")
	}
	if !errors.Is(res.err, auth.ErrTokenFetch) {
		t.Errorf("RoundTrip error = %v; want an auth.ErrTokenFetch", res.err)
	}
	var ne net.Error
	if !errors.As(res.err, &ne) || !ne.Timeout() {
		t.Errorf("RoundTrip error = %v; want a timeout", res.err)
	}
	if res.elapsed < attempt/2 || res.elapsed > 5*attempt {
		t.Errorf("token request failed after %v; want about attempt_timeout %v", res.elapsed, attempt)
	}
	msg := res.err.Error()
	if want := "token request to " + srv.URL + "/token "; !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	for _, secret := range []string{tokenTestSecret, "qu3ry-s3cret"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows the secret %q", msg, secret)
		}
	}
}

// The token requests go through the client's TLS settings: a token endpoint
// whose certificate verifies only against the client's ca_file is trusted, and
// sees the client certificate.
func TestOAuth2TokenRequestUsesClientTLS(t *testing.T) {
	var tokenRequests, clientCerts atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			tokenRequests.Add(1)
			if len(r.TLS.PeerCertificates) > 0 && r.TLS.PeerCertificates[0].Subject.CommonName == "svc" {
				clientCerts.Add(1)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})
		case "/orders":
			if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
				http.Error(w, "Authorization "+got, http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, "ok")
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writePEM(t, ca, "CERTIFICATE", srv.Certificate().Raw)
	certFile, keyFile := clientCertificate(t, dir, "svc")
	cfg := mustParse(t, `
clients:
  api:
    base_url: `+srv.URL+`
    retry: {max_attempts: 1}
    tls: {cert_file: `+certFile+`, key_file: `+keyFile+`, ca_file: `+ca+`}
    auth:
      oauth2: {token_url: "`+srv.URL+`/token", client_id: svc, client_secret: {file: `+secretFile(t)+`}}
`)
	live, err := Build(cfg, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := live.Client("api")
	defer c.CloseIdleConnections()
	resp, err := c.HTTPClient().Get(srv.URL + "/orders")
	if err != nil {
		t.Fatalf("GET /orders through a client whose token endpoint needs its ca_file: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET /orders = %d %q; want 200 ok", resp.StatusCode, body)
	}
	if n, certs := tokenRequests.Load(), clientCerts.Load(); n != 1 || certs != 1 {
		t.Errorf("token endpoint got %d requests, %d with the client certificate; want 1 with it", n, certs)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientCertificate writes a self-signed client certificate for cn and its key
// in dir, and returns their paths.
func clientCertificate(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}
