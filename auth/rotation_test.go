package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSecret writes v to path, replacing the file (a rotation).
func writeSecret(t *testing.T, path, v string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestHMACSignerRereadsItsKey: a signer whose key is a file signs with the key
// the file holds now; a key that cannot be loaded, or is too short, fails the
// request without showing it.
func TestHMACSignerRereadsItsKey(t *testing.T) {
	checkLeaks(t)
	path := filepath.Join(t.TempDir(), "hmac-key")
	writeSecret(t, path, hmacKey1.Reveal())
	signer, err := NewHMACSigner(HMACSignerConfig{KeyID: "svc", Key: NewFileSecret(path, time.Nanosecond)})
	if err != nil {
		t.Fatalf("NewHMACSigner(file key) error = %v", err)
	}
	// Two servers, each knowing one of the keys under the same ID.
	servers := map[string]*httptest.Server{}
	for name, key := range map[string]Secret{"key1": hmacKey1, "key2": hmacKey2} {
		srv := httptest.NewServer(newHMACVerifier(t, HMACVerifierConfig{Keys: map[string]Secret{"svc": key}}).Middleware(echoSigned))
		t.Cleanup(srv.Close)
		servers[name] = srv
	}
	client := &http.Client{Transport: NewTransport(nil, signer)}
	status := func(server string) int {
		t.Helper()
		resp, err := client.Post(servers[server].URL, "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatalf("Post(%s) error = %v", server, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := status("key1"), status("key2"); a != http.StatusOK || b != http.StatusUnauthorized {
		t.Errorf("before the rotation: key1 server %d, key2 server %d; want 200, 401", a, b)
	}
	writeSecret(t, path, hmacKey2.Reveal()+"-longer") // another size: a change a stat sees at once
	hmacKey2Longer := NewSecret(hmacKey2.Reveal() + "-longer")
	srv := httptest.NewServer(newHMACVerifier(t, HMACVerifierConfig{Keys: map[string]Secret{"svc": hmacKey2Longer}}).Middleware(echoSigned))
	t.Cleanup(srv.Close)
	servers["key2"] = srv
	if a, b := status("key1"), status("key2"); a != http.StatusUnauthorized || b != http.StatusOK {
		t.Errorf("after the rotation: key1 server %d, key2 server %d; want 401, 200", a, b)
	}

	writeSecret(t, path, "short-key")
	req := httptest.NewRequest("GET", "/", nil)
	if err := signer.Apply(context.Background(), req); !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), "short-key") {
		t.Errorf("Apply() with a short key in the file = %v; want ErrInvalidConfig without the key", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := signer.Apply(context.Background(), req); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Apply() with the key file gone = %v; want ErrNoSecret", err)
	}
	if _, err := NewHMACSigner(HMACSignerConfig{KeyID: "svc", Key: EnvSecret("RAMPART_TEST_UNSET_HMAC_KEY")}); err != nil {
		t.Errorf("NewHMACSigner(env key not set yet) = %v; want nil (loaded when used)", err)
	}
}

// TestClientCredentialsRereadsTheSecret: the client secret is loaded for each
// token request, so that a rotated secret is used from the next token on.
func TestClientCredentialsRereadsTheSecret(t *testing.T) {
	checkLeaks(t)
	ts := newTokenServer(t, time.Hour)
	t.Setenv("RAMPART_TEST_CLIENT_SECRET", "an-old-secret-value")
	c := ts.credentials(t, ClientCredentialsConfig{ClientSecret: EnvSecret("RAMPART_TEST_CLIENT_SECRET")})
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrTokenFetch) || strings.Contains(err.Error(), "an-old-secret-value") {
		t.Fatalf("Token() with the old secret = %v; want ErrTokenFetch without the secret", err)
	}
	t.Setenv("RAMPART_TEST_CLIENT_SECRET", testClientSecret)
	if tok, err := c.Token(context.Background()); err != nil || tok.AccessToken == "" {
		t.Fatalf("Token() after the rotation = %v, %v; want a token", tok, err)
	}
	os.Unsetenv("RAMPART_TEST_CLIENT_SECRET")
	c = ts.credentials(t, ClientCredentialsConfig{ClientSecret: EnvSecret("RAMPART_TEST_CLIENT_SECRET")})
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrTokenFetch) || !errors.Is(err, ErrNoSecret) {
		t.Errorf("Token() with the secret's variable unset = %v; want ErrTokenFetch and ErrNoSecret", err)
	}
}
