package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// echoHeaders answers with the value of the headers named in the "h" query
// parameter, one per line.
var echoHeaders = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	for _, h := range r.URL.Query()["h"] {
		io.WriteString(w, h+"="+r.Header.Get(h)+"\n")
	}
})

func get(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("Get(%s) error = %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStaticCredentials(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(echoHeaders)
	t.Cleanup(srv.Close)
	custom, err := NewStatic(StaticConfig{Secret: NewSecret("k3y"), Header: "x-custom-key"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := NewStatic(StaticConfig{Secret: NewSecret("t0k"), Scheme: "Token"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		creds  *Static
		header string
		want   string
	}{
		{"Bearer", Bearer(NewSecret("t0k3n")), "Authorization", "Bearer t0k3n"},
		{"APIKey", APIKey(NewSecret("k3y")), "X-Api-Key", "k3y"},
		{"custom header", custom, "X-Custom-Key", "k3y"},
		{"custom scheme", token, "Authorization", "Token t0k"},
	}
	for _, tt := range tests {
		client := &http.Client{Transport: NewTransport(nil, tt.creds)}
		_, body := get(t, client, srv.URL+"?h="+tt.header)
		if want := tt.header + "=" + tt.want + "\n"; body != want {
			t.Errorf("%s: server saw %q, want %q", tt.name, body, want)
		}
	}
}

func TestNewStaticConfigErrors(t *testing.T) {
	tests := []struct {
		cfg   StaticConfig
		field string
	}{
		{StaticConfig{}, "StaticConfig.Secret"},
		{StaticConfig{Secret: NewSecret("x"), Header: "bad header"}, "StaticConfig.Header"},
		{StaticConfig{Secret: NewSecret("x"), Scheme: "Bad Scheme"}, "StaticConfig.Scheme"},
	}
	for _, tt := range tests {
		_, err := NewStatic(tt.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("NewStatic(%+v) error = %v, want a ConfigError for %s", tt.cfg, err, tt.field)
		}
	}
}

func TestStaticTokenFromFileFollowsRotation(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(echoHeaders)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, "token-v1\n")
	// A nanosecond interval checks the file on every request; the synctest test
	// in secret_test.go covers the interval itself.
	client := &http.Client{Transport: NewTransport(nil, Bearer(NewFileSecret(path, 1)))}
	u := srv.URL + "?h=Authorization"
	if _, body := get(t, client, u); body != "Authorization=Bearer token-v1\n" {
		t.Errorf("first request sent %q, want the token from the file", body)
	}
	writeFile(t, path, "token-v2-rotated\n")
	if _, body := get(t, client, u); body != "Authorization=Bearer token-v2-rotated\n" {
		t.Errorf("request after rotation sent %q, want the new token", body)
	}
}

func TestStaticTokenFromEnv(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(echoHeaders)
	t.Cleanup(srv.Close)
	t.Setenv("RAMPART_TEST_API_KEY", "env-key")
	client := &http.Client{Transport: NewTransport(nil, APIKey(EnvSecret("RAMPART_TEST_API_KEY")))}
	if _, body := get(t, client, srv.URL+"?h=X-Api-Key"); body != "X-Api-Key=env-key\n" {
		t.Errorf("server saw %q, want the key from the environment", body)
	}
}

// closeCounter counts Close calls on a request body.
type closeCounter struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestTransportApplyErrorClosesBody(t *testing.T) {
	tr := NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Error("base transport called despite the credentials error")
		return nil, errors.New("unreachable")
	}), Bearer(EnvSecret("RAMPART_TEST_UNSET_VARIABLE")))
	body := &closeCounter{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://example.invalid/", body)
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, ErrNoSecret) {
		t.Errorf("RoundTrip() error = %v, want ErrNoSecret", err)
	}
	if body.closed.Load() == 0 {
		t.Errorf("request body not closed after the credentials failed")
	}

	var nilCreds Transport
	body = &closeCounter{Reader: strings.NewReader("x")}
	req, _ = http.NewRequest(http.MethodPost, "http://example.invalid/", body)
	if _, err := nilCreds.RoundTrip(req); !errors.Is(err, ErrInvalidConfig) || body.closed.Load() == 0 {
		t.Errorf("RoundTrip() without credentials = %v (body closed %d times), want ErrInvalidConfig and a closed body", err, body.closed.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportDoesNotChangeCallerRequest(t *testing.T) {
	var seen *http.Request
	tr := NewTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}), Bearer(NewSecret("tok")))
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
	req.Header.Set("X-Request-ID", "1")
	if _, err := tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if seen == req || seen.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("base transport got the caller's request or no credentials")
	}
	if got := req.Header.Get("Authorization"); got != "" || len(req.Header) != 1 {
		t.Errorf("caller's request headers = %v, want them unchanged", req.Header)
	}
}

func TestTransportCredentialsNotSentToOtherOriginOnRedirect(t *testing.T) {
	checkLeaks(t)
	var otherSaw atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherSaw.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Api-Key"))
	}))
	t.Cleanup(other.Close)
	var sameSaw atomic.Value
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/landing", http.StatusFound)
		default:
			sameSaw.Store(r.Header.Get("Authorization"))
		}
	}))
	t.Cleanup(origin.Close)
	client := &http.Client{Transport: NewTransport(nil, Bearer(NewSecret("top-secret")))}

	if status, _ := get(t, client, origin.URL+"/away"); status != http.StatusOK {
		t.Fatalf("redirected Get() status = %d, want 200", status)
	}
	if got := otherSaw.Load(); got != "|" {
		t.Errorf("other origin saw credentials %q, want none", got)
	}
	if status, _ := get(t, client, origin.URL+"/here"); status != http.StatusOK {
		t.Fatalf("redirected Get() status = %d, want 200", status)
	}
	if got := sameSaw.Load(); got != "Bearer top-secret" {
		t.Errorf("same origin after redirect saw %q, want the credentials", got)
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://a.example/x", "http://a.example:80"},
		{"http://a.example:80/x", "http://a.example:80"},
		{"HTTPS://A.example/x", "https://a.example:443"},
		{"https://a.example:8443", "https://a.example:8443"},
		{"http://[::1]:8080/", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.in)
		if got := origin(u); got != tt.want {
			t.Errorf("origin(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestStaticApplyRejectsUnsendableSecret(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
	err := Bearer(NewSecret("line1\r\nX-Injected: 1")).Apply(context.Background(), req)
	if !errors.Is(err, ErrNoSecret) || strings.Contains(err.Error(), "line1") {
		t.Errorf("Apply(secret with CRLF) error = %v, want ErrNoSecret without the secret", err)
	}
}
