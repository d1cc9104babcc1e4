package config

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/rampart-go/rampart/auth"
)

// TestClientRereadsRotatedSecrets: a client built from the file signs with the
// HMAC key its variable holds now, not the one it held when the client was
// built.
func TestClientRereadsRotatedSecrets(t *testing.T) {
	key1, key2 := "0123456789abcdef0123456789abcdef-key-one", "fedcba9876543210fedcba9876543210-key-two"
	var verifier atomic.Pointer[auth.HMACVerifier]
	use := func(key string) {
		v, err := auth.NewHMACVerifier(auth.HMACVerifierConfig{Keys: map[string]auth.Secret{"svc": auth.NewSecret(key)}})
		if err != nil {
			t.Fatal(err)
		}
		verifier.Store(v)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verifier.Load().Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	t.Setenv("CONFIG_TEST_HMAC_KEY", key1)
	cfg := mustParse(t, `
clients:
  signed:
    base_url: `+srv.URL+`
    retry: {max_attempts: 1}
    auth:
      hmac: {key_id: svc, key: {env: CONFIG_TEST_HMAC_KEY}}
`)
	live, err := Build(cfg, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := live.Client("signed")
	t.Cleanup(c.CloseIdleConnections)
	status := func() int {
		t.Helper()
		resp, err := c.HTTPClient().Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	use(key1)
	if got := status(); got != http.StatusOK {
		t.Fatalf("signed with key 1, verified with key 1: %d, want 200", got)
	}
	t.Setenv("CONFIG_TEST_HMAC_KEY", key2) // the rotation
	if got := status(); got != http.StatusUnauthorized {
		t.Errorf("after the rotation, verified with key 1: %d, want 401 (signed with key 2)", got)
	}
	use(key2)
	if got := status(); got != http.StatusOK {
		t.Errorf("after the rotation, verified with key 2: %d, want 200", got)
	}
}
